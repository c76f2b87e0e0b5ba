"""Running carpswitch as an admin or devd would, and timing it.

stderr goes to a pseudo-terminal: carpswitch logs to stderr when stderr is a terminal
(carpswitch.logsetup), even where a syslog daemon listens, so `-vv` debug lines (the
runner's `run ARGV: exit N in X s`) always reach the benchmark. Each line is stamped with
the time it was read.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The installed console script (what devd and an admin run), else `python -m carpswitch`.
_SCRIPT = Path(sys.executable).parent / "carpswitch"


def carpswitch_argv(*args: str) -> list[str]:
    """argv of `carpswitch ARGS`."""
    prefix = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "carpswitch"]
    return [*prefix, *args]


@dataclass(frozen=True)
class Timed:
    """A finished run: exit status, wall time, stdout, and stderr lines with read times."""

    argv: tuple[str, ...]
    exit_status: int
    started: float  # unix time
    ended: float
    stdout: str
    stderr: list[tuple[float, str]]

    @property
    def wall(self) -> float:
        return self.ended - self.started

    def stderr_text(self) -> str:
        return "".join(line for _at, line in self.stderr)


def run_timed(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600.0
) -> Timed:
    """Run `argv` with stdout captured and stderr on a pty; time it from spawn to exit."""
    master, slave = pty.openpty()
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=_read_lines, args=(master, lines), daemon=True)
    reader.start()
    started = time.time()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=dict(os.environ if env is None else env),
        )
    finally:
        os.close(slave)
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except BaseException:  # timed out or interrupted: never leave the run going
        process.kill()
        process.communicate()
        raise
    ended = time.time()
    reader.join(timeout=10)
    return Timed(tuple(argv), process.returncode, started, ended, stdout.decode(), lines)


def _read_lines(fd: int, lines: list[tuple[float, str]]) -> None:
    """Read the pty until every writer closed it; one entry per line, stamped when read."""
    pending = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the last writer closed its end
                break
            if not chunk:
                break
            at = time.time()
            pending += chunk
            *complete, pending = pending.split(b"\n")
            lines.extend(
                (at, line.decode("utf-8", "replace").rstrip("\r") + "\n") for line in complete
            )
    finally:
        if pending:
            lines.append((time.time(), pending.decode("utf-8", "replace")))
        os.close(fd)


def run_quiet(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600.0
) -> float:
    """Wall seconds of `argv` with all output captured and dropped (a baseline run)."""
    started = time.perf_counter()
    subprocess.run(
        list(argv),
        capture_output=True,
        check=False,
        timeout=timeout,
        env=None if env is None else dict(env),
    )
    return time.perf_counter() - started
