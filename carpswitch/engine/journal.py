"""The transition journal: append-only JSON lines under state_dir, rotated by size.

Each write appends the whole record as it stands (a transition has a few dozen steps, so
this stays small); the last line of a transition id is its current state. A record still
`running` whose process is gone was interrupted by a crash: the next run marks it so and
reconciles from the observed state (every step is idempotent, so a repeated promotion
finishes what the crashed one began, and a demotion undoes it).

A broken journal never stops anything: each line is decoded on its own, and a line that is
not UTF-8 (a stray byte) or not a record (torn by a full disk or a crash) is skipped and
reported; a journal file that is not a regular file is set aside.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import psutil

from carpswitch.model import TransitionOutcome, TransitionRecord
from carpswitch.statefiles import (
    append_line,
    describe_os_error,
    make_private_dir,
    read_state_file,
    set_aside,
)

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
        #: What the last `records()` could not read, one line each (for `status`).
        self.problems: list[str] = []

    def write(self, record: TransitionRecord) -> None:
        """Append the record's current state and make it durable; OSError when it cannot.

        A journal file that is not a regular file (a symlink, a directory) is set aside
        and a new one started.
        """
        line = (record.model_dump_json() + "\n").encode()
        with self._lock:
            make_private_dir(str(self.directory))
            if _size(self.path) + len(line) > self.max_bytes:
                self._rotate()
            try:
                append_line(str(self.path), line)
            except OSError as exc:
                if not _not_a_file(self.path):
                    raise
                moved = set_aside(str(self.path))
                log.warning("%s: %s: set aside as %s", self.path, describe_os_error(exc), moved)
                append_line(str(self.path), line)

    def _rotate(self) -> None:
        for index in range(self.keep - 1, 0, -1):
            older = self.directory / f"{JOURNAL_NAME}.{index}"
            if older.exists():
                older.rename(self.directory / f"{JOURNAL_NAME}.{index + 1}")
        self.path.rename(self.directory / f"{JOURNAL_NAME}.1")
        oldest = self.directory / f"{JOURNAL_NAME}.{self.keep + 1}"
        oldest.unlink(missing_ok=True)

    def records(self) -> list[TransitionRecord]:
        """Every transition, oldest first, each in its latest state.

        Lines that cannot be read are skipped; `problems` says which (logged once per
        process).
        """
        latest: dict[str, TransitionRecord] = {}
        self.problems = []
        files = [self.directory / f"{JOURNAL_NAME}.{i}" for i in range(self.keep, 0, -1)]
        for path in [*files, self.path]:
            try:
                data = read_state_file(str(path))
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._report(f"{path}: unreadable: {describe_os_error(exc)}")
                continue
            for number, raw in enumerate(data.split(b"\n"), 1):
                record = self._parse(path, number, raw)
                if record is not None:
                    latest[record.id] = record
        return sorted(latest.values(), key=lambda r: r.started_at)

    def _parse(self, path: Path, number: int, raw: bytes) -> TransitionRecord | None:
        if not raw.strip():
            return None
        try:
            return TransitionRecord.model_validate_json(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._report(f"{path}:{number}: not UTF-8 (byte {exc.start}): line skipped")
        except ValueError:  # pydantic's ValidationError: torn or not a record
            self._report(f"{path}:{number}: not a transition record: line skipped")
        return None

    def _report(self, problem: str) -> None:
        self.problems.append(problem)
        if problem not in _REPORTED:
            _REPORTED.add(problem)
            log.warning("journal: %s", problem)

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


#: Problems already logged by this process (the daemon reads the journal every round).
_REPORTED: set[str] = set()


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return 0


def _not_a_file(path: Path) -> bool:
    """Whether `path` exists and is something else than a regular file."""
    try:
        return not stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
