"""Decisions the guards make (carpswitch.guards): they only ever hold a promotion back or
take a primary down, never promote.

With CARP MASTER here (with BACKUP the group is demoted as always):
* not primary: no witness answers -> no promotion, and the address is given away so that
  a node that can reach the clients takes it; the peer says it is primary for a resource
  of the group -> the promotion is refused (journaled once), the peer is serving;
* primary for a resource of the group: self-fencing is on and every witness has been lost
  for the grace time -> demote and give the address away; the peer says it is primary too
  -> the tie-break (carpswitch.guards.tiebreak) says who steps down: the loser demotes and
  gives the address away, the winner goes on as usual.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpswitch.guards.facts import GuardFacts
from carpswitch.guards.tiebreak import Side, steps_down
from carpswitch.model import CarpState, HastRole, NodeState, TransitionKind
from carpswitch.topology import Group


@dataclass(frozen=True)
class Verdict:
    """What the guards want for a group: decide() turns it into its Decision."""

    action: TransitionKind | None
    reason: str
    give_away: bool = False  # after the demotion: raise the CARP demotion, state backup
    refused: TransitionKind | None = None


def guard_verdict(
    group: Group, state: NodeState, facts: GuardFacts | None, serving: bool
) -> Verdict | None:
    """What the guards decide for `group`, or None when they have nothing to say.

    `serving`: the group is wholly primary here (decide's "already primary").
    """
    vhid = state.vhid(group.vhid, group.interface)
    if facts is None or vhid is None or vhid.state is not CarpState.MASTER:
        return None
    primary_here = [
        name
        for name in group.resources
        if (seen := state.resource(name)) is not None and seen.role is HastRole.PRIMARY
    ]
    peer = facts.peer
    peer_primary = peer.primary_of(group.resources) if peer is not None else []
    if primary_here:
        witness = facts.witness
        if facts.fence_due() and witness is not None:
            reason = (
                f"self-fencing: no witness reachable for {witness.lost_for:.0f} s "
                f"({witness.describe()})"
            )
            return Verdict(TransitionKind.DEMOTE, reason, give_away=True)
        if peer is None or not peer_primary:
            return None
        me = Side(facts.node, facts.terms.get(group.name, 0), vhid.advskew)
        other = Side(
            peer.name or peer.address, peer.terms.get(group.name, 0), peer.advskew.get(group.name)
        )
        down, why = steps_down(me, other)
        both = f"two primaries ({other.name} is primary for {', '.join(peer_primary)} too)"
        if down:
            return Verdict(TransitionKind.DEMOTE, f"{both}: stepping down, {why}", give_away=True)
        if not serving:
            return None  # the winner's promotion was cut short: decide() finishes it
        return Verdict(None, f"{both}: keeping the role, {why}")
    if facts.witness_lost() and facts.witness is not None:
        reason = f"no witness reachable ({facts.witness.describe()}): not promoting"
        return Verdict(TransitionKind.DEMOTE, reason, give_away=True)
    if peer is not None and peer_primary:
        reason = f"peer still primary ({peer.describe()}): not promoting"
        return Verdict(None, reason, refused=TransitionKind.PROMOTE)
    return None
