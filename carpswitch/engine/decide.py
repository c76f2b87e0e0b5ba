"""Decide, from what is observed now, what each group needs: promote, demote or nothing.

Level-triggered (Patroni's habit): an event only wakes the controller up; the decision
comes from CARP and HAST as they are when it holds the lock, with a one-line reason that
the caller logs and tests assert on. State that cannot be read never leads to a promotion.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpswitch.config import ResourceKind
from carpswitch.model import CarpState, HastRole, HastStatus, NodeState, TransitionKind
from carpswitch.topology import Group, Topology


@dataclass(frozen=True)
class Decision:
    """What one group needs now, and why."""

    group: Group
    action: TransitionKind | None
    reason: str


@dataclass(frozen=True)
class Circumstances:
    """What besides CARP and HAST bears on a decision."""

    paused: bool = False  # maintenance: observe, never act
    held: bool = False  # too many failed promotions: stay BACKUP
    boot: bool = False  # first reconcile after boot
    flapping: bool = False  # events kept coming past the bound: take the safe side


def decide(
    topology: Topology, state: NodeState, circumstances: Circumstances = Circumstances()
) -> list[Decision]:
    """One decision per group of the topology."""
    return [_decide_group(g, topology, state, circumstances) for g in topology.groups]


def _decide_group(
    group: Group, topology: Topology, state: NodeState, now: Circumstances
) -> Decision:
    if now.paused:
        return Decision(group, None, "paused (carpswitch resume): observing only")
    vhid = state.vhid(group.vhid, group.interface)
    hast_problems = [p for p in state.problems if p.startswith("hast:")]
    if vhid is None:
        if any(p.startswith("carp:") for p in state.problems):
            return Decision(group, None, "cannot read CARP state: doing nothing")
        return Decision(group, None, f"CARP vhid {group.vhid} is not configured: doing nothing")
    wants_primary = vhid.state is CarpState.MASTER
    if wants_primary and now.held:
        wants_primary = False
        reason = "held BACKUP after repeated failed promotions (carpswitch clear)"
    elif wants_primary and now.flapping:
        wants_primary = False
        reason = "CARP keeps flapping: taking the safe side (BACKUP)"
    elif wants_primary and now.boot and _remote_primary_connected(group, state):
        wants_primary = False
        reason = "boot: CARP MASTER but a remote primary is connected to HAST"
    else:
        reason = f"CARP vhid {group.vhid} is {vhid.state}"
    if wants_primary and hast_problems:
        return Decision(group, None, f"cannot read HAST state, not promoting: {hast_problems[0]}")
    if wants_primary:
        if _is_primary(group, topology, state):
            return Decision(group, None, f"{reason}; already primary")
        return Decision(group, TransitionKind.PROMOTE, reason)
    if _is_secondary(group, topology, state):
        return Decision(group, None, f"{reason}; already secondary")
    return Decision(group, TransitionKind.DEMOTE, reason)


def _remote_primary_connected(group: Group, state: NodeState) -> bool:
    """A secondary with a live connection means the peer is primary (hastd.c listen_accept)."""
    for name in group.resources:
        resource = state.resource(name)
        if (
            resource
            and resource.role is HastRole.SECONDARY
            and resource.status is HastStatus.COMPLETE
        ):
            return True
    return False


def _is_primary(group: Group, topology: Topology, state: NodeState) -> bool:
    mounted = {m.mountpoint for m in state.mounts}
    pools = {p.name for p in state.pools}
    for name in group.resources:
        observed = state.resource(name)
        managed = topology.resources.get(name)
        if observed is None or managed is None:
            return False
        if observed.role is not HastRole.PRIMARY or not observed.device_present:
            return False
        if managed.kind is ResourceKind.UFS and managed.mountpoint not in mounted:
            return False
        if managed.kind is ResourceKind.ZFS and managed.pool not in pools:
            return False
    running = {s.name for s in state.services if s.running}
    return all(s in running for s in group.services)


def _is_secondary(group: Group, topology: Topology, state: NodeState) -> bool:
    mounted = {m.mountpoint for m in state.mounts}
    pools = {p.name for p in state.pools}
    for name in group.resources:
        observed = state.resource(name)
        managed = topology.resources.get(name)
        if observed is None or managed is None or observed.role is not HastRole.SECONDARY:
            return False
        if managed.mountpoint in mounted or managed.pool in pools:
            return False
    running = {s.name for s in state.services if s.running}
    return not any(s in running for s in group.services)
