"""Decisions the guards make (carpswitch.guards): they only ever hold a promotion back or
take a primary down, never promote.

* Two primaries (this node is primary for a resource of the group and the peer says it is
  too), whatever CARP says: the tie-break (carpswitch.guards.tiebreak) names the side that
  steps down. The loser demotes and gives the address away; the winner keeps the role,
  even with CARP BACKUP: after a freeze or a mended cable the side CARP prefers is the
  stale one, and demoting the winner because the stale side's adverts won would throw away
  what the clients wrote since (the loser's give-away stops its adverts, and the winner is
  MASTER again a master-down time later).
* With CARP MASTER and no resource primary: no witness answers -> no promotion, and the
  address is given away so that a node that can reach the clients takes it; the peer says
  it is primary -> the promotion is refused (journaled once), the peer is serving.
* With CARP MASTER and primary: self-fencing is on and every witness has been lost for
  the grace time -> demote and give the address away.
* Otherwise (CARP BACKUP, no second primary) the usual demotion stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpswitch.guards.facts import GuardFacts, PeerFacts
from carpswitch.guards.tiebreak import Side, steps_down
from carpswitch.model import CarpState, CarpVhid, HastRole, NodeState, TransitionKind
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
    if facts is None:
        return None
    vhid = state.vhid(group.vhid, group.interface)
    master = vhid is not None and vhid.state is CarpState.MASTER
    primary_here = [
        name
        for name in group.resources
        if (seen := state.resource(name)) is not None and seen.role is HastRole.PRIMARY
    ]
    peer = facts.peer
    if primary_here and peer is not None and peer.primary_of(group.resources):
        return _two_primaries(group, facts, peer, vhid, master, serving)
    if not master:
        return None
    witness = facts.witness
    if primary_here:
        if facts.fence_due() and witness is not None:
            reason = (
                f"self-fencing: no witness reachable for {witness.lost_for:.0f} s "
                f"({witness.describe()})"
            )
            return Verdict(TransitionKind.DEMOTE, reason, give_away=True)
        return None
    if witness is not None and not witness.any_reachable:
        reason = f"no witness reachable ({witness.describe()}): not promoting"
        return Verdict(TransitionKind.DEMOTE, reason, give_away=True)
    if peer is not None and peer.primary_of(group.resources):
        reason = f"peer still primary ({peer.describe()}): not promoting"
        return Verdict(None, reason, refused=TransitionKind.PROMOTE)
    return None


def _two_primaries(
    group: Group,
    facts: GuardFacts,
    peer: PeerFacts,
    vhid: CarpVhid | None,
    master: bool,
    serving: bool,
) -> Verdict | None:
    """Both sides primary: the loser steps down, the winner keeps (and finishes) the role."""
    me = Side(facts.node, facts.terms.get(group.name, 0), vhid.advskew if vhid else None)
    other = peer.side(group.name)
    down, why = steps_down(me, other)
    listed = ", ".join(peer.primary_of(group.resources))
    both = f"two primaries ({other.name} is primary for {listed} too)"
    if down:
        return Verdict(TransitionKind.DEMOTE, f"{both}: stepping down, {why}", give_away=True)
    if master and not serving:
        return None  # the winner's promotion was cut short: decide() finishes it
    if master:
        return Verdict(None, f"{both}: keeping the role, {why}")
    return Verdict(None, f"{both}: keeping the role although CARP is not MASTER here, {why}")
