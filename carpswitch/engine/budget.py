"""How long a plan may take at worst, from the configured timeouts.

A promotion waits `[timeouts] release` for the peer to let go of each resource, that is,
for the peer's demotion of the same group (the same config on both nodes). If the
release wait is shorter than that demotion can take, a slow but healthy demotion makes
the promotion fail and give the address away. `carpswitch check` compares the two.

The worst case of a plan follows its shape: `before` in order, the resource chains in
parallel (stage by stage: the slowest piece, then the slowest batched step), `after` in
order. A step costs its own timeout, plus one
`observe` for its "already done?" look when it has one, plus what its `do` may run beyond
one command (EXTRA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from carpswitch.config import TimeoutsSection
from carpswitch.engine.plan import Plan, stages
from carpswitch.engine.step import BatchedStep, Step

#: What a step's `do` may spend beyond one run of its own timeout, by step kind.
EXTRA: dict[str, tuple[str, ...]] = {
    # actions.ufs.Unmount: busy retries for umount_grace, the last try may take `umount`,
    # then `umount -f` may take `umount` again.
    "umount": ("umount_grace", "umount"),
    # actions.zfs.ExportPool: `zpool export`, then `zpool export -f`.
    "zpool_export": ("export",),
}


@dataclass(frozen=True)
class Budget:
    """A plan's worst case in seconds, and its parts for the message."""

    before: float
    slowest_chain: float
    slowest_resource: str | None
    after: float

    @property
    def total(self) -> float:
        """The whole plan at worst."""
        return self.before + self.slowest_chain + self.after


def step_budget(step: Step, timeouts: TimeoutsSection) -> float:
    """The longest `step` may run: its timeout, its extra commands, its look first."""
    seconds = _timeout(timeouts, step.timeout_key)
    seconds += sum(_timeout(timeouts, key) for key in EXTRA.get(step.kind, ()))
    if type(step).is_done is not Step.is_done:
        seconds += timeouts.observe
    return seconds


def plan_budget(plan: Plan, timeouts: TimeoutsSection) -> Budget:
    """The worst case of `plan`.

    The chains wait for each other at their batched steps (one `hastctl role` for all):
    each stage costs its slowest piece, then its slowest batched step.
    """
    chains = {name: _sequence(chain, timeouts) for name, chain in plan.chains.items()}
    slowest = max(chains, key=lambda name: chains[name], default=None)
    cut = [stages(chain) for chain in plan.chains.values()]
    staged = 0.0
    for stage in range(max((len(pieces) for pieces, _ in cut), default=0)):
        staged += max(
            _sequence(pieces[stage], timeouts) for pieces, _ in cut if stage < len(pieces)
        )
        staged += max(
            (step_budget(b, timeouts) for _, batched in cut if (b := _at(batched, stage))),
            default=0.0,
        )
    return Budget(
        before=_sequence(plan.before, timeouts),
        slowest_chain=staged,
        slowest_resource=slowest,
        after=_sequence(plan.after, timeouts),
    )


def _at(batched: list[BatchedStep | None], stage: int) -> BatchedStep | None:
    """A chain's batched step at `stage`; None also past its end (chains differ in length:
    a resource hast.conf lacks has only its guard)."""
    return batched[stage] if stage < len(batched) else None


def _sequence(steps: Sequence[Step], timeouts: TimeoutsSection) -> float:
    return sum(step_budget(step, timeouts) for step in steps)


def _timeout(timeouts: TimeoutsSection, key: str) -> float:
    value: float = getattr(timeouts, key)
    return value
