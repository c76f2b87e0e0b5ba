"""Group steps: the pre_promote hook, services, verification and giving CARP away."""

from __future__ import annotations

import os

from carpswitch.config import ResourceKind
from carpswitch.engine.demotion import take_back
from carpswitch.engine.step import Step, StepContext, StepFailed
from carpswitch.engine.steps_fs import is_mounted
from carpswitch.engine.storage_rules import USABLE_HEALTH, pool_health
from carpswitch.errors import CommandError, CommandFailed
from carpswitch.model import HastRole
from carpswitch.system import commands
from carpswitch.topology import Group


class PrePromoteHook(Step):
    """Run the configured `pre_promote` hook: `HOOK GROUP VHID [IFACE]`; non-zero vetoes."""

    changes_node = False

    kind = "pre_promote"
    timeout_key = "hook"

    def __init__(self, group: Group, path: str) -> None:
        super().__init__()
        self.group = group
        self.path = path

    def describe(self) -> str:
        return (
            f"{self.path} {self.group.name} {self.group.vhid} {self.group.interface or ''}".rstrip()
        )

    def do(self, ctx: StepContext) -> str:
        args = [self.group.name, str(self.group.vhid)]
        if self.group.interface:
            args.append(self.group.interface)
        try:
            result = ctx.runner.run(self.path, *args, timeout=ctx.timeout(self.timeout_key))
        except CommandFailed as exc:
            reason = (exc.stderr or exc.stdout).strip() or "no reason given"
            raise StepFailed(f"pre_promote hook vetoed (exit {exc.exit_status}): {reason}") from exc
        return result.stdout.strip()


def _service_running(ctx: StepContext, name: str) -> bool:
    return ctx.observer.service(name).running


class StartService(Step):
    """Start a service after promotion, or reload it when it already runs.

    Uses rc.subr's `one` prefix (`onestart`, `onereload`): HA-managed services stay
    disabled in rc.conf so that they do not start at boot on the wrong node. A reload that
    fails becomes a restart. Nothing runs when the service runs and no storage changed.
    The demotion's StopService takes it back.
    """

    kind = "service_start"
    timeout_key = "service"

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def describe(self) -> str:
        return f"service {self.service} onestart (onereload if running)"

    def is_done(self, ctx: StepContext) -> bool:
        return not ctx.changed and _service_running(ctx, self.service)

    def do(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        if not _service_running(ctx, self.service):
            return ctx.runner.run(
                *commands.service(self.service, "onestart"), timeout=timeout
            ).stdout.strip()
        try:
            return ctx.runner.run(
                *commands.service(self.service, "onereload"), timeout=timeout
            ).stdout.strip()
        except CommandError as exc:  # e.g. nfsd: "unknown directive 'reload'." (no reload)
            restarted = ctx.runner.run(
                *commands.service(self.service, "onerestart"), timeout=timeout
            ).stdout.strip()
            return f"onereload failed ({str(exc).splitlines()[0]}); onerestart: {restarted}"


class StopService(Step):
    """`service NAME onestop` before the storage goes away."""

    kind = "service_stop"
    timeout_key = "service"

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def describe(self) -> str:
        return f"service {self.service} onestop"

    def is_done(self, ctx: StepContext) -> bool:
        return not _service_running(ctx, self.service)

    def do(self, ctx: StepContext) -> str:
        argv = commands.service(self.service, "onestop")
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class Verify(Step):
    """After promotion: every resource primary with its provider, attached, services up."""

    changes_node = False
    reads_only = True

    kind = "verify"
    timeout_key = "observe"

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group = group

    def describe(self) -> str:
        return f"verify group {self.group.name}: roles, providers, mounts/pools, services"

    def do(self, ctx: StepContext) -> str:
        wrong = []
        hast = {r.name: r for r in ctx.observer.hast()}
        kinds = {ctx.topology.resources[n].kind for n in self.group.resources}
        mounts = ctx.observer.mounts() if ResourceKind.UFS in kinds else []
        pools = ctx.observer.pools() if ResourceKind.ZFS in kinds else []
        for name in self.group.resources:
            resource = ctx.topology.resources[name]
            observed = hast.get(name)
            if observed is None or observed.role is not HastRole.PRIMARY:
                wrong.append(f"{name} is not primary")
            if not os.path.exists(resource.device):
                wrong.append(f"{resource.device} is missing")
            if resource.kind is ResourceKind.UFS and not is_mounted(ctx, resource, mounts):
                wrong.append(f"{resource.device} is not mounted at {resource.mountpoint}")
            health = pool_health(pools, resource.pool or "")
            if resource.kind is ResourceKind.ZFS and health not in USABLE_HEALTH:
                wrong.append(f"pool {resource.pool} is {health or 'not imported'}")
        for service in self.group.services:
            if not _service_running(ctx, service):
                wrong.append(f"service {service} is not running")
        if wrong:
            raise StepFailed("; ".join(wrong))
        return "all in place"


class RaiseDemotion(Step):
    """`sysctl net.inet.carp.demotion=+N`: the peer (with preempt) takes the address."""

    kind = "carp_demote"
    timeout_key = "observe"

    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = amount

    def describe(self) -> str:
        return f"sysctl {commands.DEMOTION_SYSCTL}={self.amount} (adds {self.amount})"

    def do(self, ctx: StepContext) -> str:
        argv = commands.sysctl_set(commands.DEMOTION_SYSCTL, self.amount)
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class ForceBackup(Step):
    """`ifconfig IFACE vhid N state backup`: give the address away now."""

    kind = "carp_backup"
    timeout_key = "observe"

    def __init__(self, interface: str, vhid: int) -> None:
        super().__init__()
        self.interface = interface
        self.vhid = vhid

    def describe(self) -> str:
        return f"ifconfig {self.interface} vhid {self.vhid} state backup"

    def do(self, ctx: StepContext) -> str:
        argv = commands.ifconfig_carp_state(self.interface, self.vhid, "backup")
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class LowerDemotion(Step):
    """Take back the demotion an earlier failed promotion added (`sysctl ...=-N`), never
    more than is there (carpswitch.engine.demotion).

    Undone (what was taken back is added again) when the promotion fails after it: the
    demotion plan does not know about it, and failover.json still remembers it as added.
    """

    kind = "carp_undemote"
    timeout_key = "observe"
    reversible = True

    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = amount
        self.taken = 0  # what `do` really took back: what `undo` adds again

    def describe(self) -> str:
        return f"sysctl {commands.DEMOTION_SYSCTL}=-{self.amount} (take back our demotion)"

    def do(self, ctx: StepContext) -> str:
        taken = take_back(ctx.observer, self.amount, ctx.timeout(self.timeout_key))
        self.taken = taken.amount
        return taken.message

    def undo(self, ctx: StepContext) -> str:
        if not self.taken:
            return "nothing to add again: nothing was taken back"
        return RaiseDemotion(self.taken).do(ctx)
