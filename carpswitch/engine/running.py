"""Small state files beside the journal: transitions running now, and the last ones.

`state_dir/running/ID` is written (durably) before a transition's first journal line and
removed after its last: `status`, the crash check and the executor find what runs without
reading the journal. It holds the header, the process's start time (a pid reused by
another process is not the transition's) and where the transition's lines begin in the
journal (inode and offset), so its steps are read from there and nowhere else.

`state_dir/last.json` holds the last finished record, whole (for `status`), and each
group's last outcome (for the refusal that is journaled once while it stays the same).

Both are caches of the journal: an unreadable one is reported and taken as absent (a
refusal is journaled again, status shows no last transition); actors set it aside. So
neither costs an fsync of its content: a running file's name is made durable (one fsync
of its directory) before the start line, since an empty one still names its transition;
last.json not at all (a crash of the system may leave it old or empty).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.statefiles import (
    CORRUPT_MARK,
    describe_os_error,
    fsync_directory,
    make_private_dir,
    read_state_file,
    replace_file,
    set_aside,
)

RUNNING_DIR = "running"
LAST_NAME = "last.json"
#: Transition ids are file names here: 12 hex digits from the executor, words in tests.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Position(BaseModel):
    """Where a transition's lines begin: the journal file (by inode) and an offset in it."""

    inode: int
    offset: int


class Running(BaseModel):
    """The content of `running/ID`."""

    record: TransitionRecord  # the header: no steps, outcome running
    pid_started: float | None = None  # psutil create_time of `record.pid`
    journal: Position


class GroupLast(BaseModel):
    """What the refusal check needs of a group's last transition."""

    id: str
    kind: TransitionKind
    outcome: TransitionOutcome
    reason: str
    started_at: datetime


class Last(BaseModel):
    """The content of `last.json`."""

    record: TransitionRecord | None = None
    groups: dict[str, GroupLast] = Field(default_factory=dict)


def process_started(pid: int | None) -> float | None:
    """When process `pid` started (psutil create_time), None when it cannot be told."""
    if pid is None:
        return None
    import psutil  # here, not at the top: most commands never need it (~15 ms to import)

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def alive(pid: int | None, started: float | None) -> bool:
    """Whether `pid` still is the process that started at `started` (when known)."""
    if pid is None:
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.5
    except psutil.Error:
        return False


class RunningFiles:
    """The `running/` directory: one small file per transition in progress."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / RUNNING_DIR

    def path(self, record_id: str) -> Path:
        if not _ID.fullmatch(record_id):
            raise ValueError(f"transition id {record_id!r} is not a file name")
        return self.directory / record_id

    def write(self, record: TransitionRecord, at: Position) -> None:
        """Say durably that `record` runs, its lines beginning `at`; OSError when it cannot.

        Only the name is made durable (one fsync of the directory): a crash of the system
        may leave the file empty, and an unreadable running file is closed by its name.
        """
        header = record.model_copy(update={"steps": [], "undo": []})
        entry = Running(record=header, pid_started=process_started(record.pid), journal=at)
        self._make_directory()
        data = entry.model_dump_json().encode()
        replace_file(str(self.path(record.id)), data, durable=False)
        fsync_directory(str(self.directory))

    def _make_directory(self) -> None:
        """`running/`, made 0700; whatever else is there (a symlink, a file) is set aside."""
        if _something_else(self.directory):
            set_aside(str(self.directory))
        make_private_dir(str(self.directory))

    def remove(self, record_id: str) -> None:
        """The transition ended (or was closed as interrupted)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(record_id))

    def entries(self, problems: list[str], repair: bool) -> tuple[list[Running], list[str]]:
        """Readable entries, and the ids of unreadable ones (set aside when `repair`)."""
        if _something_else(self.directory):  # never listed through a symlink
            _note(problems, _unreadable(self.directory, OSError(errno.ENOTDIR, ""), repair))
            return [], []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            problems.append(f"{self.directory}: unreadable: {describe_os_error(exc)}")
            return [], []
        readable, broken = [], []
        for name in names:
            if name.startswith(".") or CORRUPT_MARK in name or not _ID.fullmatch(name):
                continue
            path = self.directory / name
            try:
                entry = Running.model_validate_json(read_state_file(str(path)))
                if entry.record.id != name:
                    raise ValueError("names another transition")
                readable.append(entry)
            except FileNotFoundError:
                continue  # it ended meanwhile
            except (OSError, ValueError) as exc:
                broken.append(name)
                _note(problems, _unreadable(path, exc, repair))
        return readable, broken


class LastFile:
    """`last.json`: the last finished record and each group's last outcome."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LAST_NAME

    def read(self, problems: list[str], repair: bool = False) -> Last:
        """What it holds; empty when absent or unreadable (set aside when `repair`)."""
        try:
            return Last.model_validate_json(read_state_file(str(self.path)))
        except FileNotFoundError:
            return Last()
        except (OSError, ValueError) as exc:
            _note(problems, _unreadable(self.path, exc, repair))
            return Last()

    def update(self, record: TransitionRecord, problems: list[str]) -> None:
        """Remember finished `record` unless a later one of its group is there already."""
        last = self.read(problems, repair=True)
        mine = last.groups.get(record.group)
        if mine is not None and mine.started_at > record.started_at:
            return  # an interrupted transition closed after a later one of its group
        last.groups[record.group] = GroupLast(
            id=record.id,
            kind=record.kind,
            outcome=record.outcome,
            reason=record.reason,
            started_at=record.started_at,
        )
        if last.record is None or last.record.started_at <= record.started_at:
            last.record = record
        make_private_dir(str(self.path.parent))
        replace_file(str(self.path), last.model_dump_json().encode(), durable=False)  # a cache


def _something_else(path: Path) -> bool:
    """Whether `path` exists and is not a directory (a symlink to one is something else)."""
    try:
        return not stat.S_ISDIR(path.lstat().st_mode)
    except OSError:  # absent, or state_dir is no directory: the caller's open says so
        return False


def _note(problems: list[str], problem: str) -> None:
    if problem not in problems:  # status reads a file more than once
        problems.append(problem)


def _unreadable(path: Path, exc: Exception, repair: bool) -> str:
    if isinstance(exc, OSError):
        why = "not a directory" if exc.errno == errno.ENOTDIR else describe_os_error(exc)
    else:
        why = "not a state record"
    problem = f"{path}: unreadable ({why})"
    if repair:
        try:
            problem += f": set aside as {Path(set_aside(str(path))).name}"
        except OSError as error:
            problem += f": cannot set it aside: {describe_os_error(error)}"
    return problem
