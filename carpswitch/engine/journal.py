"""The transition journal: append-only JSON lines under state_dir, rotated by size.

Each write appends the whole record as it stands (a transition has a few dozen steps, so
this stays small); the last line of a transition id is its current state. A record still
`running` whose process is gone was interrupted by a crash: the next run marks it so and
reconciles from the observed state (every step is idempotent, so a repeated promotion
finishes what the crashed one began, and a demotion undoes it).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import psutil
from pydantic import ValidationError

from carpswitch.model import TransitionOutcome, TransitionRecord

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"


class Journal:
    """Append-only JSON-lines journal with size-based rotation (`journal.jsonl.1` ...)."""

    def __init__(self, state_dir: str, max_bytes: int = 1 << 20, keep: int = 4) -> None:
        self.directory = Path(state_dir)
        self.path = self.directory / JOURNAL_NAME
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()

    def write(self, record: TransitionRecord) -> None:
        """Append the record's current state and make it durable."""
        line = record.model_dump_json() + "\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                self._rotate()
            with open(self.path, "a", encoding="utf-8") as journal:
                journal.write(line)
                journal.flush()
                os.fsync(journal.fileno())

    def _rotate(self) -> None:
        for index in range(self.keep - 1, 0, -1):
            older = self.directory / f"{JOURNAL_NAME}.{index}"
            if older.exists():
                older.rename(self.directory / f"{JOURNAL_NAME}.{index + 1}")
        self.path.rename(self.directory / f"{JOURNAL_NAME}.1")
        oldest = self.directory / f"{JOURNAL_NAME}.{self.keep + 1}"
        oldest.unlink(missing_ok=True)

    def records(self) -> list[TransitionRecord]:
        """Every transition, oldest first, each in its latest state."""
        latest: dict[str, TransitionRecord] = {}
        files = [self.directory / f"{JOURNAL_NAME}.{i}" for i in range(self.keep, 0, -1)]
        for path in [*files, self.path]:
            if not path.exists():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    record = TransitionRecord.model_validate_json(line)
                except ValidationError:
                    log.warning("%s:%d: unreadable journal line skipped", path, number)
                    continue
                latest[record.id] = record
        return sorted(latest.values(), key=lambda r: r.started_at)

    def running(self, records: list[TransitionRecord] | None = None) -> list[TransitionRecord]:
        """Transitions in progress right now (their process is alive), among `records`
        (default: the whole journal)."""
        return [
            r
            for r in (self.records() if records is None else records)
            if r.outcome is TransitionOutcome.RUNNING and _alive(r.pid)
        ]

    def mark_interrupted(self) -> list[TransitionRecord]:
        """Close records left `running` by a process that died; return them."""
        interrupted = []
        for record in self.records():
            if record.outcome is TransitionOutcome.RUNNING and not _alive(record.pid):
                record.outcome = TransitionOutcome.INTERRUPTED
                record.ended_at = datetime.now(UTC)
                self.write(record)
                interrupted.append(record)
        return interrupted


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
