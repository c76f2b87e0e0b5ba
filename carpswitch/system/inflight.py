"""The record of running commands, run_dir/inflight/TOKEN: what a dead actor left running.

Every command runs in its own session (pgid = pid), so a SIGKILLed carpswitch leaves it
running: a hung `hastctl role primary` would make the resource primary after the next
actor demoted it. So the runner records each command here, and the next actor ends what a
dead one left behind before it observes (carpswitch.system.orphans).

A record is written by two single write(2) calls, which a SIGKILL cannot tear:
1. before the spawn: the owner (pid and start), the boot time and the argv. The command
   gets TOKEN in its environment (CARPSWITCH_INFLIGHT).
2. right after the spawn: the command's pid (= its process group) and start.
It is removed when the command has ended. A SIGKILL in the microseconds between the spawn
and write 2 leaves a record without a pid; the reaper then finds the command by TOKEN in
the process environments (a command that clears its environment at once, as service(8)
does with `env -i`, is not found in that window).

Owner and command are identified by pid and start (carpswitch.system.identity), so a
reused pid is told apart. The boot time marks records of an earlier boot (run_dir is
cleaned at boot by rc.d/cleanvar, but need not be). Records are files of this user, never followed
through a symlink; readers (`status`) record too, and only dead owners' records are reaped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from carpswitch.system.identity import ProcessIdentity, boot_time, identify, own_identity

log = logging.getLogger(__name__)

INFLIGHT_DIR = "inflight"
#: Environment variable that carries a command's record token (inherited by its children).
INFLIGHT_ENV = "CARPSWITCH_INFLIGHT"
#: Tokens of the commands this process is running now (the reaper leaves them alone).
_RUNNING: set[str] = set()


def is_running_here(token: str) -> bool:
    """Whether this process runs the command of `token` right now."""
    return token in _RUNNING


@dataclass(frozen=True)
class Record:
    """A record as read back: `command` is None when the actor died before writing it."""

    token: str
    path: str
    owner: ProcessIdentity | None
    boot: float | None
    argv: tuple[str, ...]
    command: ProcessIdentity | None
    written: float

    @property
    def command_line(self) -> str:
        """The argv joined for humans (never executed)."""
        return " ".join(self.argv) or f"(command of record {self.token})"


class CommandRecord:
    """The record of one running command, as its runner holds it."""

    def __init__(self, path: str, token: str, fd: int) -> None:
        self.path = path
        self.token = token
        self._fd: int | None = fd

    def started(self, pid: int) -> None:
        """Write the command's pid and start (write 2); its group is now findable."""
        identity = identify(pid, zombie_is_gone=False)
        if identity is not None and self._fd is not None:
            line = json.dumps({"command": [identity.pid, identity.start]}) + "\n"
            try:
                os.write(self._fd, line.encode())
            except OSError as exc:
                log.warning("cannot complete record %s: %s", self.path, exc.strerror)
        self._close()

    def finished(self) -> None:
        """The command has ended: remove the record."""
        self._close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        _RUNNING.discard(self.token)

    def left_running(self) -> None:
        """The command could not be ended: keep the record for the next actor."""
        self._close()
        _RUNNING.discard(self.token)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class InflightBook:
    """run_dir/inflight: where the runner records what it runs and the reaper looks."""

    def __init__(self, run_dir: str) -> None:
        self.directory = os.path.join(run_dir, INFLIGHT_DIR)
        self._ready = False
        self._warned = False

    def begin(self, argv: Sequence[str]) -> CommandRecord | None:
        """Record `argv` before it is spawned (write 1); None when no record can be kept.

        Not being able to record never stops a command (a demotion must run): a reader
        without access to run_dir records nothing, other failures are logged once.
        """
        if not self._directory_ready():
            return None
        owner = own_identity()
        if owner is None:  # no record whose owner could be judged dead while it lives
            self._cannot_record(OSError(errno.ESRCH, "cannot identify this process"))
            return None
        token = secrets.token_hex(8)
        path = os.path.join(self.directory, token)
        line = json.dumps(
            {"owner": [owner.pid, owner.start], "boot": boot_time(), "argv": list(argv)}
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        _RUNNING.add(token)  # before the file exists: a reaper in another thread skips it
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            _RUNNING.discard(token)
            self._cannot_record(exc)
            return None
        try:
            data = (line + "\n").encode()
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            _RUNNING.discard(token)
            self._cannot_record(exc)
            return None
        return CommandRecord(path, token, fd)

    def records(self) -> Iterator[Record]:
        """Every record in the directory; foreign or unsafe entries are removed, unread."""
        try:
            names = os.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            path = os.path.join(self.directory, name)
            record = _read_record(path, name)
            if record is None:
                log.warning("removing %s: not a record written by this user", path)
                with contextlib.suppress(OSError):
                    os.unlink(path)
                continue
            yield record

    def _directory_ready(self) -> bool:
        if self._ready:
            return True
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EACCES, errno.EPERM):
                self._cannot_record(exc)
            return False
        try:
            info = os.lstat(self.directory)
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            self._cannot_record(OSError(errno.EPERM, "not a directory of this user"))
            return False
        self._ready = True
        return True

    def _cannot_record(self, exc: OSError) -> None:
        level = logging.DEBUG if self._warned or exc.errno == errno.EACCES else logging.WARNING
        log.log(level, "commands run unrecorded: %s: %s", self.directory, exc.strerror)
        self._warned = True


def _read_record(path: str, token: str) -> Record | None:
    """Parse one record file; None if it is not a regular file of this user."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return None
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    head: dict[str, object] = {}
    tail: dict[str, object] = {}
    lines = data.decode("utf-8", "replace").splitlines()
    with contextlib.suppress(ValueError, IndexError):
        head = json.loads(lines[0])
    with contextlib.suppress(ValueError, IndexError):
        tail = json.loads(lines[1])
    argv = head.get("argv")
    boot = head.get("boot")
    return Record(
        token=token,
        path=path,
        owner=_identity_field(head.get("owner")),
        boot=float(boot) if isinstance(boot, int | float) else None,
        argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
        command=_identity_field(tail.get("command")),
        written=info.st_mtime,
    )


def _identity_field(value: object) -> ProcessIdentity | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], int | float)
    ):
        return ProcessIdentity(value[0], float(value[1]))
    return None
