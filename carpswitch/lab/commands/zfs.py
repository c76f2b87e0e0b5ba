"""zfs(8): just enough for the controller: `zfs mount -a`, `zfs unmount|umount -a`."""

from __future__ import annotations

from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import PoolState

EX_USAGE = 2


def run(ctx: ShimContext, args: list[str]) -> int:
    """zfs with `args`: mount/unmount of all datasets succeed silently."""
    if args in (["mount", "-a"], ["unmount", "-a"], ["umount", "-a"], ["unmount", "-fa"]):
        return 0
    if args[:1] == ["list"]:
        for pool in ctx.store.read(PoolState).pools:
            if pool.imported:
                ctx.print(
                    pool.name if "-H" in args else f"{pool.name}\t1.05M\t61.5M\t96K\t/{pool.name}"
                )
        return 0
    ctx.err.write("usage: zfs mount -a | zfs unmount -a | zfs list (simulated subset)\n")
    return EX_USAGE
