"""The guards as the first steps of a promotion: they look again when the plan runs.

decide() already held a promotion back on the guards' last look; these steps close the
gap between that look and the promotion (and guard an admin's `carpswitch promote`). The
peer guard also takes the group's promotion term past every term known
(carpswitch.guards.terms), durably, before anything becomes primary.
"""

from __future__ import annotations

from carpswitch.engine.step import Step, StepContext, StepFailed
from carpswitch.guards.look import GuardLook
from carpswitch.topology import Group


class WitnessGuard(Step):
    """Some witness answers a ping, or this node must not serve."""

    kind = "guard_witness"
    timeout_key = "observe"
    changes_node = False

    def __init__(self, witnesses: list[str]) -> None:
        super().__init__()
        self.witnesses = witnesses

    def describe(self) -> str:
        return f"a witness answers (ping {', '.join(self.witnesses)})"

    def do(self, ctx: StepContext) -> str:
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

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group = group

    def describe(self) -> str:
        return f"the peer is not primary for {', '.join(self.group.resources)}; new term"

    def do(self, ctx: StepContext) -> str:
        look = GuardLook(ctx.config, ctx.runner)
        peer = look.peer()
        if peer is None:
            return "peer view off"
        primary = peer.primary_of(self.group.resources)
        if primary:
            raise StepFailed(f"peer still primary: {peer.describe()}")
        try:
            term = look.terms.bump(self.group.name, peer.terms.get(self.group.name))
        except OSError as exc:
            raise StepFailed(f"cannot write the promotion term: {exc}") from exc
        heard = peer.describe() if peer.roles is not None else f"{peer.describe()}: no veto"
        return f"{heard}; term {term}"
