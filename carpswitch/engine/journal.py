"""The transition journal: append-only event lines under state_dir, rotated by size.

A transition appends one small line per event (carpswitch.engine.events): its start, each
step result, its end. Only three moments are made durable (fsync): the start (with the
running file, carpswitch.engine.running), the moment before a step changes the node, and
the end; a result in between rides on the next fsync. One fsync covers every line
appended before it, so parallel chains share it (group commit). The file lock is held for
one write(2) only: chains never wait on each other's fsync or on serialising a record.

The file rotates only at the start of a transition (or a refusal) and only when this
journal has no transition open, so a transition's lines stay in one file; `keep` older
files are kept. A record still `running` whose process is gone was interrupted by a
crash: the next actor closes it as `interrupted` from its running file, reading only that
transition's lines.

A broken journal never stops anything: each line is decoded on its own, and a line that is
not UTF-8 (a stray byte) or not an event (torn by a full disk or a crash) is skipped and
reported; a journal file that is not a regular file is set aside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

from carpswitch.engine.events import (
    Rebuild,
    end_line,
    record_end_line,
    start_line,
    step_line,
    whole_line,
)
from carpswitch.engine.running import (
    GroupLast,
    LastFile,
    Position,
    Running,
    RunningFiles,
    alive,
)
from carpswitch.model import StepResult, TransitionOutcome, TransitionRecord
from carpswitch.statefiles import (
    FILE_MODE,
    describe_os_error,
    make_private_dir,
    read_state_file,
    rotate_numbered,
    set_aside,
)

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"
#: How much of the journal's end `status` checks for torn or foreign lines.
TAIL = 1 << 16

_APPEND_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class Journal:
    """Append-only event journal with size-based rotation (`journal.jsonl.1` ...)."""

    def __init__(self, state_dir: str, max_bytes: int = 1 << 20, keep: int = 4) -> None:
        self.directory = Path(state_dir)
        self.path = self.directory / JOURNAL_NAME
        self.max_bytes = max_bytes
        self.keep = keep
        self.running_files = RunningFiles(self.directory)
        self.last_file = LastFile(self.directory)
        self._lock = threading.Lock()  # the descriptor and one write(2)
        self._sync_lock = threading.Lock()  # one fsync at a time; a later one may be done
        self._fd: int | None = None
        self._newline = False  # the file ends in a torn line: end it before appending
        self._open: set[str] = set()  # transitions begun here and not finished
        self._appended = 0  # appends to the open file
        self._synced = 0  # appends covered by an fsync
        #: What the last read could not read, one line each (for `status`, `history`).
        self.problems: list[str] = []

    # -- a transition's lines (the executor's witness) ---------------------------------

    def begin(self, record: TransitionRecord) -> None:
        """Journal `record`'s start durably, with its running file; OSError when it cannot."""
        with self._lock:
            fd = self._file(rotate=not self._open)
            info = os.fstat(fd)
            self._open.add(record.id)
        try:
            self.running_files.write(record, Position(inode=info.st_ino, offset=info.st_size))
            self.append(start_line(record), sync=True)
        except BaseException:
            with contextlib.suppress(OSError):
                self.running_files.remove(record.id)
            self._release(record.id)
            raise

    def add_step(self, record_id: str, result: StepResult, undo: bool = False) -> None:
        """Append one step result (made durable by the next fsync)."""
        self.append(step_line(record_id, result, undo))

    def finish(self, record: TransitionRecord) -> None:
        """Journal the end durably, remember the record as the last, drop its running file."""
        try:
            self.append(record_end_line(record), sync=True)
        finally:
            try:
                self.last_file.update(record, self.problems)
                self.running_files.remove(record.id)
            finally:
                self._release(record.id)

    def write(self, record: TransitionRecord) -> None:
        """Bring the journal to `record` as a whole (refusals; records made elsewhere).

        A running record is begun, a finished one that was begun is finished, any other
        is journaled at once as one whole line. OSError when it cannot be written.
        """
        if record.outcome is TransitionOutcome.RUNNING:
            self.begin(record)
            for result in record.steps:
                self.add_step(record.id, result)
            return
        if record.id in self._open:
            self.finish(record)
            return
        with self._lock:
            self._file(rotate=not self._open)
            self._open.add(record.id)
        try:
            self.append(whole_line(record), sync=True)
            self.last_file.update(record, self.problems)
        finally:
            self._release(record.id)

    # -- the file ------------------------------------------------------------------

    def append(self, data: bytes, sync: bool = False) -> None:
        """Append whole lines in one write(2); with `sync`, make them durable."""
        with self._lock:
            fd = self._file(rotate=False)
            if self._newline:
                data = b"\n" + data
            self._newline = True  # until the write is whole: a torn one must be ended
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            self._newline = False
            self._appended += 1
            mark = self._appended
        if sync:
            self._sync(mark)

    def sync(self) -> None:
        """Make every line appended so far durable (nothing to do when it is already)."""
        self._sync(self._appended)

    def _sync(self, mark: int) -> None:
        with self._sync_lock:
            if self._synced >= mark or self._fd is None:
                return  # another chain's fsync covered these lines
            with self._lock:
                fd, covered = self._fd, self._appended
            os.fsync(fd)
            self._synced = covered

    def _file(self, rotate: bool) -> int:
        """The open journal (held under `_lock`); rotated first when `rotate` and full."""
        if self._fd is not None:
            return self._fd
        make_private_dir(str(self.directory))
        if rotate and _size(self.path) >= self.max_bytes:
            self._rotate()
        try:
            fd = _open_regular(self.path)
        except OSError as exc:
            if not _not_a_file(self.path):
                raise
            moved = set_aside(str(self.path))
            log.warning("%s: %s: set aside as %s", self.path, describe_os_error(exc), moved)
            fd = _open_regular(self.path)
        size = os.fstat(fd).st_size
        self._newline = bool(size) and os.pread(fd, 1, size - 1) != b"\n"
        self._fd = fd
        return fd

    def _release(self, record_id: str) -> None:
        """Forget an open transition; close the file when none is left."""
        with self._lock:
            self._open.discard(record_id)
            if not self._open and self._fd is not None:
                os.close(self._fd)
                self._fd = None
                self._synced = self._appended

    def _rotate(self) -> None:
        rotate_numbered(str(self.path), self.keep)
        oldest = self.directory / f"{JOURNAL_NAME}.{self.keep + 1}"
        oldest.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        """The journal's files, oldest first."""
        rotated = [self.directory / f"{JOURNAL_NAME}.{i}" for i in range(self.keep, 0, -1)]
        return [*rotated, self.path]

    # -- reading -------------------------------------------------------------------

    def records(self) -> list[TransitionRecord]:
        """Every transition, oldest first, each rebuilt from its lines (for `history`).

        Lines that cannot be read are skipped; `problems` says which (logged once per
        process).
        """
        rebuild = Rebuild()
        self.problems = []
        for path in self._files():
            data = self._read(path)
            for number, raw in enumerate(data.split(b"\n"), 1):
                self._apply(rebuild, raw, f"{path}:{number}")
        return rebuild.oldest_first()

    def check_end(self) -> None:
        """Report torn or foreign lines at the journal's end (`status`: never all of it)."""
        start = max(0, _size(self.path) - TAIL)
        data = self._read(self.path, start)
        lines = data.split(b"\n")
        if start:
            lines = lines[1:]  # the first one began before the window
        for number, raw in enumerate(lines, 1):
            where = f"{self.path}:{number}" if not start else f"{self.path} near byte {start}"
            self._apply(Rebuild(), raw, where)

    def _read(self, path: Path, offset: int = 0) -> bytes:
        try:
            return read_state_file(str(path), offset)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            self._report(f"{path}: unreadable: {describe_os_error(exc)}")
            return b""

    def _apply(self, rebuild: Rebuild, raw: bytes, where: str) -> None:
        if not raw.strip():
            return
        try:
            rebuild.add(raw)
        except UnicodeDecodeError as exc:
            self._report(f"{where}: not UTF-8 (byte {exc.start}): line skipped")
        except ValueError:  # JSON or pydantic's ValidationError: torn or not an event
            self._report(f"{where}: not a journal record: line skipped")

    def _report(self, problem: str) -> None:
        self.problems.append(problem)
        if problem not in _REPORTED:
            _REPORTED.add(problem)
            log.warning("journal: %s", problem)

    def transition(self, entry: Running) -> TransitionRecord:
        """A running transition as its lines tell (its header alone when they are gone)."""
        return self._lines_of(entry) or entry.record.model_copy(deep=True)

    def _lines_of(self, entry: Running) -> TransitionRecord | None:
        """The transition of `entry` rebuilt from its lines, read from where they begin."""
        wanted = entry.record.id
        for path in reversed(self._files()):
            try:
                if path.lstat().st_ino != entry.journal.inode:
                    continue
                data = read_state_file(str(path), entry.journal.offset)
            except OSError:
                continue
            rebuild = Rebuild()
            for raw in data.split(b"\n"):
                if wanted.encode() in raw:
                    with contextlib.suppress(ValueError):
                        rebuild.add(raw)
            return rebuild.records.get(wanted)
        return None

    def running(self) -> list[TransitionRecord]:
        """Transitions in progress right now (their process is alive), from running files."""
        entries, _ = self.running_files.entries(self.problems, repair=False)
        return [self.transition(e) for e in entries if alive(e.record.pid, e.pid_started)]

    def last(self) -> TransitionRecord | None:
        """The last finished transition (or refusal), from `last.json`."""
        return self.last_file.read(self.problems).record

    def last_of(self, group: str) -> GroupLast | None:
        """What the last transition of `group` was, from `last.json`."""
        return self.last_file.read(self.problems).groups.get(group)

    def mark_interrupted(self) -> list[TransitionRecord]:
        """Close transitions left `running` by a process that died; return them.

        For actors (under the actor lock). A full disk is logged and left for next time.
        """
        self.problems = []
        entries, broken = self.running_files.entries(self.problems, repair=True)
        for problem in self.problems:
            log.warning("%s", problem)
        closed = []
        now = datetime.now(UTC)
        for record_id in broken:  # its id is its name; a second end changes nothing
            with contextlib.suppress(OSError):
                self.append(end_line(record_id, TransitionOutcome.INTERRUPTED, now), sync=True)
        for entry in entries:
            if alive(entry.record.pid, entry.pid_started):
                continue
            journaled = self._lines_of(entry)
            record = journaled or entry.record.model_copy(deep=True)
            try:
                if record.outcome is TransitionOutcome.RUNNING:
                    record.outcome, record.ended_at = TransitionOutcome.INTERRUPTED, now
                    ended = record_end_line(record) if journaled else whole_line(record)
                    self.append(ended, sync=True)  # whole when its start never made it
                    closed.append(record)
                self.last_file.update(record, self.problems)
                self.running_files.remove(record.id)
            except OSError as exc:
                log.error("cannot close transition %s as interrupted: %s", record.id, exc)
            finally:
                self._release(record.id)
        return closed


#: Problems already logged by this process (the daemon checks the journal every round).
_REPORTED: set[str] = set()


def _open_regular(path: Path) -> int:
    """An append descriptor on `path` (created 0600); OSError unless a regular file."""
    fd = os.open(path, _APPEND_FLAGS, FILE_MODE)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    return fd


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
