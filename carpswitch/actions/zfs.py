"""ZFS steps: import the pool from the HAST providers, mount its datasets, check its
health, export it (demotion)."""

from __future__ import annotations

import os

from carpswitch.actions.base import ResourceStep
from carpswitch.engine.step import AlreadyDone, StepContext
from carpswitch.errors import CommandError, CommandFailed
from carpswitch.fsck.zfs import USABLE_HEALTH, judge_pool, pool_health
from carpswitch.system import commands
from carpswitch.topology import Resource


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
        return pool_health(ctx.look.pools(self.pool), self.pool) in USABLE_HEALTH

    def do(self, ctx: StepContext) -> str:
        try:
            return self._import(ctx)
        finally:
            ctx.look.changed_pools(self.pool)

    def _import(self, ctx: StepContext) -> str:
        done = []
        health = pool_health(ctx.look.pools(self.pool), self.pool)
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
        return judge_pool(ctx.look.pools(self.pool), self.pool)


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
        finally:
            ctx.look.changed_pools(self.pool)

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
