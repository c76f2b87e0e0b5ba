"""The one place where carpswitch runs external commands.

Every command goes through `Runner.run`: an argv list (never a shell string), a timeout,
captured stdout/stderr, `LC_ALL=C`, and typed errors that name the command. Commands are
named by their FreeBSD name (`hastctl`, `zpool`, ...) and resolved to an absolute path from
the config's `[commands]` table or FreeBSD's default location, so a lab config can point
the controller at simulated commands without it knowing.

Each command runs in its own session (pgid = pid). A timeout SIGKILLs the whole group; a
command still not ended a few seconds later is reported stuck (CommandStuck) instead of
being waited for. With a run_dir, each command is recorded in run_dir/inflight while it
runs, so that the next actor ends what a killed carpswitch left running (system/inflight).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from carpswitch.config_rules import FREEBSD_COMMANDS
from carpswitch.errors import (
    CommandFailed,
    CommandNotFound,
    CommandNotStarted,
    CommandStuck,
    CommandTimedOut,
)
from carpswitch.system.inflight import INFLIGHT_ENV, CommandRecord, InflightBook

log = logging.getLogger(__name__)


DEFAULT_TIMEOUT = 30.0
#: How long a command may take to end after SIGKILL of its group before it counts as stuck.
STUCK_GRACE = 3.0


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
        run_dir: str | None = None,
        stuck_grace: float = STUCK_GRACE,
    ) -> None:
        self._paths = {**FREEBSD_COMMANDS, **(commands or {})}
        self.default_timeout = default_timeout
        self.stuck_grace = stuck_grace
        base = dict(os.environ if env is None else env)
        base.pop(INFLIGHT_ENV, None)  # run by a recorded command (a hook): not its token
        self._env = {**base, "LANG": "C", "LC_ALL": "C"}
        self._inflight = InflightBook(run_dir) if run_dir else None

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
        process group, after `timeout` seconds), CommandStuck (a CommandTimedOut that had
        not ended `stuck_grace` seconds after the kill) or CommandFailed (exit status not in
        `ok_codes`; killed by a signal counts as 128 + signal number).
        """
        path = self.path_of(command)
        argv = (path, *args)
        limit = self.default_timeout if timeout is None else timeout
        if not self.is_runnable(path):
            log.debug("run %s: not found", " ".join(argv))
            raise CommandNotFound(argv, path)
        started = time.monotonic()
        record = self._inflight.begin(argv) if self._inflight else None
        env = self._env if record is None else {**self._env, INFLIGHT_ENV: record.token}
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            if record is not None:
                record.finished()
            if isinstance(exc, FileNotFoundError | PermissionError) or exc.errno == errno.ENOEXEC:
                raise CommandNotFound(argv, path) from exc
            raise CommandNotStarted(argv, exc.strerror or str(exc)) from exc
        if record is not None:
            record.started(process.pid)
        ended = _wait_for(process, argv, limit, stdin, self.stuck_grace, record)
        exit_status, stdout, stderr, timed_out = ended
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


def _wait_for(
    process: subprocess.Popen[bytes],
    argv: tuple[str, ...],
    timeout: float,
    stdin: str | None,
    grace: float,
    record: CommandRecord | None,
) -> tuple[int, str, str, bool]:
    """Collect output and exit status; on timeout SIGKILL the group and wait `grace` more.

    A command has ended when its process has exited and its output pipes are closed. One
    that is not ended `grace` seconds after the kill raises CommandStuck; its record stays.
    """
    timed_out = False
    try:
        try:
            out, err = process.communicate(stdin.encode() if stdin is not None else None, timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            out, err = process.communicate(timeout=grace)
    except subprocess.TimeoutExpired as exc:
        _abandon(process, record)
        raise CommandStuck(argv, timeout, _text(exc.stdout), _text(exc.stderr), grace) from None
    except BaseException:  # interrupted (KeyboardInterrupt): never leave the command running
        _kill_group(process.pid)
        _abandon(process, record)
        raise
    if record is not None:
        record.finished()
    code = process.returncode
    exit_status = 128 - code if code < 0 else code
    return exit_status, _text(out), _text(err), timed_out


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _abandon(process: subprocess.Popen[bytes], record: CommandRecord | None) -> None:
    """Stop waiting for a command: close our pipe ends, keep its record for the next actor."""
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    if record is not None:
        record.left_running()


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
