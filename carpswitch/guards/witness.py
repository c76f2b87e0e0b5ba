"""The witness guard: can this node still reach the addresses that prove it is not cut off?

A node that reaches none of its witnesses (e.g. the default gateway) is likely the one
that lost the network, so it must not promote, and a primary may fence itself. Every
witness is pinged once, all in parallel, through the runner: each ping is bounded by
`timeout + 2` s (a hanging ping is killed by the runner), so a probe takes about that long
at most, however many witnesses are lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from carpswitch.errors import (
    CommandError,
    CommandFailed,
    CommandNotFound,
    CommandNotStarted,
    CommandTimedOut,
    one_line,
)
from carpswitch.system import commands
from carpswitch.system.runner import CommandRunner

#: ping.8 EXIT STATUS: 0 a reply came, 2 none came (other values: errors, sysexits.h).
NO_REPLY = 2
#: What the runner allows a ping beyond its own -t before killing it.
RUNNER_SLACK = 2.0
#: At most this many pings run at once (a long witness list queues, each still bounded).
MAX_PARALLEL = 8


@dataclass(frozen=True)
class WitnessVerdict:
    """Which witnesses answered one ping, and why each of the others did not."""

    reachable: tuple[str, ...] = ()
    lost: dict[str, str] = field(default_factory=dict)

    @property
    def any_reachable(self) -> bool:
        return bool(self.reachable)

    def describe(self) -> str:
        """One line: `1 of 2 witnesses reachable (198.18.0.9: no reply)`."""
        total = len(self.reachable) + len(self.lost)
        noun = "witness" if total == 1 else "witnesses"
        lost = "; ".join(f"{address}: {reason}" for address, reason in self.lost.items())
        return f"{len(self.reachable)} of {total} {noun} reachable" + (f" ({lost})" if lost else "")


def probe(runner: CommandRunner, witnesses: Sequence[str], timeout: int) -> WitnessVerdict:
    """Ping every witness once (`ping -c 1 -t TIMEOUT -q`), in parallel; never raises for
    a ping that fails, hangs or is missing: that witness is lost, with a one-line reason."""
    unique = list(dict.fromkeys(witnesses))
    if not unique:
        return WitnessVerdict()
    workers = min(len(unique), MAX_PARALLEL)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="witness") as pool:
        reasons = list(pool.map(lambda address: _ping(runner, address, timeout), unique))
    reachable = tuple(a for a, reason in zip(unique, reasons, strict=True) if reason is None)
    lost = {a: reason for a, reason in zip(unique, reasons, strict=True) if reason is not None}
    return WitnessVerdict(reachable, lost)


def _ping(runner: CommandRunner, address: str, timeout: int) -> str | None:
    """None when the witness answered, else why not."""
    if not address.strip() or address.startswith("-"):
        return "not an address"  # never hand ping an option as its target
    try:
        runner.run(*commands.ping_once(address, timeout), timeout=timeout + RUNNER_SLACK)
    except CommandFailed as exc:
        if exc.exit_status == NO_REPLY:
            return "no reply"
        detail = exc.stderr.strip() or exc.stdout.strip()
        return one_line(detail, 120) if detail else f"ping exit status {exc.exit_status}"
    except CommandTimedOut as exc:
        return f"ping timed out after {exc.timeout:g} s and was killed"
    except CommandNotFound as exc:
        return f"ping not found: {exc.path}"
    except CommandNotStarted as exc:
        return f"ping cannot start: {one_line(exc.reason, 120)}"
    except CommandError as exc:
        return one_line(str(exc), 120)
    return None
