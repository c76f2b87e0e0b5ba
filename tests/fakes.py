"""The test seam for the outside world: a runner that maps argv to canned results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut
from carpswitch.system.runner import CommandResult


@dataclass
class Reply:
    """What a faked command does: exit status and output, or a timeout."""

    stdout: str = ""
    exit_status: int = 0
    stderr: str = ""
    timed_out: bool = False


@dataclass
class FakeRunner:
    """Answers `run(command, *args)` from `replies` keyed by the exact argv tuple.

    An argv with no reply raises CommandNotFound, so an unexpected command fails the test.
    Every call is recorded in `calls` (argv tuples, in order).
    """

    replies: dict[tuple[str, ...], Reply] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def reply(
        self,
        argv: Sequence[str],
        stdout: str = "",
        exit_status: int = 0,
        stderr: str = "",
        timed_out: bool = False,
    ) -> None:
        self.replies[tuple(argv)] = Reply(stdout, exit_status, stderr, timed_out)

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        argv = (command, *args)
        self.calls.append(argv)
        reply = self.replies.get(argv)
        if reply is None:
            raise CommandNotFound(argv, command)
        if reply.timed_out:
            raise CommandTimedOut(argv, timeout or 0.0, reply.stdout, reply.stderr)
        if reply.exit_status not in ok_codes:
            raise CommandFailed(argv, reply.exit_status, reply.stdout, reply.stderr)
        return CommandResult(argv, reply.exit_status, reply.stdout, reply.stderr, 0.0)
