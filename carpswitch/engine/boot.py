"""Boot rules: never take a resource that the peer may hold.

After a reboot (or a hastd restart) hastd has every resource in `init`, and a primary peer
cannot connect to a resource in `init` (hastd.c listen_accept serves only a secondary); its
guard thread tries again every 10 s (primary.c guard_thread, HAST_KEEPALIVE), each attempt's
connect bounded by hast.conf `timeout` (proto_connect_wait). So "a connected secondary means
the peer is primary" can only be seen once this node is secondary, and only after the
peer's next attempt. The promotion itself keeps this rule (steps_hast.LeaveInit): a
resource in `init` goes to secondary first, and a resource that left `init` less than
`peer_bound` ago is not promoted before the peer had that long to connect. When it left
`init` is kept per resource in `run_dir/left-init/NAME` (LeftInit; run_dir is cleared at
every boot, like /var/run), in CLOCK_MONOTONIC seconds, which no clock step at boot moves.

On top of that, `reconcile --boot` opens a boot window (a marker in run_dir) so that the
first reconciles decide with the boot rules: a group CARP would promote is first taken to
secondary and the peer gets its chance before the decision, so a connected peer keeps the
node secondary without a failed promotion. The window is closed by the first reconcile
under boot rules that decided every group. A paused node keeps it open.
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
from carpswitch.topology import Group, Resource

log = logging.getLogger(__name__)

BOOT_WINDOW_NAME = "boot-window"
LEFT_INIT_DIR = "left-init"
#: hastd's primary retries a lost or refused connection this often (hast.h HAST_KEEPALIVE).
HAST_KEEPALIVE = 10.0


def peer_bound(resource: Resource, release: float) -> float:
    """How long a primary peer may need to connect once `resource` is secondary: its guard
    thread's next try (HAST_KEEPALIVE) plus that try's connect (hast.conf `timeout`), never
    longer than [timeouts] release (the wait for an old primary, which bounded this before)."""
    return min(HAST_KEEPALIVE + resource.hast_timeout, release)


class LeftInit:
    """`run_dir/left-init/NAME`: when carpswitch last took NAME from `init` to secondary."""

    def __init__(self, run_dir: str) -> None:
        self.directory = Path(run_dir) / LEFT_INIT_DIR

    def note(self, name: str) -> None:
        """NAME left `init` now (or may have: a role that could not be read counts)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as marker:
            marker.write(f"{time.monotonic():.3f}\n")

    def seconds_ago(self, name: str) -> float | None:
        """Seconds since NAME left `init`; None if never noted since boot. A note that cannot
        be read or parsed counts as "just now": the peer gets its whole chance."""
        try:
            text = (self.directory / name).read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("%s: cannot read %s: counting it as just now", name, exc)
            return 0.0
        try:
            return max(0.0, time.monotonic() - float(text.strip()))
        except ValueError:
            log.warning(
                "%s: left-init note %r is not a number: counting it as just now", name, text
            )
            return 0.0


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
            log.debug("hastctl list while waiting for the peer: %s", exc)
            return False
        connected[:] = [g.name for g in groups if remote_primary_connected(g, resources)]
        return len(connected) == len(groups)

    log.info(
        "giving a primary peer up to %g s to connect (groups %s)",
        timeout,
        ", ".join(g.name for g in groups),
    )
    wait_until(lambda: stop() or every_group_connected(), timeout, sleep, first_interval=0.2)
    return connected
