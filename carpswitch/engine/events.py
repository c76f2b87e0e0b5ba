"""Journal lines: one small JSON object per event of a transition, and their rebuild.

A transition is journaled as a `start` line (its header), one `step` line per step result
(`undo` for the rollback's list) and an `end` line (its outcome): the record is never
written again as a whole, so a transition of N steps costs N small appends, not N records
of growing size. A line without `event` is a whole record: a refusal, which is finished
before it is journaled, or any line carpswitch wrote before issue 9 (each line a whole
record); it stands for its transition in its latest state, so an upgrade keeps history.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from carpswitch.model import (
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)

#: The header fields a `start` line carries (all of a record but its steps and outcome).
HEADER = ("id", "kind", "group", "trigger", "reason", "pid", "started_at")


class Started(BaseModel):
    """`{"event": "start", ...}`: a transition began (its header)."""

    event: Literal["start"]
    id: str
    kind: TransitionKind
    group: str
    trigger: str
    reason: str
    pid: int | None = None
    started_at: datetime

    def record(self) -> TransitionRecord:
        """The transition as it stands before its first step."""
        return TransitionRecord(**self.model_dump(exclude={"event"}))


class StepDone(BaseModel):
    """`{"event": "step", ...}`: one step result, in the steps or the undo list."""

    event: Literal["step"]
    id: str
    undo: bool = False
    result: StepResult


class Ended(BaseModel):
    """`{"event": "end", ...}`: the transition's outcome."""

    event: Literal["end"]
    id: str
    outcome: TransitionOutcome
    ended_at: datetime


def start_line(record: TransitionRecord) -> bytes:
    """The `start` line of `record`."""
    header = record.model_dump_json(include=set(HEADER))
    return b'{"event":"start",' + header[1:].encode() + b"\n"


def step_line(record_id: str, result: StepResult, undo: bool) -> bytes:
    """The `step` line of one result (built by hand: it is the journal's hot path)."""
    head = f'{{"event":"step","id":{json.dumps(record_id)},"undo":{json.dumps(undo)},"result":'
    return head.encode() + result.model_dump_json().encode() + b"}\n"


def end_line(record_id: str, outcome: TransitionOutcome, ended_at: datetime) -> bytes:
    """The `end` line of a transition."""
    fields = {"event": "end", "id": record_id, "outcome": str(outcome), "ended_at": ended_at}
    return json.dumps(fields, default=datetime.isoformat, separators=(",", ":")).encode() + b"\n"


def record_end_line(record: TransitionRecord) -> bytes:
    """The `end` line of a finished `record`."""
    return end_line(record.id, record.outcome, record.ended_at or record.started_at)


def whole_line(record: TransitionRecord) -> bytes:
    """A record finished before it was journaled (a refusal) as one line, the whole of it."""
    return record.model_dump_json().encode() + b"\n"


class Rebuild:
    """Transitions rebuilt from journal lines read oldest first.

    The first `start` of an id makes its record (a header carried into a new file after a
    rotation is the same header again); the first `end` closes it and later ones (an
    `interrupted` mark written after a crash that came once the end was durable) change
    nothing. Events of a transition whose start is gone (rotated away) are dropped.
    """

    def __init__(self) -> None:
        self.records: dict[str, TransitionRecord] = {}

    def add(self, raw: bytes) -> None:
        """Apply one line; ValueError (or UnicodeDecodeError) when it is not an event."""
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        event = data.get("event")
        if event is None:  # a whole record, as written before issue 9
            whole = TransitionRecord.model_validate(data)
            self.records[whole.id] = whole
        elif event == "start":
            started = Started.model_validate(data)
            self.records.setdefault(started.id, started.record())
        elif event == "step":
            done = StepDone.model_validate(data)
            if (record := self.records.get(done.id)) is not None:
                (record.undo if done.undo else record.steps).append(done.result)
        elif event == "end":
            ended = Ended.model_validate(data)
            record = self.records.get(ended.id)
            if record is not None and record.outcome is TransitionOutcome.RUNNING:
                record.outcome, record.ended_at = ended.outcome, ended.ended_at
        else:
            raise ValueError(f"unknown event {event!r}")

    def oldest_first(self) -> list[TransitionRecord]:
        """Every transition rebuilt, by start time."""
        return sorted(self.records.values(), key=lambda r: r.started_at)
