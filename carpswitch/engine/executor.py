"""Run a plan: steps journaled with timings, resources in parallel, rollback on failure.

Promotion stops at the first failure, undoes what it did in reverse, makes sure every
resource of the group is secondary, then gives the CARP address away. Demotion never
stops: every step runs, failures are reported, and role secondary always comes last.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import Plan
from carpswitch.engine.step import Step, StepContext, StepFailed, StepTimedOut
from carpswitch.engine.steps_hast import SetRole
from carpswitch.errors import CarpswitchError, CommandTimedOut
from carpswitch.model import (
    HastRole,
    StepOutcome,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)

log = logging.getLogger(__name__)

StepListener = Callable[[TransitionRecord, StepResult], None]

PASSED = (StepOutcome.OK, StepOutcome.NOOP)


class Executor:
    """Executes plans against a node through a StepContext, journaling every step."""

    def __init__(self, ctx: StepContext, journal: Journal, on_step: StepListener | None = None):
        self.ctx = ctx
        self.journal = journal
        self.on_step = on_step or (lambda record, result: None)
        self._lock = threading.Lock()

    def run(self, plan: Plan, trigger: str, reason: str) -> TransitionRecord:
        """Execute `plan`; return the journaled record (never raises for a step failure)."""
        record = TransitionRecord(
            id=uuid.uuid4().hex[:12],
            kind=plan.kind,
            group=plan.group.name,
            trigger=trigger,
            reason=reason,
            started_at=datetime.now(UTC),
            pid=os.getpid(),
        )
        self.journal.write(record)
        self.ctx.abort.clear()
        self.ctx.changed = False
        completed: list[Step] = []
        if plan.kind is TransitionKind.PROMOTE:
            ok = self._promote(plan, record, completed)
            if not ok:
                self._roll_back(plan, record, completed)
        else:
            ok = self._demote(plan, record)
        record.ended_at = datetime.now(UTC)
        if not ok:
            record.outcome = TransitionOutcome.FAILED
        elif self.ctx.changed:
            record.outcome = TransitionOutcome.SUCCEEDED
        else:
            record.outcome = TransitionOutcome.NOOP
        self.journal.write(record)
        log.info("%s %s: %s (%s)", record.kind, record.group, record.outcome, _summary(record))
        return record

    # -- promotion -------------------------------------------------------------------

    def _promote(self, plan: Plan, record: TransitionRecord, completed: list[Step]) -> bool:
        if not self._sequence(plan.before, record, completed, stop_on_failure=True):
            return False
        if not self._parallel(plan, record, completed, stop_on_failure=True):
            return False
        return self._sequence(plan.after, record, completed, stop_on_failure=True)

    def _roll_back(self, plan: Plan, record: TransitionRecord, completed: list[Step]) -> None:
        for step in reversed(completed):
            if step.reversible:
                self._undo(step, record)
        for name in plan.group.resources:
            if name in self.ctx.topology.resources:
                self._run_step(SetRole(name, HastRole.SECONDARY), record, undo=True)
        for step in plan.give_away:
            self._run_step(step, record, undo=True)

    # -- demotion --------------------------------------------------------------------

    def _demote(self, plan: Plan, record: TransitionRecord) -> bool:
        ok = self._sequence(plan.before, record, [], stop_on_failure=False)
        ok = self._parallel(plan, record, [], stop_on_failure=False) and ok
        return self._sequence(plan.after, record, [], stop_on_failure=False) and ok

    # -- running steps ---------------------------------------------------------------

    def _sequence(
        self,
        steps: list[Step],
        record: TransitionRecord,
        completed: list[Step],
        stop_on_failure: bool,
    ) -> bool:
        ok = True
        for index, step in enumerate(steps):
            if stop_on_failure and (not ok or self.ctx.abort.is_set()):
                self._skip(steps[index:], record)
                break
            ok = self._run_and_remember(step, record, completed) and ok
        return ok and not (stop_on_failure and self.ctx.abort.is_set())

    def _parallel(
        self, plan: Plan, record: TransitionRecord, completed: list[Step], stop_on_failure: bool
    ) -> bool:
        if not plan.chains:
            return True

        def run_chain(chain: list[Step]) -> bool:
            ok = self._sequence(chain, record, completed, stop_on_failure)
            if not ok and stop_on_failure:
                self.ctx.abort.set()  # the other resources stop after their current step
            return ok

        with ThreadPoolExecutor(max_workers=len(plan.chains)) as pool:
            results = list(pool.map(run_chain, plan.chains.values()))
        return all(results)

    def _run_and_remember(
        self, step: Step, record: TransitionRecord, completed: list[Step]
    ) -> bool:
        result = self._run_step(step, record)
        if result.outcome is StepOutcome.OK:
            with self._lock:
                completed.append(step)
        return result.outcome in PASSED

    def _run_step(self, step: Step, record: TransitionRecord, undo: bool = False) -> StepResult:
        started = datetime.now(UTC)
        description = step.record(self.ctx)
        detail = output = ""
        try:
            if step.is_done(self.ctx):
                outcome = StepOutcome.NOOP
                detail = "already done"
            else:
                output = step.do(self.ctx)
                outcome = StepOutcome.OK
                if step.changes_node:
                    self.ctx.changed = True
        except (StepTimedOut, CommandTimedOut) as exc:
            outcome, detail = StepOutcome.TIMED_OUT, str(exc)
        except (StepFailed, CarpswitchError) as exc:
            outcome, detail = StepOutcome.FAILED, str(exc)
        except Exception as exc:  # a bug must not leave the node half-promoted
            log.exception("step %s crashed", description.kind)
            outcome, detail = StepOutcome.FAILED, f"internal error: {exc!r}"
        result = StepResult(
            step=description,
            outcome=outcome,
            started_at=started,
            ended_at=datetime.now(UTC),
            detail=detail,
            output=output,
        )
        self._journal(record, result, undo)
        return result

    def _undo(self, step: Step, record: TransitionRecord) -> None:
        started = datetime.now(UTC)
        try:
            output = step.undo(self.ctx)
            outcome, detail = StepOutcome.UNDONE, ""
        except (StepFailed, CarpswitchError) as exc:
            output, outcome, detail = "", StepOutcome.FAILED, f"undo failed: {exc}"
        result = StepResult(
            step=step.record(self.ctx),
            outcome=outcome,
            started_at=started,
            ended_at=datetime.now(UTC),
            detail=detail,
            output=output,
        )
        self._journal(record, result, undo=True)

    def _skip(self, steps: list[Step], record: TransitionRecord) -> None:
        now = datetime.now(UTC)
        for step in steps:
            result = StepResult(
                step=step.record(self.ctx),
                outcome=StepOutcome.SKIPPED,
                started_at=now,
                ended_at=now,
                detail="not run: an earlier step failed",
            )
            self._journal(record, result, undo=False)

    def _journal(self, record: TransitionRecord, result: StepResult, undo: bool) -> None:
        with self._lock:
            (record.undo if undo else record.steps).append(result)
            self.journal.write(record)
            self.on_step(record, result)
        bad = result.outcome in (StepOutcome.FAILED, StepOutcome.TIMED_OUT)
        log.log(
            logging.WARNING if bad else logging.INFO,
            "%s %s: %s%s %s in %.2fs: %s%s",
            record.kind,
            record.group,
            "undo " if undo else "",
            result.step.kind,
            result.outcome,
            result.duration,
            result.step.description,
            f" ({result.detail})" if result.detail else "",
        )


def _summary(record: TransitionRecord) -> str:
    failed = [
        s
        for s in record.steps + record.undo
        if s.outcome not in (*PASSED, StepOutcome.UNDONE, StepOutcome.SKIPPED)
    ]
    if not failed:
        return f"{len(record.steps)} steps"
    return "; ".join(f"{s.step.kind} {s.step.resource or ''}: {s.detail}".strip() for s in failed)
