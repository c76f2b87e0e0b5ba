"""Decide, from what is observed now, what each group needs: promote, demote or nothing.

Level-triggered (Patroni's habit): an event only wakes the controller up; the decision
comes from CARP and HAST as they are when it holds the lock, with a one-line reason that
the caller logs and tests assert on.

Three rules keep a healthy node safe from its own controller:
* a fact the group needs that could not be read is never a reason to act: the decision is
  "nothing now, look again" (`unread` names the facts), in both directions;
* a group whose configuration has a problem that blocks the way CARP points is refused
  (`refused` names that way): no transition starts, whatever else is observed. A problem
  that only blocks promotion (a resource not in hast.conf) still lets the known resources
  be demoted (topology: ambiguous vs incomplete problems);
* a configured vhid that is gone (address removed, interface destroyed) counts as INIT;
* a group with a resource marked split-brain (carpswitch.engine.splitbrain) is never
  promoted: CARP MASTER gets a `refused` promotion, an already primary group is left as it
  is (nothing is healed automatically), and CARP BACKUP still demotes;
* the guards (witness, peer view: carpswitch.engine.guarded) may hold a promotion back or
  take a primary down, never promote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from carpswitch.actions.storage_rules import mounted_here, mounts_at, pool_imported
from carpswitch.config import ResourceKind
from carpswitch.engine.guarded import guard_verdict
from carpswitch.engine.splitbrain import Marks
from carpswitch.fsck.zfs import USABLE_HEALTH, pool_health
from carpswitch.guards.facts import GuardFacts
from carpswitch.model import (
    CarpState,
    HastResource,
    HastRole,
    HastStatus,
    NodeState,
    TransitionKind,
)
from carpswitch.system.observe import carp_fact
from carpswitch.topology import Group, Topology


@dataclass(frozen=True)
class Decision:
    """What one group needs now, and why."""

    group: Group
    action: TransitionKind | None
    reason: str
    unread: tuple[str, ...] = ()  # facts that could not be read: look again
    refused: TransitionKind | None = None  # what a config problem or split-brain stopped
    give_away: bool = False  # a demotion that also gives the CARP address away (guards)


@dataclass(frozen=True)
class Circumstances:
    """What besides CARP and HAST bears on a decision."""

    paused: bool = False  # maintenance: observe, never act
    held: bool = False  # too many failed promotions: stay BACKUP
    boot: bool = False  # first reconcile after boot
    #: subsystems (`VHID@IFACE` or `IFACE`) whose events kept coming past the bound: their
    #: groups take the safe side; other groups are judged as usual
    flapping: frozenset[str] = frozenset()
    split_brain: Marks = field(default_factory=Marks)  # resources hastd reported in split-brain
    guards: GuardFacts | None = None  # the witnesses and the peer's view, when configured


def decide(
    topology: Topology, state: NodeState, circumstances: Circumstances = Circumstances()
) -> list[Decision]:
    """One decision per group of the topology."""
    return [_decide_group(g, topology, state, circumstances) for g in topology.groups]


def needed_facts(group: Group, topology: Topology) -> list[str]:
    """The facts of NodeState a decision about `group` rests on, by NodeState.unreadable name."""
    facts = _carp_facts(group)
    kinds = {topology.resources[n].kind for n in group.resources if n in topology.resources}
    if group.resources:
        facts.append("hast")
    if ResourceKind.UFS in kinds:
        facts.append("mounts")
    if ResourceKind.ZFS in kinds:
        facts.append("pools")
    return facts + [f"service {name}" for name in group.services]


def _carp_facts(group: Group) -> list[str]:
    """`carp` (every interface, read when a group names none) and the group's interface."""
    return list(dict.fromkeys(["carp", carp_fact(group.interface)]))


def _decide_group(
    group: Group, topology: Topology, state: NodeState, now: Circumstances
) -> Decision:
    if now.paused:
        return Decision(group, None, "paused (carpswitch resume): observing only")
    if topology.problems_of(group) and not any(f in state.unreadable for f in _carp_facts(group)):
        kind = _carp_way(group, state)
        problems = topology.problems_of(group, kind)
        if problems:
            return _refuse(group, kind, problems[0])
    unread = _unread(group, topology, state)
    if unread:
        first, error = next(iter(unread.items()))
        return Decision(
            group, None, f"cannot read {first} ({error}): doing nothing", unread=tuple(unread)
        )
    blocked = _split_brain(group, topology, state, now.split_brain)
    if blocked is not None:
        return blocked
    verdict = (
        None
        if now.guards is None
        else guard_verdict(group, state, now.guards, _is_primary(group, topology, state))
    )
    if verdict is not None:
        return Decision(
            group,
            verdict.action,
            verdict.reason,
            refused=verdict.refused,
            give_away=verdict.give_away,
        )
    action, reason = _wanted(group, topology, state, now)
    return Decision(group, action, reason)


def _split_brain(
    group: Group, topology: Topology, state: NodeState, marks: Marks
) -> Decision | None:
    """No promotion of a group with a resource marked split-brain; None when it does not
    apply (no mark, or CARP points to a demotion, which is never refused)."""
    reason = marks.reason(group.resources)
    if reason is None or _carp_way(group, state) is not TransitionKind.PROMOTE:
        return None
    if _is_primary(group, topology, state):
        return Decision(group, None, f"{reason}; already primary, left as it is")
    return Decision(group, None, reason, refused=TransitionKind.PROMOTE)


def _carp_way(group: Group, state: NodeState) -> TransitionKind:
    """The way CARP points: MASTER promote, anything else (also a vhid gone) demote."""
    vhid = state.vhid(group.vhid, group.interface)
    if vhid is not None and vhid.state is CarpState.MASTER:
        return TransitionKind.PROMOTE
    return TransitionKind.DEMOTE


def _refuse(group: Group, kind: TransitionKind, problem: str) -> Decision:
    """No transition of a group whose configuration is wrong, whatever else is observed."""
    reason = f"{kind} refused, the configuration has a problem: {problem}"
    return Decision(group, None, reason, refused=kind)


def _unread(group: Group, topology: Topology, state: NodeState) -> dict[str, str]:
    """Needed facts that could not be read, with the error; a managed resource hastd did not
    report (or answered an error for) cannot be judged either."""
    unread = {
        f: state.unreadable[f] for f in needed_facts(group, topology) if f in state.unreadable
    }
    if "hast" in unread:
        return unread
    for name in group.resources:
        if name not in topology.resources:
            continue  # not in hast.conf: a configuration problem, refused below
        observed = state.resource(name)
        if observed is None:
            unread[f"hast {name}"] = "hastctl list does not report it"
        elif observed.error:
            unread[f"hast {name}"] = f"hastd answered error {observed.error}"
    return unread


def _wanted(
    group: Group, topology: Topology, state: NodeState, now: Circumstances
) -> tuple[TransitionKind | None, str]:
    vhid = state.vhid(group.vhid, group.interface)
    if vhid is None:
        where = f" on {group.interface}" if group.interface else ""
        wants_primary = False
        reason = f"CARP vhid {group.vhid}{where} is gone (no address, no interface): as INIT"
    elif vhid.state is CarpState.MASTER and now.held:
        if _is_primary(group, topology, state):  # the hold stops promotions, not a server
            return None, "held (carpswitch clear) but already primary with CARP MASTER"
        wants_primary = False
        reason = "held BACKUP after repeated failed promotions (carpswitch clear)"
    elif vhid.state is CarpState.MASTER and flaps(group, now.flapping):
        wants_primary = False
        reason = "CARP keeps flapping: taking the safe side (BACKUP)"
    elif (
        vhid.state is CarpState.MASTER
        and now.boot
        and remote_primary_connected(group, state.resources)
    ):
        wants_primary = False
        reason = "boot: CARP MASTER but a remote primary is connected to HAST"
    else:
        wants_primary = vhid.state is CarpState.MASTER
        reason = f"CARP vhid {group.vhid} is {vhid.state}"
    if wants_primary:
        if _is_primary(group, topology, state):
            return None, f"{reason}; already primary"
        return TransitionKind.PROMOTE, reason
    if _is_secondary(group, topology, state):
        return None, f"{reason}; already secondary"
    return TransitionKind.DEMOTE, reason


def flaps(group: Group, flapping: frozenset[str]) -> bool:
    """Whether one of the flapping subsystems is this group's vhid (or its whole interface)."""
    for subsystem in flapping:
        vhid, at, interface = subsystem.rpartition("@")
        if at and vhid != str(group.vhid):
            continue
        if group.interface in (None, interface):
            return True
    return False


def remote_primary_connected(group: Group, resources: Sequence[HastResource]) -> bool:
    """A secondary with a worker means a remote primary is connected (hastd.c listen_accept:
    the secondary worker exists only for a connected primary; it reports `complete`)."""
    return any(
        r.name in group.resources
        and r.role is HastRole.SECONDARY
        and (r.status is HastStatus.COMPLETE or bool(r.worker_pid))
        for r in resources
    )


def _is_primary(group: Group, topology: Topology, state: NodeState) -> bool:
    """Every resource primary with its provider and its storage in place (storage_rules:
    a UFS counts as mounted only when this device is mounted at its mount point), and every
    service running."""
    for name in group.resources:
        observed = state.resource(name)
        managed = topology.resources.get(name)
        if observed is None or managed is None:
            return False
        if observed.role is not HastRole.PRIMARY or not observed.device_present:
            return False
        if managed.kind is ResourceKind.UFS and not mounted_here(
            state.mounts, managed.device, managed.mountpoint or "", True
        ):
            return False
        if (
            managed.kind is ResourceKind.ZFS
            and pool_health(state.pools, managed.pool or "") not in USABLE_HEALTH
        ):
            return False
    running = {s.name for s in state.services if s.running}
    return all(s in running for s in group.services)


def _is_secondary(group: Group, topology: Topology, state: NodeState) -> bool:
    """Every resource secondary, nothing (not even a stale entry) at its mount point, its
    pool not listed, and no service of the group running. A resource hast.conf does not have
    here is left out: hastd does not know it and no demotion could act on it."""
    for name in group.resources:
        observed = state.resource(name)
        managed = topology.resources.get(name)
        if managed is None:
            continue
        if observed is None or observed.role is not HastRole.SECONDARY:
            return False
        if managed.mountpoint and mounts_at(state.mounts, managed.mountpoint):
            return False
        if managed.pool and pool_imported(state.pools, managed.pool):
            return False
    running = {s.name for s in state.services if s.running}
    return not any(s in running for s in group.services)
