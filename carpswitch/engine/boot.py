"""Boot rules: never take a resource that the peer may hold.

After a reboot hastd has every resource in `init`, and a primary peer cannot connect to a
resource in `init` (hastd.c listen_accept serves only a secondary); its guard thread tries
again every 10 s (HAST_KEEPALIVE). So "a connected secondary means the peer is primary"
can only be seen once this node is secondary: at boot, a group CARP would promote is first
taken to secondary, then the peer is given a bounded time to connect before deciding.

The boot window is a marker in run_dir (cleaned at every boot, like /var/run): it is opened
by `reconcile --boot` and closed by the first reconcile under boot rules that decided every
group, so a devd event in between follows the boot rules too. A paused node keeps it open:
the first reconcile after `resume` is the one that applies the boot rules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from carpswitch.engine.decide import Decision, remote_primary_connected
from carpswitch.engine.step import wait_until
from carpswitch.errors import CommandError, ParseError
from carpswitch.model import HastResource, HastRole, NodeState, TransitionKind
from carpswitch.topology import Group

log = logging.getLogger(__name__)

BOOT_WINDOW_NAME = "boot-window"


class BootWindow:
    """`run_dir/boot-window`: present from `reconcile --boot` until boot rules have run."""

    def __init__(self, run_dir: str) -> None:
        self.path = Path(run_dir) / BOOT_WINDOW_NAME

    def open(self) -> None:
        """Boot has begun: reconciles follow the boot rules until one has finished."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as marker:
            marker.write(f"{os.getpid()} {time.time():.0f}\n")

    def is_open(self) -> bool:
        """Whether the boot rules apply; a marker that cannot be looked at counts as open."""
        try:
            os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    def close(self) -> None:
        """The boot rules have run: events reconcile normally from now on."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def peer_may_hold(decisions: Sequence[Decision], state: NodeState) -> list[Group]:
    """Groups CARP would promote while none of their resources is primary here: at boot the
    peer may be primary for them and unable to connect yet."""
    return [
        d.group
        for d in decisions
        if d.action is TransitionKind.PROMOTE
        and not any(
            (r := state.resource(name)) is not None and r.role is HastRole.PRIMARY
            for name in d.group.resources
        )
    ]


def any_init(group: Group, state: NodeState) -> bool:
    """Whether a resource of `group` is in `init` (a primary peer cannot connect to it)."""
    return any(
        (r := state.resource(name)) is not None and r.role is HastRole.INIT
        for name in group.resources
    )


def wait_for_peer(
    read_hast: Callable[[], list[HastResource]],
    groups: Sequence[Group],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> list[str]:
    """Give a primary peer up to `timeout` s to connect to each group; the groups it did.

    `stop` (SIGTERM) ends the wait early: nothing is promoted by a stopping daemon anyway.
    """
    connected: list[str] = []

    def every_group_connected() -> bool:
        try:
            resources = read_hast()
        except (CommandError, ParseError) as exc:
            log.debug("boot: hastctl list while waiting for the peer: %s", exc)
            return False
        connected[:] = [g.name for g in groups if remote_primary_connected(g, resources)]
        return len(connected) == len(groups)

    log.info(
        "boot: giving a primary peer up to %g s to connect (groups %s)",
        timeout,
        ", ".join(g.name for g in groups),
    )
    wait_until(lambda: stop() or every_group_connected(), timeout, sleep, first_interval=0.2)
    return connected
