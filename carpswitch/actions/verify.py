"""The promotion's last look: every resource primary with its storage, services up."""

from __future__ import annotations

import logging
import os

from carpswitch.actions.services import service_running
from carpswitch.actions.ufs import is_mounted
from carpswitch.config import ResourceKind
from carpswitch.engine.step import FIRST_PAUSE, LOOKS, Step, StepContext, StepFailed
from carpswitch.errors import CommandError, ParseError, one_line
from carpswitch.fsck.zfs import USABLE_HEALTH, pool_health
from carpswitch.model import HastRole
from carpswitch.topology import Group

log = logging.getLogger(__name__)


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
        """Look (a fresh phase); when a read fails, look again, LOOKS times in all.

        Verify runs after the promotion changed the node, so whatever it raises rolls the
        promotion back (a whole demotion): one `hastctl list` that failed during a repair
        promotion of a serving primary must not be what fails the node over. A finding
        (something not in place) fails at once, as before.
        """
        pause = FIRST_PAUSE
        for look in range(1, LOOKS + 1):
            try:
                return self._look(ctx)
            except (CommandError, ParseError) as exc:
                if look == LOOKS or ctx.abort.is_set():
                    raise
                log.warning(
                    "verify %s: could not read the node (%s); looking again in %g s",
                    self.group.name,
                    one_line(str(exc)),
                    pause,
                )
                ctx.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")  # the last look returned or raised

    def _look(self, ctx: StepContext) -> str:
        wrong = []
        ctx.new_phase()  # verify is its own phase: one fresh look after the changes
        kinds = {ctx.topology.resources[n].kind for n in self.group.resources}
        mounts = ctx.look.mounts() if ResourceKind.UFS in kinds else []
        pools = ctx.look.pools() if ResourceKind.ZFS in kinds else []
        for name in self.group.resources:
            resource = ctx.topology.resources[name]
            observed = ctx.look.hast(name)
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
            if not service_running(ctx, service):
                wrong.append(f"service {service} is not running")
        if wrong:
            raise StepFailed("; ".join(wrong))
        return "all in place"
