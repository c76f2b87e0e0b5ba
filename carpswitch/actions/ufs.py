"""UFS steps: force a stale mount off, check (carpswitch.fsck.ufs) and mount the file system;
unmount it (demotion)."""

from __future__ import annotations

import os
import time

from carpswitch.actions.base import ResourceStep
from carpswitch.actions.storage_rules import mounted_here, stale_mounts
from carpswitch.engine.step import AlreadyDone, StepContext, StepFailed
from carpswitch.errors import CommandError, CommandFailed, CommandTimedOut
from carpswitch.fsck.ufs import check_ufs, describe_check
from carpswitch.model import Mount
from carpswitch.system import commands
from carpswitch.topology import Resource


def is_mounted(ctx: StepContext, resource: Resource, mounts: list[Mount] | None = None) -> bool:
    """This resource's device, present now, is mounted at its mount point (in `mounts`,
    else in this phase's look)."""
    assert resource.mountpoint is not None
    return mounted_here(
        ctx.look.mounts(resource.mountpoint) if mounts is None else mounts,
        resource.device,
        resource.mountpoint,
        os.path.exists(resource.device),
    )


class Fsck(ResourceStep):
    """Check the UFS on the provider; never let an unchecked file system be mounted.

    `fsck -p` (preen) first. When it fails: policy `full` runs `fsck -y`; `refuse` and
    `preen` fail the step, so the file system is not mounted.
    """

    kind = "fsck"
    timeout_key = "fsck"

    def describe(self) -> str:
        return describe_check(self.target.device, self.target.fsck)

    def is_done(self, ctx: StepContext) -> bool:
        return is_mounted(ctx, self.target)  # checked before it was mounted

    def do(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        return check_ufs(ctx.runner, self.target.device, self.target.fsck, timeout)


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
            ctx.look.mounts(self.mountpoint),
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
            try:
                ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key))
            finally:
                ctx.look.changed_mounts(self.mountpoint)
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
        try:
            return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()
        finally:
            ctx.look.changed_mounts(self.mountpoint)


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
        try:
            return self._unmount(ctx)
        finally:
            ctx.look.changed_mounts(self.mountpoint)

    def _unmount(self, ctx: StepContext) -> str:
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
