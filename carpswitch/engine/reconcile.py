"""One reconcile cycle of the controller: observe, decide per group, act.

* A group that needs a fact that could not be read is looked at again within the cycle,
  LOOKS times in all, the pause doubling from FIRST_PAUSE (0.5 s, then 1 s; every command
  of a look is bounded by [timeouts] observe). Still unreadable, it is reported (a warning,
  `Controller.unsettled`) and left exactly as it is: a reading failure is never a reason
  to act.
* A group whose configuration has a problem gets a `refused` record; the others go on.
* Under boot rules (carpswitch.engine.boot) a group CARP would promote is first taken to
  secondary, and a primary peer gets its reconnect time (boot.peer_bound) to connect; a
  group it connected to is not promoted in this reconcile.
* Nothing escapes but LockBusy: an error (a bug, an OSError from a state file) is logged in
  one line (traceback at debug) and listed in `Controller.errors`; other groups go on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from carpswitch.controller import Controller, Refused
from carpswitch.engine.boot import (
    BootWindow,
    any_init,
    peer_bound,
    peer_may_hold,
    wait_for_peer,
)
from carpswitch.engine.decide import Circumstances, Decision, decide
from carpswitch.engine.lock import LockBusy
from carpswitch.engine.pause import PauseFlag
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.engine.step import FIRST_PAUSE, LOOKS
from carpswitch.errors import one_line
from carpswitch.guards.look import GuardLook
from carpswitch.model import NodeState, TransitionKind, TransitionRecord
from carpswitch.topology import Group, Topology

log = logging.getLogger(__name__)


BOOT_REASON = "boot: every resource secondary first, so that a primary peer can connect"


class Reconcile:
    """One reconcile of `controller`; `run()` returns the records of what it started."""

    def __init__(
        self,
        controller: Controller,
        trigger: str,
        boot: bool,
        flapping: frozenset[str],
        should_stop: Callable[[], bool],
    ) -> None:
        self.controller = controller
        self.trigger = trigger
        self.boot = boot
        self.flapping = flapping
        self.should_stop = should_stop
        self.records: list[TransitionRecord] = []
        self.stopped = False
        self.peer_seen: set[str] = set()  # groups a remote primary connected to at boot

    def run(self) -> list[TransitionRecord]:
        """Take the lock and reconcile; only LockBusy is raised."""
        controller = self.controller
        controller.unsettled, controller.errors = [], []
        try:
            with controller.lock():
                self._cycle()
        except LockBusy:
            raise
        except Exception as exc:  # the daemon must live on
            self._caught(f"reconcile ({self.trigger})", exc)
        return self.records

    def _cycle(self) -> None:
        controller = self.controller
        controller.close_interrupted()
        circumstances = self._circumstances()
        if self.boot:
            self._boot_rule(circumstances)
        pending: set[str] | None = None
        pause = FIRST_PAUSE
        for look in range(1, LOOKS + 1):
            topology, state = controller.observe()
            decisions = [
                self._remembered(d)
                for d in decide(topology, state, circumstances)
                if pending is None or d.group.name in pending
            ]
            pending = set()
            for decision in decisions:
                if decision.unread and look < LOOKS:
                    log.info("group %s: %s; looking again", decision.group.name, decision.reason)
                    pending.add(decision.group.name)
                elif decision.unread:
                    reason = f"{decision.reason} (after {LOOKS} looks)"
                    log.warning("group %s: %s", decision.group.name, reason)
                    controller.unsettled.append(dataclasses.replace(decision, reason=reason))
                else:
                    self._guarded(decision.group, self._act, decision, topology, state)
                if self.stopped:
                    return
            if not pending:
                break
            controller.sleep(pause)
            pause *= 2
        if self.boot and not (circumstances.paused or controller.unsettled or controller.errors):
            BootWindow(controller.config.paths.run_dir).close()  # the boot rules have run

    def _circumstances(self) -> Circumstances:
        """Pause flag, hold, split-brain marks and the guards; one that cannot be read
        means no automatic promotion (SplitBrainMarks.read never raises: unreadable marks
        every resource; GuardLook.look never raises for the guards' own trouble)."""
        state_dir = self.controller.config.paths.state_dir
        try:
            paused = PauseFlag(state_dir).is_set()
            held = self.controller.book.load().held
        except Exception as exc:  # unreadable guard rails: the safe side
            self._caught("guard rails (not promoting)", exc)
            paused, held = False, True
        return Circumstances(
            paused=paused,
            held=held,
            boot=self.boot,
            flapping=self.flapping,
            split_brain=SplitBrainMarks(state_dir).read(),
            guards=GuardLook(self.controller.config, self.controller.context.runner).look(),
        )

    def _boot_rule(self, circumstances: Circumstances) -> None:
        """Groups CARP would promote: to secondary, then wait for a primary peer; the groups
        it connected to stay secondary for this reconcile, even if the connection drops.

        Only spares the node a promotion that LeaveInit would fail: the promotion itself
        keeps the rule when this look could not be read.
        """
        controller = self.controller
        topology, state = controller.observe()
        groups = peer_may_hold(decide(topology, state, circumstances), state)
        if not groups:
            return
        for group in groups:
            if any_init(group, state):
                self._guarded(group, self._to_secondary, group, topology, state)
        release = controller.config.timeouts.release
        bound = max(
            (
                peer_bound(r, release)
                for g in groups
                for n in g.resources
                if (r := topology.resources.get(n)) is not None
            ),
            default=release,
        )
        connected = wait_for_peer(
            controller.context.observer.hast, groups, bound, controller.sleep, self.should_stop
        )
        for name in connected:
            log.info("boot: group %s: a remote primary connected; this node stays secondary", name)
        self.peer_seen.update(connected)

    def _remembered(self, decision: Decision) -> Decision:
        """A group a remote primary connected to during the boot wait is not promoted in this
        reconcile: a dropped connection does not mean the peer stopped being primary."""
        if decision.action is TransitionKind.PROMOTE and decision.group.name in self.peer_seen:
            reason = "boot: a remote primary connected during the wait; staying secondary"
            return dataclasses.replace(decision, action=None, reason=reason)
        return decision

    def _to_secondary(self, group: Group, topology: Topology, state: NodeState) -> None:
        plan = self.controller.plan(TransitionKind.DEMOTE, topology, state, group, force=False)
        self.records.append(self.controller.execute(plan, topology, self.trigger, BOOT_REASON))

    def _act(self, decision: Decision, topology: Topology, state: NodeState) -> None:
        controller = self.controller
        group = decision.group
        if decision.refused is not None:
            record = controller.refuse(group, decision.refused, self.trigger, decision.reason)
            self.records.append(record)
            return
        log.info("group %s: %s", group.name, decision.reason)
        if decision.action is None:
            return
        if self.should_stop():
            log.warning("stopping: group %s not acted on", group.name)
            self.stopped = True
            return
        if self._paused_meanwhile():
            log.info("group %s: paused meanwhile (carpswitch resume): not acting", group.name)
            return
        try:
            plan = controller.plan(
                decision.action, topology, state, group, force=False, give_away=decision.give_away
            )
        except Refused as exc:
            log.warning("%s", exc)
            return
        self.records.append(controller.execute(plan, topology, self.trigger, decision.reason))

    def _paused_meanwhile(self) -> bool:
        """The admin paused after this round read its circumstances (the guards' look, a
        long boot wait): a transition not yet started must not start."""
        return PauseFlag(self.controller.config.paths.state_dir).is_set()

    def _guarded(self, group: Group, act: Callable[..., None], *args: object) -> None:
        """Run `act(*args)` for one group; an error is caught so the other groups go on."""
        try:
            act(*args)
        except Exception as exc:  # one group's error must not stop the others
            self._caught(f"group {group.name}", exc)

    def _caught(self, where: str, exc: Exception) -> None:
        log.debug("%s: error", where, exc_info=exc)
        line = one_line(f"{where}: {type(exc).__name__}: {exc}")
        log.error("%s", line)
        self.controller.errors.append(line)
