"""`carpswitch history [--json] [-n N] [ID]`: past transitions with per-step timings.

With ID (or a prefix of it that only one transition has, as git takes commit ids), one
transition's timeline: each step's start offset from the transition's start, duration,
outcome and detail, rollback steps marked `undo`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from carpswitch.commands.transition import format_step
from carpswitch.config import load_config
from carpswitch.engine.journal import Journal
from carpswitch.exitcodes import ExitCode
from carpswitch.model import StepResult, TransitionRecord
from carpswitch.report import duration, table


def run_history(
    config_path: str | None, count: int, as_json: bool, record_id: str | None = None
) -> int:
    """Print the last `count` transitions, oldest first, or the one `record_id` names;
    `count` < 1 is a usage error (64), an ID no transition (or more than one) has is 1."""
    if count < 1:
        print(f"carpswitch: history: -n must be at least 1, not {count}", file=sys.stderr)
        return ExitCode.USAGE
    config = load_config(config_path)
    every = Journal(config.paths.state_dir).records()
    if record_id is not None:
        return _one(every, record_id, as_json)
    records = every[-count:]
    for record in records:
        if as_json:
            print(record.model_dump_json())
            continue
        took = duration(record)
        shown = f"{took:.2f}s" if took is not None else "running"
        started = record.started_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{started}  {record.kind} {record.group}: {record.outcome} in {shown}")
        print(f"  id {record.id}, trigger: {record.trigger}")
        for result in record.steps:
            print(format_step(result))
        for result in record.undo:
            print(format_step(result, undo=True))
    if not records and not as_json:
        print("no transitions journaled yet")
    return ExitCode.OK


def find(records: list[TransitionRecord], wanted: str) -> tuple[TransitionRecord | None, str]:
    """The record whose id is `wanted` or starts with it, else None and why not."""
    exact = [r for r in records if r.id == wanted]
    matches = exact or [r for r in records if wanted and r.id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0], ""
    if not matches:
        return None, f"no transition {wanted}"
    ids = ", ".join(sorted({r.id for r in matches}))
    return None, f"{wanted} is the start of more than one transition id: {ids}"


def timeline(record: TransitionRecord) -> dict[str, Any]:
    """`history --json ID`: the record's header and its steps in the order they ran."""
    took = duration(record)
    return {
        "id": record.id,
        "kind": record.kind,
        "group": record.group,
        "trigger": record.trigger,
        "reason": record.reason,
        "outcome": record.outcome,
        "started_at": record.started_at.isoformat(),
        "duration": took,
        "steps": [_row(record, r, False) for r in record.steps]
        + [_row(record, r, True) for r in record.undo],
    }


def _row(record: TransitionRecord, result: StepResult, undo: bool) -> dict[str, Any]:
    return {
        "offset": (result.started_at - record.started_at).total_seconds(),
        "duration": result.duration,
        "step": result.step.kind,
        "resource": result.step.resource,
        "description": result.step.description,
        "outcome": result.outcome,
        "detail": result.detail,
        "undo": undo,
    }


def _one(records: list[TransitionRecord], wanted: str, as_json: bool) -> int:
    record, problem = find(records, wanted)
    if record is None:
        print(f"carpswitch: history: {problem}", file=sys.stderr)
        return ExitCode.FAILED
    document = timeline(record)
    if as_json:
        print(json.dumps(document, indent=2))
        return ExitCode.OK
    took = document["duration"]
    shown = f"{took:.2f}s" if took is not None else "still running"
    print(f"{record.kind} {record.group} {record.outcome} in {shown}  (id {record.id})")
    print(
        f"  started {record.started_at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f", trigger: {record.trigger}"
    )
    print(f"  reason: {record.reason}")
    rows = [["OFFSET", "DURATION", "STEP", "RESOURCE", "OUTCOME", "DETAIL"]]
    for row in document["steps"]:
        rows.append(
            [
                f"+{row['offset']:.3f}s",
                f"{row['duration']:.3f}s",
                ("undo " if row["undo"] else "") + row["step"],
                row["resource"] or "-",
                row["outcome"],
                " ".join(str(row["detail"] or row["description"]).split()),
            ]
        )
    if len(rows) > 1:
        print(table(rows))
    else:
        print("  no step ran")
    return ExitCode.OK
