"""bench.clirun: stderr on a terminal (so carpswitch logs there), lines stamped when read."""

from __future__ import annotations

from bench.clirun import run_timed


def test_stderr_is_a_terminal_and_each_line_is_stamped():
    timed = run_timed(
        ["sh", "-c", '[ -t 2 ] && echo "on a tty" >&2; echo out; printf "last" >&2; exit 3']
    )
    assert timed.exit_status == 3
    assert timed.stdout == "out\n"
    assert [line for _at, line in timed.stderr] == ["on a tty\n", "last"]
    assert all(timed.started <= at <= timed.ended + 1.0 for at, _line in timed.stderr)
    assert timed.wall > 0
