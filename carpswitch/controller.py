"""The controller: lock, observe, plan, execute, journal, guard rails, notify.

Level-triggered: it decides from what it observes when it holds the lock, not from what
an event said when it was queued. The reconcile cycle itself (looking again, boot rules,
refusals) is carpswitch.engine.reconcile; this module holds what admin commands share.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from carpswitch.actions.hooks import notify
from carpswitch.context import NodeContext
from carpswitch.engine.decide import Decision
from carpswitch.engine.demotion import current_boottime
from carpswitch.engine.executor import Executor, StepListener
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.lock import ActorLock
from carpswitch.engine.metrics import MetricsWriter
from carpswitch.engine.plan import Plan, give_away_steps, plan_demote, plan_promote
from carpswitch.engine.splitbrain import SplitBrainMarks
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
from carpswitch.topology import Group, Topology, derived_group_name

log = logging.getLogger(__name__)

#: A group name longer than this is cut short in messages (names come from the command line).
SHOWN_NAME = 40


class Refused(CarpswitchError):
    """The transition was not started; the message says why."""


class UnknownGroup(Refused):
    """A group named on the command line does not exist (a usage error)."""


class GroupRefused(Refused):
    """One group's transition is refused for a reason worth a `refused` journal record."""

    def __init__(self, group: Group, kind: TransitionKind, reason: str) -> None:
        self.group = group
        self.kind = kind
        self.reason = reason
        super().__init__(f"group {group.name}: {self.reason}")


class ConfigRefused(GroupRefused):
    """The group's configuration has a problem: no transition of it starts."""

    def __init__(self, group: Group, kind: TransitionKind, problem: str) -> None:
        super().__init__(group, kind, f"{kind} refused, the configuration has a problem: {problem}")


class SplitBrainRefused(GroupRefused):
    """A resource of the group is marked split-brain: no promotion without --force."""


def shown(name: str) -> str:
    """A name from the command line, quoted and cut short for messages."""
    return repr(name) if len(name) <= SHOWN_NAME else repr(name[:SHOWN_NAME]) + "..."


class Controller:
    """Runs transitions of groups on this node."""

    def __init__(
        self,
        context: NodeContext,
        on_step: StepListener | None = None,
        lock_wait: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.context = context
        self.config = context.config
        self.journal = Journal(self.config.paths.state_dir)
        self.book = FailureBook(self.config.paths.state_dir)
        self.on_step = on_step
        self.lock_wait = lock_wait
        self.sleep = sleep
        self.notifications: list[threading.Thread] = []
        #: Groups the last reconcile could not decide (a fact stayed unreadable).
        self.unsettled: list[Decision] = []
        #: One line per error the last reconcile caught (it never raises but LockBusy).
        self.errors: list[str] = []
        #: The last look at the node while nothing has run since (the first phase's look).
        self._seen: NodeState | None = None
        #: The last look at the node, whatever ran since (the daemon's guard watch).
        self.last_look: tuple[Topology, NodeState] | None = None
        self._boot: tuple[int | None] | None = None  # kern.boottime, read once per look
        self.metrics = MetricsWriter(self.config)  # carpswitch.prom, when [metrics] dir

    def observe(self) -> tuple[Topology, NodeState]:
        """Look at the node (under the lock): the next transition's first phase starts
        from this look, and kern.boottime is read again at most once."""
        topology, state = self.context.observe()
        self._seen, self._boot = state, None
        self.last_look = (topology, state)
        self.metrics.observed(topology, state)
        return topology, state

    def lock(self) -> ActorLock:
        """The actor lock (one carpswitch acts at a time)."""
        return ActorLock(self.config.paths.run_dir, self.lock_wait)

    def transition(
        self,
        kind: TransitionKind,
        group_names: Sequence[str] = (),
        trigger: str = "admin",
        force: bool = False,
    ) -> list[TransitionRecord]:
        """Promote or demote the named groups (all when none); one record per group.

        An unknown group name raises UnknownGroup before the lock is taken. A group whose
        configuration has a problem gets a `refused` record; the other groups go on.
        """
        names = self.check_names(group_names)
        with self.lock():
            self.close_interrupted()
            topology, state = self.observe()
            groups = self.select(topology, names)
            records = []
            for group in groups:
                try:
                    plan = self.plan(kind, topology, state, group, force)
                except GroupRefused as exc:
                    records.append(self.refuse(exc.group, exc.kind, trigger, exc.reason))
                    continue
                reason = f"{kind} requested by {trigger}"
                records.append(self.execute(plan, topology, trigger, reason))
            return records

    def reconcile(
        self,
        trigger: str,
        boot: bool = False,
        flapping: frozenset[str] = frozenset(),
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[TransitionRecord]:
        """Observe, decide per group, and run what the decisions ask for (level-triggered).

        Never raises but LockBusy: errors are logged and listed in `errors`, groups left
        undecided in `unsettled`. See carpswitch.engine.reconcile.
        """
        from carpswitch.engine.reconcile import Reconcile

        records = Reconcile(self, trigger, boot, flapping, should_stop).run()
        self.metrics.write()  # every round, the daemon's timer too: this round's look
        return records

    def plans(
        self, kind: TransitionKind, group_names: Sequence[str] = ()
    ) -> tuple[StepContext, list[Plan], list[str]]:
        """Plans for `carpswitch plan`, against the observed state; nothing runs.

        Returns the plans and, for each group that would be refused, why.
        """
        names = self.check_names(group_names)
        topology, state = self.observe()
        plans, refusals = [], []
        for group in self.select(topology, names):
            try:
                plans.append(self.plan(kind, topology, state, group, force=True, guards=True))
            except ConfigRefused as exc:
                refusals.append(str(exc))
                continue
            split_brain = self.split_brain(kind, group)
            if split_brain:  # the plan is what `promote --force` would run
                refusals.append(f"group {group.name}: {split_brain}")
        return self.step_context(topology), plans, refusals

    def plan(
        self,
        kind: TransitionKind,
        topology: Topology,
        state: NodeState,
        group: Group,
        force: bool,
        give_away: bool = False,
        guards: bool | None = None,
    ) -> Plan:
        """Plan one group's transition, refusing one that must not happen.

        A group with a configuration problem that blocks `kind` is refused (ConfigRefused);
        only an admin's `demote --force` goes ahead, since a demotion never makes a second
        primary. A resource hast.conf lacks blocks a promotion only (topology). A resource
        marked split-brain blocks a promotion without `force` (SplitBrainRefused).
        `give_away`: a guard's demotion, after which the address goes to the peer. `guards`
        (default: not `force`): a promotion's guard steps.
        """
        problems = topology.problems_of(group, kind)
        if problems and not (force and kind is TransitionKind.DEMOTE):
            raise ConfigRefused(group, kind, problems[0])
        vhid = state.vhid(group.vhid, group.interface)
        interface = group.interface or (vhid.interface if vhid else None)
        if kind is TransitionKind.DEMOTE:
            if not give_away:
                return plan_demote(topology, group)
            added = self.book.load().demotion_of_boot(self._boottime())
            steps = give_away_steps(self.config, group, interface, added)
            return plan_demote(topology, group, steps)
        split_brain = None if force else self.split_brain(kind, group)
        if split_brain:
            raise SplitBrainRefused(group, kind, f"{split_brain}; or promote --force")
        saved = self.book.load()
        if saved.held:
            why = saved.note or f"{len(saved.failures)} failed promotions"
            raise Refused(
                f"group {group.name}: {why}; this node stays "
                "BACKUP until an admin runs `carpswitch clear`"
            )
        if not force and (vhid is None or vhid.state is not CarpState.MASTER):
            seen = vhid.state if vhid else "not configured"
            raise Refused(
                f"group {group.name}: CARP vhid {group.vhid} is {seen}, not MASTER; "
                "promote anyway with --force (risks two primaries)"
            )
        added = saved.demotion_of_boot(self._boottime())
        checked = not force if guards is None else guards
        return plan_promote(topology, group, self.config, interface, added, checked)

    def split_brain(self, kind: TransitionKind, group: Group) -> str | None:
        """Why `kind` is refused for a split-brain mark on the group, or None (a demotion
        never is; an unreadable marks directory marks every resource)."""
        if kind is not TransitionKind.PROMOTE:
            return None
        return SplitBrainMarks(self.config.paths.state_dir).read().reason(group.resources)

    def check_names(self, names: Sequence[str]) -> list[str]:
        """The named groups once each, in order; UnknownGroup when one cannot exist.

        Runs before the lock is taken. Configured groups are known from the config; groups
        made up from CARP vhids are checked against the vhids ifconfig shows (when it can).
        """
        unique = list(dict.fromkeys(names))
        if not unique:
            return unique
        if self.config.group:
            known = [g.name for g in self.config.group]
        else:
            carp, unreadable = self.context.observer.carp_state(None)
            if unreadable:
                return unique  # checked again against the topology once observed
            known = sorted({derived_group_name(v.vhid) for v in carp})
        _check_known(unique, known)
        return unique

    def select(self, topology: Topology, names: Sequence[str]) -> list[Group]:
        """The groups called `names` (all when none)."""
        if not names:
            if not topology.groups:
                raise Refused("no group to act on: configure a [[group]] or a CARP vhid")
            return list(topology.groups)
        _check_known(names, [g.name for g in topology.groups])
        return [g for n in dict.fromkeys(names) if (g := topology.group(n)) is not None]

    def close_interrupted(self) -> None:
        """Mark transitions a dead process left `running` as interrupted."""
        closed = self.journal.mark_interrupted()
        self.metrics.transitions(closed)
        for record in closed:
            log.warning(
                "transition %s (%s %s) was interrupted; reconciling from the observed state",
                record.id,
                record.kind,
                record.group,
            )

    def step_context(self, topology: Topology) -> StepContext:
        """What steps run with."""
        return StepContext(
            runner=self.context.runner,
            config=self.config,
            topology=topology,
            observer=self.context.observer,
            sleep=self.sleep,
        )

    def refuse(
        self, group: Group, kind: TransitionKind, trigger: str, reason: str
    ) -> TransitionRecord:
        """Record a transition that was not started, journaled once while it stays the same.

        The same refusal on every timer round would fill the journal: it is journaled (and
        logged as a warning) only when the group's last record is not this very refusal.
        """
        now = datetime.now(UTC)
        record = TransitionRecord(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            group=group.name,
            trigger=trigger,
            reason=reason,
            started_at=now,
            ended_at=now,
            outcome=TransitionOutcome.REFUSED,
        )
        previous = self.journal.last_of(group.name)  # last.json; unreadable: none
        if (
            previous is not None
            and previous.outcome is TransitionOutcome.REFUSED
            and (previous.kind, previous.reason) == (kind, reason)
        ):
            log.info("group %s: %s (still)", group.name, reason)
            return record
        log.warning("group %s: %s", group.name, reason)
        try:
            self.journal.write(record)
        except OSError as exc:  # the refusal stands; only its record is missing
            log.error("group %s: cannot journal the refusal: %s", group.name, exc)
        self.metrics.transitions([record])
        return record

    def execute(
        self, plan: Plan, topology: Topology, trigger: str, reason: str
    ) -> TransitionRecord:
        """Run a plan through the executor, count a failed promotion, tell the notify hook."""
        executor = Executor(self.step_context(topology), self.journal, self.on_step)
        seen, self._seen = self._seen, None  # fresh only until something ran
        record = executor.run(plan, trigger, reason, seen)
        if plan.kind is TransitionKind.PROMOTE or plan.after:
            try:
                self._count(record)
            except OSError as exc:  # a full state_dir: the node was already given away
                log.error(
                    "group %s: cannot update %s (%s): the failure count, the hold and the "
                    "demotion memory are not updated",
                    plan.group.name,
                    self.book.path,
                    exc,
                )
        if self.config.hooks.notify:
            self.notifications.append(
                notify(
                    self.context.runner, self.config.hooks.notify, record, self.config.timeouts.hook
                )
            )
        self.metrics.transitions([record])
        return record

    def _count(self, record: TransitionRecord) -> None:
        if record.kind is TransitionKind.DEMOTE:  # a guard's: what its give-away added
            added = sum(
                self.config.failover.demotion
                for r in record.steps
                if r.step.kind == "carp_demote" and r.outcome is StepOutcome.OK
            )
            if added:
                self.book.record_demotion(added, self._boottime())
            return
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
        """This boot (kern.boottime), which the demotion carpswitch added is tied to; read
        once per look at the node (plan and the failure count ask for it)."""
        if self._boot is None:
            self._boot = (current_boottime(self.context.runner, self.config.timeouts.observe),)
        return self._boot[0]

    def wait_for_notifications(self) -> None:
        """Let running notify hooks finish (each is bounded by its timeout)."""
        for thread in self.notifications:
            thread.join()


def _check_known(names: Sequence[str], known: Sequence[str]) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(known) or "none"
        raise UnknownGroup(f"unknown group {shown(unknown[0])} (groups: {listed})")
