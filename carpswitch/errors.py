"""Typed errors. Every error names what failed so that a log line alone explains it."""

from __future__ import annotations

from collections.abc import Sequence


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line (whitespace runs become one space), cut to `limit` characters.

    For log lines and reasons built from command output or exception text, which may hold
    newlines or be arbitrarily long.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class CarpswitchError(Exception):
    """Base of every error carpswitch raises on purpose."""


class CommandError(CarpswitchError):
    """An external command could not be run to a successful end."""

    def __init__(self, argv: Sequence[str], message: str) -> None:
        self.argv: tuple[str, ...] = tuple(argv)
        super().__init__(f"{self.command_line}: {message}")

    @property
    def command_line(self) -> str:
        """The argv joined for humans (never executed)."""
        return " ".join(self.argv)


class CommandNotFound(CommandError):
    """The command's executable does not exist or cannot be executed."""

    def __init__(self, argv: Sequence[str], path: str) -> None:
        self.path = path
        super().__init__(argv, f"command not found: {path}")


class CommandFailed(CommandError):
    """The command ran and exited with a status not accepted by the caller."""

    def __init__(self, argv: Sequence[str], exit_status: int, stdout: str, stderr: str) -> None:
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.strip() or stdout.strip() or "no output"
        super().__init__(argv, f"exit status {exit_status}: {detail}")


class CommandNotStarted(CommandError):
    """The command exists but the system could not start it (no fork, no file descriptor)."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        self.reason = reason
        super().__init__(argv, f"cannot start: {reason}")


class CommandTimedOut(CommandError):
    """The command ran past its timeout and was killed (with its process group)."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str, stderr: str) -> None:
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(argv, self._describe())

    def _describe(self) -> str:
        return f"timed out after {self.timeout:g} s and was killed"


class CommandStuck(CommandTimedOut):
    """A timed-out command had not ended `grace` seconds after SIGKILL of its group.

    A process in the kernel (`zpool export` on a suspended pool) or a process outside the
    group holding its output open. The runner stops waiting so that no lock is held
    forever; the command's record stays in run_dir and the next actor tries again.
    """

    def __init__(
        self, argv: Sequence[str], timeout: float, stdout: str, stderr: str, grace: float
    ) -> None:
        self.grace = grace
        super().__init__(argv, timeout, stdout, stderr)

    def _describe(self) -> str:
        return (
            f"timed out after {self.timeout:g} s and had not ended {self.grace:g} s after "
            "SIGKILL (stuck in the kernel?); left for the next actor to end"
        )


class ParseError(CarpswitchError):
    """Output of a FreeBSD command, or a file, did not have the documented shape.

    `source` names the command (`hastctl list`) or the file (an absolute path).
    """

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = f" (line {line})" if line is not None else ""
        what = source if source.startswith("/") else f"output of {source}"
        super().__init__(f"cannot parse {what}{where}: {reason}")


class ConfigError(CarpswitchError):
    """The configuration is invalid. Carries every problem found, not just the first."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}: {problem}" for problem in self.problems))
