"""carpswitch's share of net.inet.carp.demotion: tied to the boot, never taken back twice.

A failed promotion adds to the demotion (a sysctl write adds, ip_carp.c carp_demote_adj)
and the failure book remembers how much. The kernel forgets it at a reboot, so the book
ties it to kern.boottime: a memory from another boot is void. Taking back reads the
current value first and lowers by at most what is there, so carpswitch can never cancel
a demotion the kernel added itself (link down, send errors) or push it below zero.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from carpswitch.errors import CommandError, ParseError
from carpswitch.parse.sysctl import parse_boottime
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandRunner

log = logging.getLogger(__name__)

BOOTTIME_SYSCTL = "kern.boottime"


def current_boottime(runner: CommandRunner, timeout: float) -> int | None:
    """kern.boottime in seconds, or None (logged) when it cannot be read."""
    try:
        result = runner.run(*commands.sysctl_get(BOOTTIME_SYSCTL), timeout=timeout)
        return parse_boottime(result.stdout)[0]
    except (CommandError, ParseError) as exc:
        log.warning("cannot tell this boot from an earlier one: %s", exc)
        return None


class TakenBack(NamedTuple):
    """How much was taken back, and what to say about it."""

    amount: int
    message: str


def take_back(observer: Observer, added: int, timeout: float) -> TakenBack:
    """Lower net.inet.carp.demotion by min(`added`, its current value); say what was done.

    Raises CommandError or ParseError when the current value cannot be read or written.
    """
    current = observer.demotion()
    amount = min(added, current)
    if amount <= 0:
        return TakenBack(0, f"nothing taken back: {commands.DEMOTION_SYSCTL} is {current}")
    argv = commands.sysctl_set(commands.DEMOTION_SYSCTL, -amount)
    output = observer.runner.run(*argv, timeout=timeout).stdout.strip()
    if amount < added:
        return TakenBack(amount, f"{output} (took back {amount} of {added}: no more was there)")
    return TakenBack(amount, output)
