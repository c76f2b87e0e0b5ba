"""Is a resource's storage in place? Pure rules over what `mount -p` and `zpool list` said
(pool health: carpswitch.fsck.zfs).

"Mounted" means this HAST device is mounted at its mount point, and the device exists: a
mount whose provider went away (the worker exited, `hastctl role init`) stays in the mount
table under the old name, but it is a dead file system that was never checked after it
lost its disk. Steps, verification and decisions all ask these functions, so the rule is
the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from carpswitch.model import Mount, Pool


def _same(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def mounts_at(mounts: Sequence[Mount], mountpoint: str) -> list[Mount]:
    """Entries mounted at `mountpoint`, in `mount -p` order (the last one is on top)."""
    return [m for m in mounts if _same(m.mountpoint, mountpoint)]


def mounted_here(
    mounts: Sequence[Mount], device: str, mountpoint: str, device_present: bool
) -> bool:
    """True when `device` (present now) is what is mounted on top at `mountpoint`."""
    here = mounts_at(mounts, mountpoint)
    return device_present and bool(here) and _same(here[-1].device, device)


def stale_mounts(
    mounts: Sequence[Mount], device: str, mountpoint: str, device_present: bool
) -> list[Mount]:
    """Entries at `mountpoint` that are not `device`'s live provider, top one first.

    Another device mounted there, or this device's name while the device does not exist
    (its provider vanished under the mount). They must go (`umount -f`) before fsck.
    """
    return [
        m
        for m in reversed(mounts_at(mounts, mountpoint))
        if not (device_present and _same(m.device, device))
    ]


def pool_imported(pools: Sequence[Pool], name: str) -> bool:
    """True when `zpool list` shows the pool (whatever its health)."""
    return any(p.name == name for p in pools)
