"""Coalescing: wait out a burst of events, reconcile, and repeat until nothing changes.

Pure logic over two seams, so tests drive it with fakes: an EventSource (the inbox for a
worker, the sockets for the daemon) and a reconcile function (the controller). Events are
wake-ups only: each round acts on what the controller observes when it runs.

One round: wait until `settle` seconds pass without a new event (quiet time since the last
one); if events keep coming for `flap_limit` seconds, stop waiting and reconcile on the
safe side (flapping: demote, never promote). After a round that ran a transition, or when
events arrived meanwhile, observe again; stop when a round changes nothing and nothing new
came. A round that ran on the safe side is followed by another settle wait, so a pause in
the flapping does not promote at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from carpswitch.engine.lock import LockBusy
from carpswitch.intake.inbox import IntakeEvent

log = logging.getLogger(__name__)

#: reconcile(trigger, flapping) -> number of transitions it ran; LockBusy when an admin
#: command holds the actor lock.
Reconcile = Callable[[str, bool], int]
Clock = Callable[[], float]
#: Waits shorter than this count as done (clock arithmetic leaves crumbs like 1e-16 s).
TICK = 1e-6


class EventSource(Protocol):
    """Where new events come from while a burst is coalesced."""

    def wait(self, timeout: float) -> list[IntakeEvent]:
        """Events that arrive within `timeout` seconds (as soon as there is one; [] if none).

        Returns early, possibly with nothing, when `stopping()` became true.
        """

    def stopping(self) -> bool:
        """Whether the process was asked to stop (SIGTERM)."""


@dataclass(frozen=True)
class Pacing:
    """How long to wait, and how often to try, before and between reconciles."""

    settle: float = 1.0
    flap_limit: float = 30.0
    max_rounds: int = 20  # then leave it to the next event or the daemon's timer
    busy_retry: float = 1.0  # an admin command holds the actor lock: look again this often
    busy_patience: float = 900.0  # longer than the longest step timeout (fsck, 600 s)


@dataclass(frozen=True)
class Burst:
    """The events one round acts on, and how waiting for them ended."""

    events: tuple[IntakeEvent, ...]
    flapping: bool = False
    stopped: bool = False


@dataclass(frozen=True)
class Round:
    """One reconcile: its trigger, whether it took the safe side, transitions it ran."""

    trigger: str
    flapping: bool
    events: int
    transitions: int


@dataclass
class Summary:
    """What `run_until_quiet` did, and why it returned."""

    rounds: list[Round] = field(default_factory=list)
    stopped: bool = False  # asked to stop (SIGTERM)
    gave_up: str = ""  # non-empty: why it stopped before things were quiet

    @property
    def events(self) -> int:
        """How many events the rounds coalesced."""
        return sum(r.events for r in self.rounds)

    @property
    def transitions(self) -> int:
        """How many transitions the rounds ran."""
        return sum(r.transitions for r in self.rounds)

    def describe(self) -> str:
        """One log line: `2 rounds (hook MASTER 1@em0 (+9 coalesced); re-check ...), ...`."""
        triggers = "; ".join(r.trigger for r in self.rounds)
        line = (
            f"{len(self.rounds)} rounds ({triggers}), {self.events} events, "
            f"{self.transitions} transitions"
        )
        if self.stopped:
            line += "; stopped"
        return f"{line}; gave up: {self.gave_up}" if self.gave_up else line


def settle(
    first: Sequence[IntakeEvent],
    source: EventSource,
    pacing: Pacing,
    clock: Clock = time.monotonic,
) -> Burst:
    """Collect events until `settle` seconds pass without one, or `flap_limit` is reached."""
    events = list(first)
    start = quiet_since = clock()
    while True:
        if source.stopping():
            return Burst(tuple(events), stopped=True)
        now = clock()
        quiet_left = pacing.settle - (now - quiet_since)
        if quiet_left <= TICK:
            return Burst(tuple(events))
        flap_left = pacing.flap_limit - (now - start)
        if flap_left <= TICK:
            return Burst(tuple(events), flapping=True)
        more = source.wait(min(quiet_left, flap_left))
        if more:
            events += more
            quiet_since = clock()


def trigger_for(events: Sequence[IntakeEvent], otherwise: str) -> str:
    """`hook MASTER 1@vtnet0 (+199 coalesced)`: the newest event names the round."""
    if not events:
        return otherwise
    newest = events[-1].describe()
    return f"{newest} (+{len(events) - 1} coalesced)" if len(events) > 1 else newest


def run_until_quiet(
    first: Sequence[IntakeEvent],
    source: EventSource,
    reconcile: Reconcile,
    pacing: Pacing,
    idle_trigger: str,
    clock: Clock = time.monotonic,
) -> Summary:
    """Reconcile in rounds until a round changes nothing and no event is waiting.

    `first` are events already taken; with none, the first round runs at once and is
    named `idle_trigger` (e.g. `timer`).
    """
    summary = Summary()
    pending = list(first)
    must_settle = bool(pending)
    still_flapping = False  # a retry after LockBusy keeps the safe side it had
    busy_since: float | None = None
    while True:
        if must_settle:
            burst = settle(pending, source, pacing, clock)
        else:
            burst = Burst(tuple(pending), still_flapping, stopped=source.stopping())
        if burst.stopped:
            summary.stopped = True
            return summary
        trigger = trigger_for(burst.events, idle_trigger)
        try:
            transitions = reconcile(trigger, burst.flapping)
        except LockBusy as exc:
            now = clock()
            busy_since = now if busy_since is None else busy_since
            if now - busy_since >= pacing.busy_patience:
                summary.gave_up = f"the actor lock stayed busy for {pacing.busy_patience:g} s"
                return summary
            log.info("%s: waiting: %s", trigger, exc)
            pending = [*burst.events, *source.wait(pacing.busy_retry)]
            must_settle, still_flapping = False, burst.flapping
            continue
        busy_since = None
        summary.rounds.append(Round(trigger, burst.flapping, len(burst.events), transitions))
        if source.stopping():
            summary.stopped = True
            return summary
        pending = source.wait(0)
        if transitions == 0 and not pending and not burst.flapping:
            return summary
        if len(summary.rounds) >= pacing.max_rounds:
            summary.gave_up = f"still changing after {pacing.max_rounds} rounds"
            return summary
        must_settle, still_flapping = bool(pending) or burst.flapping, False
        idle_trigger = f"re-check after {trigger}"
