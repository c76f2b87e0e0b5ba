"""The resource chains of a plan: in parallel, their batched steps together.

Each chain is cut at its batched steps (carpswitch.engine.plan.stages): the pieces
before the first batched step run in parallel, then the batched steps of every chain
as one command (`hastctl role primary r1 r2 ...`), then the next pieces, and so on. Every
step keeps its own record; a promotion chain that fails stops the others after their
current step, and they skip the rest, batched steps too.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from carpswitch.engine.plan import Plan, stages
from carpswitch.engine.step import BatchedStep, Step, StepContext, StepFailed
from carpswitch.model import TransitionRecord


@dataclass(frozen=True)
class Mode:
    """How a pass over a plan runs its steps."""

    stop_on_failure: bool  # a promotion stops; a demotion goes on
    undo: bool  # results are journaled in the record's undo list
    act_in_doubt: bool  # an is_done that raises runs the step instead of failing it


PROMOTING = Mode(stop_on_failure=True, undo=False, act_in_doubt=False)
DEMOTING = Mode(stop_on_failure=False, undo=False, act_in_doubt=True)
ROLLING_BACK = Mode(stop_on_failure=False, undo=True, act_in_doubt=True)


@dataclass(frozen=True)
class Ahead:
    """A batched step's look and what its part of the batch's command came to."""

    done: bool
    doubt: str
    outcome: str | Exception

    def outcome_of(self) -> str:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class ChainRunner:
    """The executor's parallel part (carpswitch.engine.executor.Executor runs the steps)."""

    ctx: StepContext
    # the executor's own: run steps in order, journal skipped ones, run one step
    _sequence: Callable[[list[Step], TransitionRecord, list[Step], Mode], bool]
    _skip: Callable[[list[Step], TransitionRecord], None]
    _run_and_remember: Callable[..., bool]
    _before_change: Callable[[Mode], str | None]  # the journal made durable, or why not

    def _parallel(
        self, plan: Plan, record: TransitionRecord, completed: list[Step], mode: Mode
    ) -> bool:
        """The resource chains in parallel, their batched steps together (one command).

        Each chain is cut at its batched steps: the pieces before the first batched step
        run in parallel, then the batched steps of every chain as one command, then the
        next pieces, and so on. A promotion chain that fails stops the others after their
        current step: they skip the rest, batched steps too.
        """
        if not plan.chains:
            return True
        chains = [stages(chain) for chain in plan.chains.values()]
        ok = [True] * len(chains)

        def run_piece(index: int, piece: list[Step]) -> None:
            ok[index] = self._sequence(piece, record, completed, mode) and ok[index]
            if not ok[index] and mode.stop_on_failure:
                self.ctx.abort.set()  # the other resources stop after their current step

        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            for stage in range(max(len(pieces) for pieces, _ in chains)):
                jobs = [
                    pool.submit(run_piece, index, pieces[stage])
                    for index, (pieces, _) in enumerate(chains)
                    if stage < len(pieces) and pieces[stage]
                ]
                for job in jobs:
                    job.result()
                batch = [
                    (index, step)
                    for index, (_, batched) in enumerate(chains)
                    if stage < len(batched) and (step := batched[stage]) is not None
                ]
                for index, passed in self._batch(batch, record, completed, mode):
                    ok[index] = passed and ok[index]
                if mode.stop_on_failure and not all(ok):
                    self.ctx.abort.set()  # a failed batched step stops every chain too
        return all(ok)

    def _batch(
        self,
        batch: list[tuple[int, BatchedStep]],
        record: TransitionRecord,
        completed: list[Step],
        mode: Mode,
    ) -> list[tuple[int, bool]]:
        """Batched steps of several chains: each looks, one command for those not done."""
        steps: list[Step] = [step for _, step in batch]
        if not steps:
            return []
        if mode.stop_on_failure and self.ctx.abort.is_set():
            self._skip(steps, record)
            return [(index, False) for index, _ in batch]
        looks = {id(step): self._looked(step, mode) for step in steps}
        if not mode.act_in_doubt and any(isinstance(v, Exception) for v in looks.values()):
            # a promotion that cannot tell runs no command: those fail, the others skip
            results = []
            for index, step in batch:
                if isinstance(looks[id(step)], Exception):
                    results.append((index, self._run_and_remember(step, record, completed, mode)))
                else:
                    self._skip([step], record)
                    results.append((index, False))
            self.ctx.abort.set()
            return results
        outcomes: dict[int, str | Exception] = {}
        todo = [s for _, s in batch if looks[id(s)] is not True]
        unwitnessed = any(s.changes_node for s in todo) and self._before_change(mode)
        if unwitnessed:  # no change the journal cannot show: none of them runs
            outcomes.update((id(s), StepFailed(unwitnessed)) for s in todo)
            todo = []
        for key in dict.fromkeys(s.batch_key() for s in todo):
            group = [s for s in todo if s.batch_key() == key]
            try:
                answers = group[0].do_batch(self.ctx, group)
            except Exception as exc:  # the whole call failed: every step of it did
                answers = [exc] * len(group)
            outcomes.update((id(s), a) for s, a in zip(group, answers, strict=True))
        results = []
        for index, step in batch:
            looked = looks[id(step)]
            ahead = Ahead(
                looked is True,
                looked if isinstance(looked, str) else "",
                outcomes.get(id(step), ""),
            )
            results.append((index, self._run_and_remember(step, record, completed, mode, ahead)))
        return results

    def _looked(self, step: Step, mode: Mode) -> bool | str | Exception:
        """A batched step's look: True (done), False, a doubt (act), or the error."""
        try:
            return step.is_done(self.ctx)
        except Exception as exc:
            if not mode.act_in_doubt:
                return exc
            return f"could not tell whether it was already done ({exc}); ran it anyway"
