"""Fixed-cost mode and command log of a node, for the benchmarks.

A node created with `command_cost=S` makes every shim take exactly max(its own work, S)
seconds of wall time, measured from the first line of its script (DIR/bin/<command>) to
its exit: the shim sleeps the remainder after its work, so a benchmark can subtract a
known cost per command. A hang fault still hangs (that is work longer than S).

A node created with `command_log=True` makes every shim append one line to
DIR/var/log/commands.log when it exits:

    <unix time of start> <seconds elapsed> <command> <args...>

written with O_APPEND in one write(2), so concurrent shims never interleave. Arguments
that are empty or hold blanks or quotes are single-quoted as sh(1) would need them (a
newline is written as \\n, keeping the line one line). A
command killed before it exits (the runner's SIGKILL of a timed-out call) logs nothing.

Only the standard library's os and time are used: the shim path stays lean.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def finish(
    *,
    command: str,
    args: Sequence[str],
    started_wall: float,
    started_monotonic: float,
    cost: float | None,
    log: str | None,
) -> None:
    """Pad the command's wall time up to `cost` (if set), then append its line to `log`."""
    if cost is not None:
        remaining = cost - (time.monotonic() - started_monotonic)
        if remaining > 0:
            time.sleep(remaining)
    if log is not None:
        elapsed = time.monotonic() - started_monotonic
        append_line(log, log_line(started_wall, elapsed, command, args))


def log_line(started: float, elapsed: float, command: str, args: Sequence[str]) -> str:
    """One line of commands.log."""
    words = " ".join(quote(word) for word in (command, *args))
    return f"{started:.6f} {elapsed:.6f} {words}\n"


def quote(word: str) -> str:
    """`word` as sh(1) reads it back: as is if plain, else in single quotes."""
    if word and all(char in _PLAIN for char in word):
        return word
    return "'" + word.replace("'", "'\\''").replace("\n", "\\n") + "'"


def append_line(path: str, line: str) -> None:
    """Append `line` with one write(2) on an O_APPEND descriptor (atomic for a line)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
