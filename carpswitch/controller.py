"""The controller: lock, observe, plan, execute, journal, guard rails, notify.

Level-triggered: it decides from what it observes when it holds the lock, not from what
an event said when it was queued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from carpswitch.context import NodeContext
from carpswitch.engine.decide import Circumstances, decide
from carpswitch.engine.demotion import current_boottime
from carpswitch.engine.executor import Executor, NotStarted, StepListener
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.lock import ActorLock
from carpswitch.engine.notify import notify
from carpswitch.engine.pause import PauseFlag
from carpswitch.engine.plan import Plan, plan_demote, plan_promote
from carpswitch.engine.step import StepContext
from carpswitch.errors import CarpswitchError
from carpswitch.model import (
    CarpState,
    NodeState,
    StepOutcome,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.topology import Group, Topology

log = logging.getLogger(__name__)


class Refused(CarpswitchError):
    """The transition was not started; the message says why."""


class Controller:
    """Runs transitions of groups on this node."""

    def __init__(
        self,
        context: NodeContext,
        on_step: StepListener | None = None,
        lock_wait: float = 0.0,
    ) -> None:
        self.context = context
        self.config = context.config
        self.journal = Journal(self.config.paths.state_dir)
        self.book = FailureBook(self.config.paths.state_dir)
        self.on_step = on_step
        self.lock_wait = lock_wait
        self.notifications: list[threading.Thread] = []

    def transition(
        self,
        kind: TransitionKind,
        group_names: Sequence[str] = (),
        trigger: str = "admin",
        force: bool = False,
    ) -> list[TransitionRecord]:
        """Promote or demote the named groups (all when none); one record per group."""
        with ActorLock(self.config.paths.run_dir, self.lock_wait):
            for record in self.journal.mark_interrupted():
                log.warning(
                    "transition %s (%s %s) was interrupted; reconciling from the observed state",
                    record.id,
                    record.kind,
                    record.group,
                )
            topology, state = self.context.observe()
            groups = self._select(topology, group_names)
            records = []
            for group in groups:
                plan = self.plan(kind, topology, state, group, force)
                reason = f"{kind} requested by {trigger}"
                records.append(self._execute(plan, topology, trigger, reason))
            return records

    def reconcile(
        self,
        trigger: str,
        boot: bool = False,
        flapping: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[TransitionRecord]:
        """Observe, decide per group, and run what the decisions ask for (level-triggered).

        Each decision's reason is logged. A promotion the guard rails refuse is logged and
        skipped. `should_stop` (SIGTERM) is asked before each group's transition: a running
        transition always finishes, the next one does not start. Returns the records of the
        transitions that ran.
        """
        with ActorLock(self.config.paths.run_dir, self.lock_wait):
            self.journal.mark_interrupted()
            topology, state = self.context.observe()
            circumstances = Circumstances(
                paused=PauseFlag(self.config.paths.state_dir).is_set(),
                held=self.book.load().held,
                boot=boot,
                flapping=flapping,
            )
            records = []
            for decision in decide(topology, state, circumstances):
                log.info("group %s: %s", decision.group.name, decision.reason)
                if decision.action is None:
                    continue
                if should_stop():
                    log.warning("stopping: group %s not acted on", decision.group.name)
                    break
                try:
                    plan = self.plan(decision.action, topology, state, decision.group, force=False)
                except Refused as exc:
                    log.warning("%s", exc)
                    continue
                try:
                    records.append(self._execute(plan, topology, trigger, decision.reason))
                except NotStarted as exc:  # the journal cannot be written: other groups go on
                    log.error("%s", exc)
            return records

    def plans(
        self, kind: TransitionKind, group_names: Sequence[str] = ()
    ) -> tuple[StepContext, list[Plan]]:
        """Plans for `carpswitch plan`, against the observed state; nothing runs."""
        topology, state = self.context.observe()
        groups = self._select(topology, group_names)
        return self._step_context(topology), [
            self.plan(kind, topology, state, g, force=True) for g in groups
        ]

    def plan(
        self, kind: TransitionKind, topology: Topology, state: NodeState, group: Group, force: bool
    ) -> Plan:
        """Plan one group's transition, refusing a promotion that must not happen."""
        if kind is TransitionKind.DEMOTE:
            return plan_demote(topology, group)
        saved = self.book.load()
        if saved.held:
            why = saved.note or f"{len(saved.failures)} failed promotions"
            raise Refused(
                f"group {group.name}: {why}; this node stays "
                "BACKUP until an admin runs `carpswitch clear`"
            )
        vhid = state.vhid(group.vhid, group.interface)
        if not force and (vhid is None or vhid.state is not CarpState.MASTER):
            seen = vhid.state if vhid else "not configured"
            raise Refused(
                f"group {group.name}: CARP vhid {group.vhid} is {seen}, not MASTER; "
                "promote anyway with --force (risks two primaries)"
            )
        interface = group.interface or (vhid.interface if vhid else None)
        added = saved.demotion_of_boot(self._boottime())
        return plan_promote(topology, group, self.config, interface, added)

    def _select(self, topology: Topology, names: Sequence[str]) -> list[Group]:
        if not names:
            if not topology.groups:
                raise Refused("no group to act on: configure a [[group]] or a CARP vhid")
            return list(topology.groups)
        unknown = [n for n in names if topology.group(n) is None]
        if unknown:
            known = ", ".join(g.name for g in topology.groups) or "none"
            raise Refused(f"unknown group {', '.join(unknown)} (groups: {known})")
        return [g for n in names if (g := topology.group(n)) is not None]

    def _step_context(self, topology: Topology) -> StepContext:
        return StepContext(
            runner=self.context.runner,
            config=self.config,
            topology=topology,
            observer=self.context.observer,
        )

    def _execute(
        self, plan: Plan, topology: Topology, trigger: str, reason: str
    ) -> TransitionRecord:
        executor = Executor(self._step_context(topology), self.journal, self.on_step)
        record = executor.run(plan, trigger, reason)
        if plan.kind is TransitionKind.PROMOTE:
            self._count(record)
        if self.config.hooks.notify:
            self.notifications.append(
                notify(
                    self.context.runner, self.config.hooks.notify, record, self.config.timeouts.hook
                )
            )
        return record

    def _count(self, record: TransitionRecord) -> None:
        if record.outcome is TransitionOutcome.FAILED:
            added = sum(
                self.config.failover.demotion
                for r in record.undo
                if r.step.kind == "carp_demote" and r.outcome is StepOutcome.OK
            )
            state = self.book.record_failure(
                self.config.failover.max_failures,
                self.config.failover.failure_window,
                added,
                self._boottime(),
            )
            if state.held:
                log.error(
                    "%d failed promotions within %g s: staying BACKUP until `carpswitch clear`",
                    len(state.failures),
                    self.config.failover.failure_window,
                )
        elif any(
            r.step.kind == "carp_undemote" and r.outcome is StepOutcome.OK for r in record.steps
        ):
            self.book.record_success()

    def _boottime(self) -> int | None:
        """This boot (kern.boottime), which the demotion carpswitch added is tied to."""
        return current_boottime(self.context.runner, self.config.timeouts.observe)

    def wait_for_notifications(self) -> None:
        """Let running notify hooks finish (each is bounded by its timeout)."""
        for thread in self.notifications:
            thread.join()
