"""HAST steps: guard, wait for release, set role, wait for the provider."""

from __future__ import annotations

import os

from carpswitch.engine.step import Step, StepContext, StepFailed, StepTimedOut, wait_until
from carpswitch.model import HastResource, HastRole
from carpswitch.system import commands
from carpswitch.system.processes import hastd_pid, hastd_workers


def hast_resource(ctx: StepContext, name: str) -> HastResource:
    """What hastctl says of `name` now; StepFailed when hastd does not know it."""
    found = next((r for r in ctx.observer.hast() if r.name == name), None)
    if found is None:
        raise StepFailed(f"hastctl does not report resource {name}")
    if found.error:
        raise StepFailed(f"hastd answered error {found.error} for resource {name}")
    return found


class Guard(Step):
    """The resource is in hast.conf and the config, and hastd knows it."""

    changes_node = False

    kind = "guard"
    timeout_key = "observe"

    def describe(self) -> str:
        return f"check that {self.resource} is configured here and known to hastd"

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        if self.resource not in ctx.topology.resources:
            raise StepFailed(f"resource {self.resource} is not in hast.conf for this node")
        mine = [p for p in ctx.topology.problems if f"'{self.resource}'" in p]
        if mine:
            raise StepFailed("; ".join(mine))
        role = hast_resource(ctx, self.resource).role
        return f"role {role}"


class WaitRelease(Step):
    """Wait until the old primary has let go: no `hastd: NAME (secondary)` worker remains.

    A secondary worker lives while a remote primary is connected (hastd.c listen_accept);
    the FreeBSD scripts wait for it to vanish before promoting. Bounded by `release`.
    """

    changes_node = False

    kind = "wait_release"
    timeout_key = "release"

    def describe(self) -> str:
        return f"wait until no 'hastd: {self.resource} (secondary)' worker remains"

    def is_done(self, ctx: StepContext) -> bool:
        assert self.resource is not None
        return hast_resource(ctx, self.resource).role is HastRole.PRIMARY

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        name = self.resource
        timeout = ctx.timeout(self.timeout_key)
        parent = hastd_pid(ctx.topology.hastd_pidfile)

        def workers() -> list[int]:
            return hastd_workers(name, "secondary", parent)

        if not wait_until(lambda: not workers(), timeout, ctx.sleep):
            pids = ", ".join(map(str, workers()))
            raise StepTimedOut(
                f"the old primary still holds {name} after {timeout:g} s "
                f"(secondary worker pid {pids})"
            )
        return "released"


class SetRole(Step):
    """`hastctl role ROLE NAME` (role primary is taken back by the demotion's secondary).

    Skipped only when hastctl positively says the resource already has the role: `role
    secondary` is harmless to repeat, and a read that fails must never leave a primary.
    """

    kind = "hast_role"
    timeout_key = "role"

    def __init__(self, resource: str, role: HastRole) -> None:
        super().__init__(resource)
        self.role = role

    def describe(self) -> str:
        return f"hastctl role {self.role} {self.resource}"

    def is_done(self, ctx: StepContext) -> bool:
        assert self.resource is not None
        return hast_resource(ctx, self.resource).role is self.role

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        argv = commands.hastctl_role(ctx.config.paths.hast_conf, self.role, [self.resource])
        result = ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key))
        return (result.stdout + result.stderr).strip()


class WaitDevice(Step):
    """Wait for /dev/hast/NAME: `hastctl role primary` returns before the worker creates it."""

    changes_node = False

    kind = "wait_device"
    timeout_key = "device"

    def __init__(self, resource: str, device: str) -> None:
        super().__init__(resource)
        self.device = device

    def describe(self) -> str:
        return f"wait for {self.device}"

    def is_done(self, ctx: StepContext) -> bool:
        return os.path.exists(self.device)

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        timeout = ctx.timeout(self.timeout_key)
        if wait_until(lambda: os.path.exists(self.device), timeout, ctx.sleep):
            return f"{self.device} present"
        role = hast_resource(ctx, self.resource).role
        raise StepTimedOut(f"{self.device} did not appear within {timeout:g} s (role now {role})")
