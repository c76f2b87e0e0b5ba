"""What sits on the provider: UFS (fsck, mount, unmount) and ZFS (import, check, export)."""

from __future__ import annotations

import os
import time

from carpswitch.config import FsckPolicy
from carpswitch.engine.step import AlreadyDone, Step, StepContext, StepFailed
from carpswitch.engine.storage_rules import (
    USABLE_HEALTH,
    mounted_here,
    pool_health,
    stale_mounts,
)
from carpswitch.errors import CommandError, CommandFailed, CommandTimedOut
from carpswitch.model import Mount
from carpswitch.system import commands
from carpswitch.topology import Resource


def is_mounted(ctx: StepContext, resource: Resource, mounts: list[Mount] | None = None) -> bool:
    """This resource's device, present now, is mounted at its mount point."""
    assert resource.mountpoint is not None
    return mounted_here(
        ctx.observer.mounts() if mounts is None else mounts,
        resource.device,
        resource.mountpoint,
        os.path.exists(resource.device),
    )


class ResourceStep(Step):
    """A step about one configured resource."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.name)
        self.target = resource

    @property
    def mountpoint(self) -> str:
        assert self.target.mountpoint is not None
        return self.target.mountpoint

    @property
    def pool(self) -> str:
        assert self.target.pool is not None
        return self.target.pool


class Fsck(ResourceStep):
    """Check the UFS on the provider; never let an unchecked file system be mounted.

    `fsck -p` (preen) first. When it fails: policy `full` runs `fsck -y`; `refuse` and
    `preen` fail the step, so the file system is not mounted.
    """

    kind = "fsck"
    timeout_key = "fsck"

    def describe(self) -> str:
        extra = " (then fsck -y if that fails)" if self.target.fsck is FsckPolicy.FULL else ""
        return f"fsck -t ufs -p {self.target.device}{extra}"

    def is_done(self, ctx: StepContext) -> bool:
        return is_mounted(ctx, self.target)  # checked before it was mounted

    def do(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        try:
            preen = ctx.runner.run(
                *commands.fsck_ufs(self.target.device, repair=False), timeout=timeout
            )
            return preen.stdout.strip()
        except CommandFailed as exc:
            if self.target.fsck is not FsckPolicy.FULL:
                raise StepFailed(
                    f"fsck -p failed (exit {exc.exit_status}) and fsck policy is "
                    f"{self.target.fsck}: not mounting {self.target.device}: "
                    f"{(exc.stderr or exc.stdout).strip()}"
                ) from exc
        full = ctx.runner.run(*commands.fsck_ufs(self.target.device, repair=True), timeout=timeout)
        return full.stdout.strip()


class UnmountStale(ResourceStep):
    """`umount -f MNT` for whatever sits on the mount point that is not DEV's live provider.

    A provider that vanished under a mounted UFS (role init, a dead worker) leaves its
    entry in the mount table; the file system on it was never checked since. It runs
    before `hastctl role primary` creates the device again: with no device, anything
    mounted there is stale. Not undone: nothing alive was there.
    """

    kind = "umount_stale"
    timeout_key = "umount"

    def describe(self) -> str:
        return f"umount -f {self.mountpoint} if a stale mount is there"

    def _stale(self, ctx: StepContext) -> list[Mount]:
        return stale_mounts(
            ctx.observer.mounts(),
            self.target.device,
            self.mountpoint,
            os.path.exists(self.target.device),
        )

    def is_done(self, ctx: StepContext) -> bool:
        return not self._stale(ctx)

    def do(self, ctx: StepContext) -> str:
        removed = []
        for entry in self._stale(ctx):
            argv = commands.umount(self.mountpoint, force=True)
            ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key))
            removed.append(f"{entry.device} on {entry.mountpoint}")
        return "forced off: " + ", ".join(removed) if removed else "nothing stale"


class MountUfs(ResourceStep):
    """`mount -t ufs DEV MNT` (the demotion's Unmount takes it back)."""

    kind = "mount"
    timeout_key = "mount"

    def describe(self) -> str:
        return f"mount -t ufs {self.target.device} {self.mountpoint}"

    def is_done(self, ctx: StepContext) -> bool:
        return is_mounted(ctx, self.target)

    def do(self, ctx: StepContext) -> str:
        if not os.path.isdir(self.mountpoint):
            raise StepFailed(f"mount point {self.mountpoint} is not a directory")
        argv = commands.mount_ufs(self.target.device, self.mountpoint, self.target.mount_options)
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class Unmount(ResourceStep):
    """`umount MNT`, retried while busy for `umount_grace` seconds, then `umount -f MNT`.

    A hung umount goes straight to `-f`: the provider is about to be destroyed anyway
    (`hastctl role secondary` removes it even when mounted), and two primaries are worse.
    No look at the mount table first: a table that lies empty would leave the file system
    mounted under `role secondary`. umount always runs; its own "not a file system root
    directory" means nothing was there (AlreadyDone).
    """

    kind = "umount"
    timeout_key = "umount"

    def describe(self) -> str:
        return f"umount {self.mountpoint} (umount -f if still busy after the grace period)"

    def do(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        deadline = time.monotonic() + ctx.timeout("umount_grace")
        busy = 0
        while True:
            try:
                ctx.runner.run(*commands.umount(self.mountpoint), timeout=timeout)
                return f"unmounted after {busy} busy attempts" if busy else "unmounted"
            except CommandTimedOut as exc:
                last: CommandError = exc  # a hang does not clear by itself: force now
                break
            except CommandFailed as exc:
                if _not_mounted(exc, self.mountpoint):
                    raise AlreadyDone(f"not mounted: {exc.stderr.strip()}") from exc
                last, busy = exc, busy + 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ctx.sleep(min(0.5, remaining))
        ctx.runner.run(*commands.umount(self.mountpoint, force=True), timeout=timeout)
        return f"forced: {last}"


def _not_mounted(exc: CommandFailed, mountpoint: str) -> bool:
    """umount's own word that nothing is mounted on the directory (umount.c checkname)."""
    return f"{mountpoint}: not a file system root directory" in exc.stderr


class ImportPool(ResourceStep):
    """`zpool import -o cachefile=none -f -N -d /dev/hast POOL` (the demotion's ExportPool
    takes it back).

    Done only when the pool is imported and usable. A pool that is listed but not usable
    (UNAVAIL: opened from a stale zpool.cache at boot, before /dev/hast existed) blocks the
    import ("a pool with that name already exists"), so it is exported first.
    """

    kind = "zpool_import"
    timeout_key = "import_"

    def describe(self) -> str:
        return (
            f"zpool import -o cachefile=none -f -N -d {provider_dir(self.target)} {self.pool}"
            " (export it first if listed but not usable)"
        )

    def is_done(self, ctx: StepContext) -> bool:
        return pool_health(ctx.observer.pools(), self.pool) in USABLE_HEALTH

    def do(self, ctx: StepContext) -> str:
        done = []
        health = pool_health(ctx.observer.pools(), self.pool)
        if health is not None and health not in USABLE_HEALTH:
            try:
                exported = ExportPool(self.target).do(ctx)
            except AlreadyDone as gone:  # gone since the look: the import goes on
                exported = str(gone)
            done.append(f"{self.pool} was listed {health}, export first: {exported}")
        argv = commands.zpool_import(self.pool, provider_dir(self.target))
        output = ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()
        return "; ".join([*done, output or "imported"])


def provider_dir(resource: Resource) -> str:
    """Directory of the provider (`/dev/hast`), where `zpool import -d` looks."""
    return os.path.dirname(resource.device)


class MountDatasets(ResourceStep):
    """`zfs mount -a`: mount the imported pool's datasets (the import used -N)."""

    changes_node = False

    kind = "zfs_mount"
    timeout_key = "mount"

    def describe(self) -> str:
        return f"zfs mount -a (datasets of {self.pool})"

    def do(self, ctx: StepContext) -> str:
        return ctx.runner.run(
            *commands.zfs_mount_all(), timeout=ctx.timeout(self.timeout_key)
        ).stdout.strip()


class CheckPool(ResourceStep):
    """The imported pool must be usable: ONLINE or DEGRADED."""

    changes_node = False
    reads_only = True

    kind = "zpool_health"
    timeout_key = "observe"

    def describe(self) -> str:
        return f"check that pool {self.pool} is ONLINE"

    def do(self, ctx: StepContext) -> str:
        health = pool_health(ctx.observer.pools(), self.pool)
        if health is None:
            raise StepFailed(f"pool {self.pool} is not imported")
        if health not in USABLE_HEALTH:
            raise StepFailed(f"pool {self.pool} is {health}")
        return f"pool {self.pool} {health}"


class ExportPool(ResourceStep):
    """`zpool export POOL`, then `zpool export -f POOL` when that fails or hangs.

    No look at `zpool list` first: a list that lies empty would leave the pool imported
    under `role secondary`. The export always runs; libzfs's own "no such pool" means the
    pool was not imported (AlreadyDone).
    """

    kind = "zpool_export"
    timeout_key = "export"

    def describe(self) -> str:
        return f"zpool export {self.pool} (export -f if busy)"

    def do(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        try:
            self._export(ctx, timeout, force=False)
            return "exported"
        except CommandError as first:
            self._export(ctx, timeout, force=True)
            return f"forced: {first}"

    def _export(self, ctx: StepContext, timeout: float, *, force: bool) -> None:
        try:
            ctx.runner.run(*commands.zpool_export(self.pool, force=force), timeout=timeout)
        except CommandFailed as exc:
            if _no_such_pool(exc, self.pool):
                raise AlreadyDone(f"not imported: {exc.stderr.strip()}") from exc
            raise


def _no_such_pool(exc: CommandFailed, pool: str) -> bool:
    """libzfs's word that the pool is not imported (zpool_open_canfail: EZFS_NOENT)."""
    return f"cannot open '{pool}': no such pool" in exc.stderr
