"""Run a plan: steps journaled with timings, resources in parallel, rollback on failure.

Promotion stops at the first failure. Its rollback is the group's demotion (services
stopped in reverse, unmount or export, then role secondary), which also takes down what
was up before the promotion began; then the few completed steps a demotion does not take
back are undone, then the CARP address is given away. Demotion never stops: every step
runs, failures are reported, and role secondary always comes last. In a demotion and a
rollback a step whose "already done?" check fails runs anyway: when in doubt, act. A step
whose `do` raises AlreadyDone (the command said there was nothing to do) is a NOOP.

The journal is the promotion's witness: a promotion starts only once its first record is
durable (NotStarted otherwise, nothing ran), what was journaled is made durable before
each step that changes the node, and a journal write that fails later stops the
promotion and rolls it back. Demotions and rollbacks go on without a journal; the
error is logged once.

A promotion that stops because the node could not be read (a check's command failed, or
an "already done?" look) before any step changed the node is not rolled back and gives
nothing away: it ends `unread`, and the caller looks again (issue 8 item 1: a reading
failure is never a reason to act; a rollback is a whole demotion).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from carpswitch.engine.chains import (
    DEMOTING,
    PROMOTING,
    ROLLING_BACK,
    Ahead,
    ChainRunner,
    Mode,
)
from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import Plan
from carpswitch.engine.step import (
    AlreadyDone,
    Step,
    StepContext,
    StepFailed,
    StepTimedOut,
)
from carpswitch.engine.witness import Witness
from carpswitch.errors import CarpswitchError, CommandError, CommandTimedOut, ParseError
from carpswitch.model import (
    NodeState,
    StepOutcome,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)

log = logging.getLogger(__name__)

StepListener = Callable[[TransitionRecord, StepResult], None]

PASSED = (StepOutcome.OK, StepOutcome.NOOP)


class NotStarted(CarpswitchError):
    """The transition was not started and nothing ran; the message says why."""


class Executor(ChainRunner):
    """Executes plans against a node through a StepContext, journaling every step."""

    _witness: Witness  # journals the transition that runs now

    def __init__(self, ctx: StepContext, journal: Journal, on_step: StepListener | None = None):
        self.ctx = ctx
        self.journal = journal
        self.on_step = on_step or (lambda record, result: None)
        self._lock = threading.Lock()

    def run(
        self, plan: Plan, trigger: str, reason: str, seen: NodeState | None = None
    ) -> TransitionRecord:
        """Execute `plan`; return the record (never raises for a step failure).

        `seen` is a look at the node taken just before (same lock hold, nothing ran since):
        the first phase decides from it instead of looking again. Raises NotStarted when a
        promotion's first journal record cannot be written.
        """
        record = TransitionRecord(
            id=uuid.uuid4().hex[:12],
            kind=plan.kind,
            group=plan.group.name,
            trigger=trigger,
            reason=reason,
            started_at=datetime.now(UTC),
            pid=os.getpid(),
        )
        promoting = plan.kind is TransitionKind.PROMOTE
        self._witness = witness = Witness(self.journal, record)
        witness.consequence = (
            "the promotion does not start" if promoting else "the demotion goes on without it"
        )
        if not witness.start() and promoting:
            raise NotStarted(f"promotion of group {plan.group.name} not started: {witness.problem}")
        if promoting:
            witness.consequence = "rolling the promotion back"
        self.ctx.abort.clear()
        self.ctx.changed = False
        self._unread: list[str] = []
        completed: list[Step] = []
        unread = False
        if promoting:
            ok = self._run_plan(plan, record, PROMOTING, completed, seen)
            unread = not ok and bool(self._unread) and not self.ctx.changed
            if unread:
                log.warning(
                    "promote %s: nothing changed and the node could not be read (%s): "
                    "no rollback, looking again",
                    record.group,
                    self._unread[0],
                )
            elif not ok:
                self._roll_back(plan, record, completed)
        else:
            ok = self._run_plan(plan, record, DEMOTING, completed, seen)
        record.ended_at = datetime.now(UTC)
        if unread:
            record.outcome = TransitionOutcome.UNREAD
        elif not ok:
            record.outcome = TransitionOutcome.FAILED
        elif self.ctx.changed:
            record.outcome = TransitionOutcome.SUCCEEDED
        else:
            record.outcome = TransitionOutcome.NOOP
        witness.consequence = "the record stays unfinished in the journal"
        witness.end()
        log.info("%s %s: %s (%s)", record.kind, record.group, record.outcome, _summary(record))
        return record

    # -- plans -----------------------------------------------------------------------

    def _run_plan(
        self,
        plan: Plan,
        record: TransitionRecord,
        mode: Mode,
        completed: list[Step],
        seen: NodeState | None = None,
    ) -> bool:
        self.ctx.new_phase(seen)  # one look per phase (a rollback looks anew)
        ok = self._sequence(plan.before, record, completed, mode)
        if plan.before:  # a hook or the services' stop took time: hastd may have restarted
            self.ctx.new_phase()
        if ok or not mode.stop_on_failure:
            ok = self._parallel(plan, record, completed, mode) and ok
        if plan.after:  # the chains waited (release, fsck): the services may have changed
            self.ctx.new_phase()
        if ok or not mode.stop_on_failure:
            ok = self._sequence(plan.after, record, completed, mode) and ok
        return ok

    def _roll_back(self, plan: Plan, record: TransitionRecord, completed: list[Step]) -> None:
        """The group's demotion, undo of what it does not cover, then the give-away."""
        self._witness.consequence = "the rollback goes on without it"
        if self._witness.error is not None:  # say in the record (shown, notified) why
            with self._lock:
                record.steps.append(failure := self._witness.failure())
                self.on_step(record, failure)
        if plan.rollback is not None:
            self._run_plan(plan.rollback, record, ROLLING_BACK, [])
        for step in reversed(completed):
            if step.reversible:
                self._undo(step, record)
        self._sequence(plan.give_away, record, [], ROLLING_BACK)

    # -- running steps ---------------------------------------------------------------

    def _sequence(
        self, steps: list[Step], record: TransitionRecord, completed: list[Step], mode: Mode
    ) -> bool:
        ok = True
        for index, step in enumerate(steps):
            if mode.stop_on_failure and (not ok or self.ctx.abort.is_set()):
                self._skip(steps[index:], record)
                break
            ok = self._run_and_remember(step, record, completed, mode) and ok
        return ok and not (mode.stop_on_failure and self.ctx.abort.is_set())

    def _run_and_remember(
        self,
        step: Step,
        record: TransitionRecord,
        completed: list[Step],
        mode: Mode,
        ahead: Ahead | None = None,
    ) -> bool:
        result = self._run_step(step, record, mode, ahead)
        if result.outcome is StepOutcome.OK:
            with self._lock:
                completed.append(step)
        return result.outcome in PASSED

    def _run_step(
        self, step: Step, record: TransitionRecord, mode: Mode, ahead: Ahead | None = None
    ) -> StepResult:
        """Look, then do; `ahead`: a batched step's look and outcome, already known."""
        started = datetime.now(UTC)
        description = step.record(self.ctx)
        doubt = detail = output = ""
        looking = True  # an error now comes from the "already done?" look
        try:
            if ahead is not None:
                done, doubt = ahead.done, ahead.doubt
            else:
                try:
                    done = step.is_done(self.ctx)
                except Exception as exc:  # any doubt, also a bug in is_done, means act
                    if not mode.act_in_doubt:
                        raise
                    doubt = f"could not tell whether it was already done ({exc}); ran it anyway"
                    done = False
            if doubt:
                log.warning("%s %s: %s: %s", record.kind, record.group, description.kind, doubt)
            looking = False
            if done:
                outcome = StepOutcome.NOOP
                detail = "already done"
            else:
                if ahead is not None:  # the batch witnessed its command (ChainRunner)
                    output = ahead.outcome_of()
                else:
                    if step.changes_node and (problem := self._before_change(mode)):
                        raise StepFailed(problem)  # no change the journal cannot show
                    output = step.do(self.ctx)
                outcome = StepOutcome.OK
                if step.changes_node:
                    self.ctx.changed = True
        except AlreadyDone as exc:  # the command's own answer: nothing was left to do
            outcome, detail = StepOutcome.NOOP, f"already done: {exc}"
        except (StepTimedOut, CommandTimedOut) as exc:
            outcome, detail = StepOutcome.TIMED_OUT, str(exc)
            self._note_unread(step, exc, looking, mode)
        except (StepFailed, CarpswitchError) as exc:
            outcome, detail = StepOutcome.FAILED, str(exc)
            self._note_unread(step, exc, looking, mode)
        except Exception as exc:  # a bug must not leave the node half-promoted
            log.exception("step %s crashed", description.kind)
            outcome, detail = StepOutcome.FAILED, f"internal error: {exc!r}"
        result = StepResult(
            step=description,
            outcome=outcome,
            started_at=started,
            ended_at=datetime.now(UTC),
            detail="; ".join(d for d in (doubt, detail) if d),
            output=output,
        )
        self._journal(record, result, mode)
        return result

    def _before_change(self, mode: Mode) -> str | None:
        """Make the journal durable before a promotion changes the node; the problem when
        it cannot be (then the change is not made and the promotion rolls back)."""
        if mode is PROMOTING and not self._witness.before_change():
            return self._witness.problem
        return None

    def _note_unread(self, step: Step, exc: Exception, looking: bool, mode: Mode) -> None:
        """Remember a promotion step that failed only because the node could not be read."""
        if mode is not PROMOTING or not isinstance(exc, (CommandError, ParseError)):
            return
        if looking or step.reads_only:
            with self._lock:
                self._unread.append(f"{step.kind}: {exc}")

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
        self._journal(record, result, ROLLING_BACK)

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
            self._journal(record, result, PROMOTING)

    def _journal(self, record: TransitionRecord, result: StepResult, mode: Mode) -> None:
        with self._lock:  # the record in memory; the journal's append is not serialised here
            (record.undo if mode.undo else record.steps).append(result)
            self.on_step(record, result)
        written = self._witness.step(result, undo=mode.undo)
        if not written and mode.stop_on_failure:
            self.ctx.abort.set()  # a promotion the journal cannot follow is rolled back
        bad = result.outcome in (StepOutcome.FAILED, StepOutcome.TIMED_OUT)
        log.log(
            logging.WARNING if bad else logging.INFO,
            "%s %s: %s%s %s in %.2fs: %s%s",
            record.kind,
            record.group,
            "undo " if mode.undo else "",
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
