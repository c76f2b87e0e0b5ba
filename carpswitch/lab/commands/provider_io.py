"""I/O on a new primary's /dev/hast/NAME waits until hastd serves it.

primary.c hastd_primary creates the GEOM Gate device (init_ggate) before init_remote, and
starts the thread that takes requests from the kernel (ggate_recv_thread) only after it:
until the peer has answered, or the connection attempt has timed out after hast.conf's
`timeout`, every read or write on the provider - fsck, mount, zpool import - blocks.
"""

from __future__ import annotations

import time

from carpswitch.lab.commands.fsinfo import hast_resource_of
from carpswitch.lab.context import ShimContext
from carpswitch.lab.daemons import pid_alive
from carpswitch.lab.state import HastKnobState

_POLL = 0.05


def wait_until_served(ctx: ShimContext, device: str) -> None:
    """Block, as the first I/O on `device` would, until its primary worker serves it."""
    name = hast_resource_of(ctx, device)
    if name is None:
        return
    while True:
        knobs = ctx.store.read(HastKnobState).knobs(name)
        worker = knobs.io_wait_worker
        alive = worker is not None and pid_alive(worker)
        remaining = knobs.io_blocked_for(time.time(), alive)
        if remaining <= 0:
            return
        time.sleep(min(_POLL, remaining))
