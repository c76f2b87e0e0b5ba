"""umount(8): unmount by mount point or device; `Device busy` unless -f."""

from __future__ import annotations

import getopt
import os

from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import MountState

USAGE = (
    "usage: umount [-fNnv] special ... | node ... | fsid ...\n"
    "       umount -a | -A [-F fstab] [-fnv] [-h host] [-t type]\n"
)


def run(ctx: ShimContext, args: list[str]) -> int:
    """umount with `args`; one failure makes the exit status 1."""
    try:
        options, names = getopt.getopt(args, "AaF:fh:Nnt:v")
    except getopt.GetoptError:
        ctx.err.write(USAGE)
        return 1
    force = any(name == "-f" for name, _ in options)
    if not names:
        ctx.err.write(USAGE)
        return 1
    status = 0
    for name in names:
        status |= _unmount(ctx, name, force)
    return status


def _unmount(ctx: ShimContext, name: str, force: bool) -> int:
    absolute = os.path.abspath(name) if name.startswith((".", "/")) else name
    with ctx.store.locked():
        mounts = ctx.store.read(MountState)
        entry = next(
            (m for m in reversed(mounts.mounts) if absolute in (m.mountpoint, m.device)), None
        )
        if entry is None:
            return _not_mounted(ctx, name)
        if entry.busy and not force:
            ctx.warn(f"umount: unmount of {entry.mountpoint} failed: Device busy")
            return 1
        mounts.mounts.remove(entry)
        ctx.store.write(mounts)
    # The file system's condition is left as is: it was clean when mounted read-write, and
    # only losing its provider while mounted (see hastd workers) makes it dirty.
    return 0


def _not_mounted(ctx: ShimContext, name: str) -> int:
    if os.path.isdir(name):
        ctx.warn(f"umount: {name}: not a file system root directory")
        return 1
    if not os.path.exists(name):
        ctx.warn(f"umount: {name}: statfs: No such file or directory")
    ctx.warn(f"umount: {name}: unknown file system")
    return 1
