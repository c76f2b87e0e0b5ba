"""The one place where carpswitch runs external commands.

Every command goes through `Runner.run`: an argv list (never a shell string), a timeout,
captured stdout/stderr, `LC_ALL=C`, and typed errors that name the command. Commands are
named by their FreeBSD name (`hastctl`, `zpool`, ...) and resolved to an absolute path from
the config's `[commands]` table or FreeBSD's default location, so a lab config can point
the controller at simulated commands without it knowing.

`sh` costs ~60 ms to import; the devd hook never imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import sh

from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut

log = logging.getLogger(__name__)

#: Where FreeBSD keeps each command carpswitch may run.
FREEBSD_COMMANDS: Mapping[str, str] = {
    "hastctl": "/sbin/hastctl",
    "ifconfig": "/sbin/ifconfig",
    "sysctl": "/sbin/sysctl",
    "mount": "/sbin/mount",
    "umount": "/sbin/umount",
    "fsck": "/sbin/fsck",
    "zpool": "/sbin/zpool",
    "zfs": "/sbin/zfs",
    "service": "/usr/sbin/service",
    "logger": "/usr/bin/logger",
    "daemon": "/usr/sbin/daemon",
    "ssh": "/usr/bin/ssh",
}

DEFAULT_TIMEOUT = 30.0

# Every exit status and every signal is "ok" to sh: the runner judges them itself.
_ALL_EXIT_CODES = list(range(-64, 256))


@dataclass(frozen=True)
class CommandResult:
    """A finished command."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str
    duration: float


class CommandRunner(Protocol):
    """What the rest of carpswitch needs from a runner (the real one or a test fake)."""

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult: ...


class Runner:
    """Runs commands by FreeBSD name, resolved through a name -> path table."""

    def __init__(
        self,
        commands: Mapping[str, str] | None = None,
        default_timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._paths = {**FREEBSD_COMMANDS, **(commands or {})}
        self.default_timeout = default_timeout
        base = dict(os.environ if env is None else env)
        self._env = {**base, "LANG": "C", "LC_ALL": "C"}

    def path_of(self, command: str) -> str:
        """Absolute path the command name resolves to (a path is returned as is)."""
        if "/" in command:
            return command
        return self._paths.get(command, command)

    def is_runnable(self, command: str) -> bool:
        """Whether the command resolves to an absolute path of an executable file."""
        path = self.path_of(command)
        return os.path.isabs(path) and os.path.isfile(path) and os.access(path, os.X_OK)

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `command args...`; return its result or raise a CommandError.

        Raises CommandNotFound (no such executable), CommandTimedOut (killed, with its whole
        process group, after `timeout` seconds) or CommandFailed (exit status not in
        `ok_codes`; killed by a signal counts as 128 + signal number).
        """
        path = self.path_of(command)
        argv = (path, *args)
        limit = self.default_timeout if timeout is None else timeout
        if not self.is_runnable(path):
            log.debug("run %s: not found", " ".join(argv))
            raise CommandNotFound(argv, path)
        started = time.monotonic()
        exit_status, stdout, stderr, timed_out = _run_with_sh(argv, limit, self._env, stdin)
        duration = time.monotonic() - started
        log.debug(
            "run %s: exit %s in %.3f s%s",
            " ".join(argv),
            exit_status,
            duration,
            " (timed out)" if timed_out else "",
        )
        if timed_out:
            raise CommandTimedOut(argv, limit, stdout, stderr)
        if exit_status not in ok_codes:
            raise CommandFailed(argv, exit_status, stdout, stderr)
        return CommandResult(argv, exit_status, stdout, stderr, duration)


def _run_with_sh(
    argv: tuple[str, ...], timeout: float, env: Mapping[str, str], stdin: str | None
) -> tuple[int, str, str, bool]:
    """Run argv in its own session; on timeout SIGKILL the whole session's group."""
    try:
        command = sh.Command(argv[0])
    except sh.CommandNotFound as exc:
        raise CommandNotFound(argv, argv[0]) from exc
    process = command(
        *argv[1:],
        _bg=True,
        _bg_exc=False,
        _new_session=True,
        _tty_out=False,
        _env=dict(env),
        _in=stdin if stdin is not None else "",
        _ok_code=_ALL_EXIT_CODES,
        _decode_errors="replace",
        _truncate_exc=False,
    )
    killed = threading.Event()

    def kill_group() -> None:
        killed.set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, kill_group)
    watchdog.daemon = True
    watchdog.start()
    try:
        process.wait()
    finally:
        watchdog.cancel()
    code = process.exit_code
    exit_status = 128 - code if code is not None and code < 0 else (code or 0)
    stdout = process.stdout.decode("utf-8", "replace")
    stderr = process.stderr.decode("utf-8", "replace")
    return exit_status, stdout, stderr, killed.is_set()
