"""The reconcile a worker or the daemon runs for each round: the controller, logged.

Events reconcile normally, except in the boot window (from `carpswitch reconcile --boot`
until a reconcile under boot rules has finished, carpswitch.engine.boot): then they follow
the boot rules too. Any error of one round (the controller catches its own; this is the
last net) is logged in one line, traceback at debug, and counts as a round that changed
nothing, so the daemon lives on and the next event or the timer tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from carpswitch.config import Config
from carpswitch.context import NodeContext
from carpswitch.controller import Controller
from carpswitch.engine.boot import BootWindow
from carpswitch.engine.decide import Decision
from carpswitch.engine.lock import LockBusy
from carpswitch.errors import one_line
from carpswitch.intake.coalesce import Outcome
from carpswitch.intake.condition import failure_of
from carpswitch.model import TransitionOutcome, TransitionRecord

log = logging.getLogger(__name__)


class ReconcilingController(Protocol):
    """The part of carpswitch.controller.Controller that intake uses."""

    notifications: list[threading.Thread]
    unsettled: list[Decision]  # groups the last reconcile could not decide (unread facts)
    errors: list[str]  # errors the last reconcile caught, one line each

    def reconcile(
        self,
        trigger: str,
        boot: bool = False,
        flapping: frozenset[str] = frozenset(),
        should_stop: Callable[[], bool] = ...,
    ) -> list[TransitionRecord]: ...

    def wait_for_notifications(self) -> None: ...


class Reconciler:
    """`reconcile(trigger, flapping) -> Outcome`, for carpswitch.intake.coalesce."""

    def __init__(self, config: Config, controller: ReconcilingController | None = None) -> None:
        self.controller = controller or Controller(NodeContext(config))
        self.run_dir = config.paths.run_dir
        #: Asked before each group's transition (the daemon points it at its SIGTERM flag).
        self.should_stop: Callable[[], bool] = lambda: False

    def __call__(self, trigger: str, flapping: frozenset[str]) -> Outcome:
        try:
            boot = BootWindow(self.run_dir).is_open()
            records = self.controller.reconcile(
                trigger, boot=boot, flapping=flapping, should_stop=self.should_stop
            )
        except LockBusy:
            raise
        except Exception as exc:  # the daemon must live on
            log.debug("reconcile (%s) failed", trigger, exc_info=exc)
            reason = one_line(str(exc) or repr(exc))
            log.error("reconcile (%s) failed: %s", trigger, reason)
            return Outcome(0, f"reconcile failed: {reason}")
        for record in records:
            log.info(
                "%s %s: %s (%s; %s)",
                record.kind,
                record.group,
                record.outcome,
                record.reason,
                record.trigger,
            )
        self._forget_finished_notifications()
        ran = sum(r.outcome is not TransitionOutcome.REFUSED for r in records)
        # what could not be read or went wrong without a transition is a failing
        # condition too: it is retried with back-off and shown by `status`
        undecided = [f"group {d.group.name}: {d.reason}" for d in self.controller.unsettled]
        failures = [failure_of(records), *undecided, *self.controller.errors]
        return Outcome(ran, "; ".join(f for f in failures if f))

    def finish(self) -> None:
        """Let notify hooks still running end (each is bounded by its timeout)."""
        self.controller.wait_for_notifications()

    def _forget_finished_notifications(self) -> None:
        """Keep the daemon's list of notify threads from growing without bound."""
        self.controller.notifications = [t for t in self.controller.notifications if t.is_alive()]
