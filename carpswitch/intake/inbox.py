"""The event inbox: one small file per event under run_dir/events (maildir style).

The hook writes each event to a temporary name and renames it into place, so a reader
never sees half an event and no writer ever waits for another. The worker or the daemon
takes (reads and deletes) whatever is there; an empty inbox means nothing new arrived.
Events are only wake-ups: what happens is decided from the state observed afterwards.
NamedTuples rather than dataclasses: `dataclasses` costs the hook ~8 ms to import.
run_dir is cleared at boot (/var/run), which drops events a reboot made stale.
"""

from __future__ import annotations

import math
import os
import time

from carpswitch.errors import ParseError
from carpswitch.statefiles import FILE_MODE, describe_os_error, make_private_dir, read_state_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from carpswitch.records import NamedTuple  # typing costs the hook ~14 ms

INBOX_NAME = "events"
EVENT_SOURCE = "intake event"
EVENT_SUFFIX = ".event"
FIELDS = 4
#: A temporary file older than this was left by a writer that died before its rename.
STALE_TEMPORARY = 60.0


class IntakeEvent(NamedTuple):
    """Something that should make carpswitch look at the node again.

    `origin` says where it came from (hook, devd, resume, daemon); `state` and `subsystem`
    are the CARP state and `VHID@IFACE` (or `IFACE`) when it is a CARP event.
    """

    origin: str
    state: str = ""
    subsystem: str = ""
    at: float = 0.0

    def describe(self) -> str:
        """`hook MASTER 1@vtnet0`: the trigger written into the journal."""
        return " ".join(part for part in (self.origin, self.state, self.subsystem) if part)

    def encode(self) -> bytes:
        """One line, `ORIGIN<TAB>STATE<TAB>SUBSYSTEM<TAB>AT`, as stored and sent to the daemon.

        Tab-separated rather than JSON: the hook saves the json import. Fields come from
        carpswitch itself or from validated hook arguments; a tab or newline in one is a bug.
        """
        fields = (self.origin, self.state, self.subsystem)
        if any(c in f for f in fields for c in "\t\n"):
            raise ValueError(f"tab or newline in an intake event field: {fields!r}")
        return f"{self.origin}\t{self.state}\t{self.subsystem}\t{self.at!r}\n".encode()


def decode_event(data: bytes) -> IntakeEvent:
    """The event in `data` (what `IntakeEvent.encode` wrote); ParseError when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(EVENT_SOURCE, f"not UTF-8: {exc}") from None
    fields = text.removesuffix("\n").split("\t")
    if len(fields) != FIELDS or "\n" in text.removesuffix("\n"):
        raise ParseError(EVENT_SOURCE, f"expected {FIELDS} tab-separated fields in {text!r}")
    origin, state, subsystem, at_text = fields
    if not origin:
        raise ParseError(EVENT_SOURCE, f"no origin in {text!r}")
    try:
        at = float(at_text)
    except ValueError:
        raise ParseError(EVENT_SOURCE, f"time {at_text!r} is not a number") from None
    if not math.isfinite(at):
        raise ParseError(EVENT_SOURCE, f"time {at_text!r} is not a finite number")
    return IntakeEvent(origin, state, subsystem, at)


class Taken(NamedTuple):
    """What `Inbox.take` found: the events, and each file that did not hold one."""

    events: list[IntakeEvent]
    problems: list[str]


class Inbox:
    """run_dir/events: `record` from any number of hooks, `take` from the one acting process."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.directory = os.path.join(run_dir, INBOX_NAME)

    def record(self, event: IntakeEvent) -> str:
        """Store `event` atomically; return its file."""
        make_private_dir(self.run_dir)
        make_private_dir(self.directory)
        name = f"{time.time_ns():020d}-{os.getpid()}{EVENT_SUFFIX}"
        temporary = os.path.join(self.directory, f".{name}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temporary, flags, FILE_MODE)
        try:
            os.write(fd, event.encode())
        finally:
            os.close(fd)
        final = os.path.join(self.directory, name)
        os.rename(temporary, final)
        return final

    def take(self) -> Taken:
        """Every stored event, oldest first, removed from the inbox.

        A file that does not hold an event is removed too (so it cannot come back on every
        call) and named in `problems`; so is what is not a regular file (never followed).
        """
        events: list[IntakeEvent] = []
        problems: list[str] = []
        for path in self._event_files():
            try:
                data = read_state_file(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                problems.append(f"{os.path.basename(path)}: {describe_os_error(exc)}")
                _remove(path)
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue  # another taker was first: the event is theirs
            try:
                events.append(decode_event(data))
            except ParseError as exc:
                problems.append(f"{os.path.basename(path)}: {exc}")
        self._remove_stale_temporaries()
        return Taken(events, problems)

    def pending(self) -> int:
        """How many events wait to be taken."""
        return len(self._event_files())

    def _event_files(self) -> list[str]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [os.path.join(self.directory, n) for n in sorted(names) if _is_event_name(n)]

    def _remove_stale_temporaries(self) -> None:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        now = time.time()
        for name in names:
            if not name.startswith("."):
                continue
            path = os.path.join(self.directory, name)
            try:
                if now - os.stat(path).st_mtime > STALE_TEMPORARY:
                    os.unlink(path)
            except FileNotFoundError:
                continue


def _remove(path: str) -> None:
    """Remove a file or (empty) directory that is not an event; leave what cannot be."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError:
        try:
            os.rmdir(path)
        except OSError:
            return


def _is_event_name(name: str) -> bool:
    return not name.startswith(".") and name.endswith(EVENT_SUFFIX)
