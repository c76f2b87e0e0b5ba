"""The guards as steps of a promotion: they look again when the plan runs.

decide() already held a promotion back on the guards' last look; these steps close the
gap between that look and the promotion (and guard an admin's `carpswitch promote`):
* `guard_witness` first: some witness answers. Not for a group already primary here (a
  promotion that repairs a serving primary, a restarted ctld): whether a primary keeps its
  role without witnesses is self-fencing's call, and a lost ping must not roll it back.
* `guard_peer` first: the peer does not say it is primary, and the group's promotion term
  goes past every term known (carpswitch.guards.terms), durably. A group already primary
  here takes no new term, and the peer vetoes it only when this side loses the tie-break
  (both primary: the winner finishes its promotion). An admin's --force skips the veto but
  still takes the term: a forced primary must not lose a later tie-break to the side it
  replaced.
* `guard_peer_again`, just before `hastctl role primary`: the peer is not primary now and
  has not taken a newer term since ours (two MASTERs promoting at once, each having seen
  the other secondary: the newer term goes on, the other stops before anything changed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence

from carpswitch.engine.step import BatchedStep, Step, StepContext, StepFailed
from carpswitch.errors import CommandError, ParseError
from carpswitch.guards.facts import PeerFacts
from carpswitch.guards.look import GuardLook, node_name
from carpswitch.guards.tiebreak import Side, steps_down
from carpswitch.guards.watchdog import FENCE_MARGIN, fires_after
from carpswitch.model import HastRole
from carpswitch.topology import Group

#: Seconds between two questions to a silent peer while its watchdog is waited out.
ASK_AGAIN = 1.0


class WitnessGuard(Step):
    """Some witness answers a ping, or this node must not serve."""

    kind = "guard_witness"
    timeout_key = "observe"
    changes_node = False

    def __init__(self, group: Group, witnesses: list[str]) -> None:
        super().__init__()
        self.group = group
        self.witnesses = witnesses

    def describe(self) -> str:
        return f"a witness answers (ping {', '.join(self.witnesses)})"

    def do(self, ctx: StepContext) -> str:
        if _primary_here(ctx, self.group):
            return "already primary here: self-fencing decides, not this guard"
        witness = GuardLook(ctx.config, ctx.runner).witness()
        if witness is None:
            return "no witness configured"
        if not witness.any_reachable:
            raise StepFailed(f"no witness reachable: {witness.describe()}")
        return witness.describe()


class PeerGuard(Step):
    """The peer does not say it is primary for the group; then the group's term goes up."""

    kind = "guard_peer"
    timeout_key = "observe"
    changes_node = False
    #: how a wait for a silent peer passes its time (a test's clock replaces it)
    sleep = staticmethod(time.sleep)

    def __init__(self, group: Group, veto: bool = True) -> None:
        super().__init__()
        self.group = group
        self.veto = veto

    def describe(self) -> str:
        if not self.veto:
            return "a new promotion term (the peer is asked, it has no veto: --force)"
        return f"the peer is not primary for {', '.join(self.group.resources)}; new term"

    def do(self, ctx: StepContext) -> str:
        look = GuardLook(ctx.config, ctx.runner)
        peer = look.peer()
        if peer is None:
            return "peer view off"
        name = self.group.name
        if _primary_here(ctx, self.group):
            ours = look.terms.read().of(name)
            if self.veto and peer.primary_of(self.group.resources):
                _check_tie_break(ctx, self.group, peer, ours)
            return f"{peer.describe()}; already primary here: term {ours}"
        waited = ""
        if self.veto and not peer.heard and ctx.config.guards.watchdog:
            peer, waited = _wait_out(look, peer, ctx.config.guards.watchdog, self.sleep)
        if self.veto and peer.primary_of(self.group.resources):
            raise StepFailed(f"peer still primary: {peer.describe()}{waited}")
        try:
            term = look.terms.bump(name, peer.terms.get(name))
        except OSError as exc:
            raise StepFailed(f"cannot write the promotion term: {exc}") from exc
        heard = peer.describe() if peer.roles is not None else f"{peer.describe()}: no veto"
        return f"{heard}{waited}; term {term}"


class PeerGuardAgain(BatchedStep):
    """Just before `role primary`: the peer is not primary and took no newer term since."""

    kind = "guard_peer_again"
    timeout_key = "observe"
    changes_node = False

    def __init__(self, resource: str, group: Group) -> None:
        super().__init__(resource)
        self.group = group

    def describe(self) -> str:
        return "the peer is still not primary and took no newer term"

    def batch_key(self) -> Hashable:
        return (type(self), self.group.name)

    def do_batch(self, ctx: StepContext, steps: Sequence[Step]) -> list[str | Exception]:
        look = GuardLook(ctx.config, ctx.runner)
        peer = look.peer()
        outcome: str | Exception
        if peer is None:
            outcome = "peer view off"
        else:
            ours = look.terms.read().of(self.group.name)
            theirs = peer.terms.get(self.group.name, 0)
            if peer.primary_of(self.group.resources):
                outcome = StepFailed(f"peer became primary: {peer.describe()}")
            elif theirs > ours:
                outcome = StepFailed(
                    f"peer took a newer term ({theirs} > ours {ours}): it is promoting"
                )
            else:
                outcome = f"{peer.describe()}; our term {ours} is the newest"
        return [outcome for _ in steps]


def _wait_out(
    look: GuardLook, peer: PeerFacts, timeout: int, sleep: Callable[[float], None]
) -> tuple[PeerFacts, str]:
    """A silent peer is asked again until it answers or its watchdog (`timeout` s, the
    same [guards] watchdog on both nodes) must have reset it (carpswitch.guards.watchdog):
    (its last answer, what the wait says for the journal)."""
    started = look.clock()
    deadline = started + fires_after(timeout) + FENCE_MARGIN
    while not peer.heard and look.clock() < deadline:
        sleep(min(ASK_AGAIN, max(0.0, deadline - look.clock())))
        peer = look.peer() or peer
    waited = look.clock() - started
    if peer.heard:
        return peer, f" (answered after {waited:.1f} s)"
    return peer, f" (silent for {waited:.1f} s, past its watchdog -t {timeout}: taken as reset)"


def _primary_here(ctx: StepContext, group: Group) -> bool:
    """Whether hastd has a resource of the group primary here (this phase's look)."""
    for name in group.resources:
        try:
            found = ctx.look.hast(name)
        except (CommandError, ParseError):
            continue
        if found is not None and found.role is HastRole.PRIMARY:
            return True
    return False


def _check_tie_break(ctx: StepContext, group: Group, peer: PeerFacts, ours: int) -> None:
    """Both primary: StepFailed when this side is the one to step down."""
    vhids, _unreadable = ctx.observer.carp_state([group.interface] if group.interface else None)
    advskew = next((v.advskew for v in vhids if v.vhid == group.vhid), None)
    down, why = steps_down(Side(node_name(ctx.config), ours, advskew), peer.side(group.name))
    if down:
        raise StepFailed(f"two primaries and this side steps down: {why}")
