"""Plans: which steps a promotion or demotion of a group runs, in which order.

`carpswitch plan` prints exactly the plan that `promote`/`demote` execute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carpswitch.actions.carp import ForceBackup, LowerDemotion, RaiseDemotion
from carpswitch.actions.guards import PeerGuard, WitnessGuard
from carpswitch.actions.hast import Guard, LeaveInit, SetRole, WaitDevice, WaitRelease
from carpswitch.actions.hooks import PrePromoteHook
from carpswitch.actions.services import StartService, StopService
from carpswitch.actions.ufs import Fsck, MountUfs, Unmount, UnmountStale
from carpswitch.actions.verify import Verify
from carpswitch.actions.zfs import CheckPool, ExportPool, ImportPool, MountDatasets
from carpswitch.config import Config, ResourceKind
from carpswitch.engine.step import BatchedStep, Step
from carpswitch.model import HastRole, TransitionKind
from carpswitch.topology import Group, Resource, Topology


@dataclass
class Plan:
    """Steps of one transition: `before` in order, then `chains` (one per resource, in
    parallel, steps in order; batched steps of all chains run together, see `stages`),
    then `after` in order.

    A promotion that fails runs `rollback` (the group's demotion: it also takes down what
    was up before the promotion began), then `give_away`.
    """

    kind: TransitionKind
    group: Group
    before: list[Step] = field(default_factory=list)
    chains: dict[str, list[Step]] = field(default_factory=dict)
    after: list[Step] = field(default_factory=list)
    rollback: Plan | None = None
    give_away: list[Step] = field(default_factory=list)


def stages(chain: list[Step]) -> tuple[list[list[Step]], list[BatchedStep | None]]:
    """A resource chain cut at its batched steps: `pieces[i]`, then `batched[i]` (None
    after the last piece). The executor runs stage i of every chain together: the pieces in
    parallel, then the batched steps as one command (`hastctl role primary r1 r2 ...`)."""
    pieces: list[list[Step]] = [[]]
    batched: list[BatchedStep | None] = []
    for step in chain:
        if isinstance(step, BatchedStep):
            batched.append(step)
            pieces.append([])
        else:
            pieces[-1].append(step)
    batched.append(None)
    return pieces, batched


def promote_chain(resource: Resource, group: Group) -> list[Step]:
    """Guard, leave init (the peer's chance), release, role primary, provider, then what
    the kind needs.

    A UFS clears a stale mount off its mount point before the provider comes back: then
    anything mounted there is stale, afterwards the name alone could not tell.
    """
    name = resource.name
    steps: list[Step] = [Guard(name), LeaveInit(name, group), WaitRelease(name)]
    if resource.kind is ResourceKind.UFS:
        steps.append(UnmountStale(resource))
    steps += [SetRole(name, HastRole.PRIMARY), WaitDevice(name, resource.device)]
    if resource.kind is ResourceKind.UFS:
        steps += [Fsck(resource), MountUfs(resource)]
    elif resource.kind is ResourceKind.ZFS:
        steps += [ImportPool(resource), MountDatasets(resource), CheckPool(resource)]
    return steps


def demote_chain(resource: Resource) -> list[Step]:
    """Unmount or export, then role secondary (always last: it destroys the provider)."""
    steps: list[Step] = []
    if resource.kind is ResourceKind.UFS:
        steps.append(Unmount(resource))
    elif resource.kind is ResourceKind.ZFS:
        steps.append(ExportPool(resource))
    steps.append(SetRole(resource.name, HastRole.SECONDARY))
    return steps


def plan_promote(
    topology: Topology,
    group: Group,
    config: Config,
    interface: str | None,
    demotion_added: int = 0,
    guards: bool = True,
) -> Plan:
    """Promotion of `group`; `interface` is where its vhid lives (for giving it away).

    `demotion_added` is what earlier failed promotions added to net.inet.carp.demotion:
    a success takes it back; a failure does not add more. The configured guards come
    first (`guards` False: an admin's --force).
    """
    plan = Plan(TransitionKind.PROMOTE, group, rollback=plan_demote(topology, group))
    if guards:
        plan.before += guard_steps(config, group)
    if config.hooks.pre_promote:
        plan.before.append(PrePromoteHook(group, config.hooks.pre_promote))
    for name in group.resources:
        resource = topology.resources.get(name)
        plan.chains[name] = promote_chain(resource, group) if resource else [Guard(name)]
    plan.after = [StartService(s) for s in group.services] + [Verify(group)]
    if demotion_added:
        plan.after.append(LowerDemotion(demotion_added))
    plan.give_away = give_away_steps(config, group, interface, demotion_added)
    return plan


def guard_steps(config: Config, group: Group) -> list[Step]:
    """The witness and the peer's view, as configured ([guards])."""
    steps: list[Step] = []
    if config.guards.witnesses:
        steps.append(WitnessGuard(list(config.guards.witnesses)))
    if config.guards.peer_view:
        steps.append(PeerGuard(group))
    return steps


def give_away_steps(
    config: Config, group: Group, interface: str | None, demotion_added: int
) -> list[Step]:
    """Giving the address away: the CARP demotion (unless carpswitch's is still there from
    this boot: it is added once), and `state backup` now."""
    steps: list[Step] = []
    if not demotion_added:
        steps.append(RaiseDemotion(config.failover.demotion))
    if config.failover.force_backup and interface:
        steps.append(ForceBackup(interface, group.vhid))
    return steps


def plan_demote(topology: Topology, group: Group, give_away: list[Step] | None = None) -> Plan:
    """Demotion of `group`: services in reverse order, then every resource to secondary;
    then `give_away` (a guard's demotion: the peer should take the address)."""
    plan = Plan(TransitionKind.DEMOTE, group)
    plan.before = [StopService(s) for s in reversed(group.services)]
    for name in group.resources:
        resource = topology.resources.get(name)
        plan.chains[name] = demote_chain(resource) if resource else [Guard(name)]
    plan.after = list(give_away or [])
    return plan
