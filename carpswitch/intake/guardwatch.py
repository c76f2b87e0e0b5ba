"""The daemon's eye on the guards between reconciles (carpswitch.guards).

While the last reconcile saw this node CARP MASTER or HAST primary for a group, the
daemon looks at the guards every `[guards] interval` seconds (a ping per witness, one
question to the peer) and asks for a reconcile when what the guards do to the decisions
changes: a witness lost or back, the peer primary or no longer, two primaries found.
A BACKUP secondary node does not look: it has nothing the guards could stop.

Only a change reconciles: a decision the guards do not touch (a promotion that keeps
failing) stays under the usual pacing, never every interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from carpswitch.config import Config
from carpswitch.engine.decide import Circumstances, Decision, decide
from carpswitch.guards.look import GuardLook
from carpswitch.model import CarpState, HastRole, NodeState
from carpswitch.system.runner import CommandRunner
from carpswitch.topology import Topology

Seen = Callable[[], "tuple[Topology, NodeState] | None"]
Effect = tuple[tuple[str, str, str, bool], ...]


class GuardWatch:
    """`due` is when to call `tick()`; tick returns why to reconcile now, or None."""

    def __init__(
        self,
        config: Config,
        runner: CommandRunner,
        seen: Seen,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = config.guards.interval
        self.look = GuardLook(config, runner, clock)
        self.seen = seen
        self.clock = clock
        self.due = clock() + self.interval
        self._effect: Effect = ()

    def tick(self) -> str | None:
        """Look at the guards if this node has something they could stop."""
        self.due = self.clock() + self.interval
        seen = self.seen()
        if seen is None or not watched(seen[1]):
            self._effect = ()
            return None
        topology, state = seen
        facts = self.look.look()
        effect = _effect(
            decide(topology, state, Circumstances(guards=None)),
            decide(topology, state, Circumstances(guards=facts)),
        )
        if effect == self._effect:
            return None
        self._effect = effect
        if not effect:
            return "guards: nothing holds back any more"
        return "guards: " + "; ".join(f"group {g}: {reason}" for g, _, reason, _ in effect)


def watched(state: NodeState) -> bool:
    """Whether some vhid is MASTER or some resource primary here."""
    return any(v.state is CarpState.MASTER for v in state.carp) or any(
        r.role is HastRole.PRIMARY for r in state.resources
    )


def _effect(without: list[Decision], with_guards: list[Decision]) -> Effect:
    """The decisions the guards change: (group, what, reason, give_away) each."""
    changed = []
    for plain, guarded in zip(without, with_guards, strict=True):
        if (plain.action, plain.refused, plain.give_away) != (
            guarded.action,
            guarded.refused,
            guarded.give_away,
        ):
            what = str(guarded.action or guarded.refused or "nothing")
            changed.append((guarded.group.name, what, guarded.reason, guarded.give_away))
    return tuple(changed)
