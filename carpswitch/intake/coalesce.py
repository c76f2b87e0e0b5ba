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

A round that failed (a transition failed, or the reconcile itself) is tried again after a
growing interval (`first_retry`, doubling, at most `longest_retry`): a missing hastctl
must not turn one event into twenty failed demotions in a row. Each round's failure, or
its absence, goes to a ConditionSink, which logs and records it once per change.
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

Clock = Callable[[], float]
#: Waits shorter than this count as done (clock arithmetic leaves crumbs like 1e-16 s).
TICK = 1e-6


@dataclass(frozen=True)
class Outcome:
    """What one reconcile did: how many transitions it ran, and what failed ("" nothing).

    `failure` names the failing condition in words that stay the same from one try to the
    next (no ids, no times), so a repeated failure is recognised as the same one.
    """

    transitions: int = 0
    failure: str = ""


#: The CARP subsystems (`VHID@IFACE`, or `IFACE` for an event of a whole interface) that
#: kept changing past `flap_limit`; empty when nothing flapped.
Flapping = frozenset[str]
NOT_FLAPPING: Flapping = frozenset()

#: reconcile(trigger, flapping) -> Outcome; raises LockBusy when an admin command holds
#: the actor lock.
Reconcile = Callable[[str, Flapping], Outcome]


class ConditionSink(Protocol):
    """Told after every round what failed ("" nothing) and when the next try comes."""

    def report(self, failure: str, retry_in: float) -> None:
        """Record and log `failure` (once per change); "" means things work again."""


class NoSink:
    """A ConditionSink that records nothing (tests, one-off reconciles)."""

    def report(self, failure: str, retry_in: float) -> None:
        """Nothing to record."""


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
    first_retry: float = 1.0  # a failed round is tried again after this, then twice as long
    longest_retry: float = 30.0  # ... up to this ([intake] timer)


@dataclass(frozen=True)
class Burst:
    """The events one round acts on, and how waiting for them ended."""

    events: tuple[IntakeEvent, ...]
    flapping: Flapping = NOT_FLAPPING
    stopped: bool = False


@dataclass(frozen=True)
class Round:
    """One reconcile: its trigger, whether it took the safe side, transitions it ran."""

    trigger: str
    flapping: Flapping
    events: int
    transitions: int
    failure: str = ""


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
    """Collect events until `settle` seconds pass without one, or `flap_limit` is reached.

    Flapping is judged per subsystem: at `flap_limit`, the ones still changing (an event
    within the last `settle` seconds) flapped; one that went quiet had settled, even though
    another kept the burst open.
    """
    events = list(first)
    start = quiet_since = clock()
    last_seen = dict.fromkeys((e.subsystem for e in events if e.subsystem), start)
    while True:
        if source.stopping():
            return Burst(tuple(events), stopped=True)
        now = clock()
        quiet_left = pacing.settle - (now - quiet_since)
        if quiet_left <= TICK:
            return Burst(tuple(events))
        flap_left = pacing.flap_limit - (now - start)
        if flap_left <= TICK:
            still = frozenset(k for k, t in last_seen.items() if now - t < pacing.settle)
            return Burst(tuple(events), flapping=still)
        more = source.wait(min(quiet_left, flap_left))
        if more:
            events += more
            quiet_since = clock()
            last_seen.update(dict.fromkeys((e.subsystem for e in more if e.subsystem), quiet_since))


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
    conditions: ConditionSink | None = None,
) -> Summary:
    """Reconcile in rounds until a round changes nothing, fails nothing, and no event waits.

    `first` are events already taken; with none, the first round runs at once and is
    named `idle_trigger` (e.g. `timer`). Later rounds without events are named after the
    last round that had some (`re-check after hook MASTER 1@vtnet0`), so the name never
    grows.
    """
    sink = conditions or NoSink()
    summary = Summary()
    pending = list(first)
    must_settle = bool(pending)
    still_flapping = NOT_FLAPPING  # a retry after LockBusy keeps the safe side it had
    busy_since: float | None = None
    retry: float | None = None  # the wait before the next try while rounds fail
    cause = idle_trigger
    while True:
        if must_settle:
            burst = settle(pending, source, pacing, clock)
        else:
            burst = Burst(tuple(pending), still_flapping, stopped=source.stopping())
        if burst.stopped:
            summary.stopped = True
            return summary
        trigger = trigger_for(burst.events, idle_trigger)
        cause = trigger if burst.events else cause
        try:
            outcome = reconcile(trigger, burst.flapping)
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
        summary.rounds.append(
            Round(trigger, burst.flapping, len(burst.events), outcome.transitions, outcome.failure)
        )
        retry = _next_retry(retry, pacing) if outcome.failure else None
        sink.report(outcome.failure, retry or 0.0)
        if source.stopping():
            summary.stopped = True
            return summary
        pending = source.wait(0) if retry is None else _wait_out(source, retry, clock)
        if source.stopping():
            summary.stopped = True
            return summary
        quiet = outcome.transitions == 0 and retry is None and not burst.flapping
        if quiet and not pending:
            return summary
        if len(summary.rounds) >= pacing.max_rounds:
            summary.gave_up = (
                f"still failing after {pacing.max_rounds} rounds: {outcome.failure}"
                if outcome.failure
                else f"still changing after {pacing.max_rounds} rounds"
            )
            return summary
        must_settle, still_flapping = bool(pending) or bool(burst.flapping), NOT_FLAPPING
        idle_trigger = f"{'retry' if retry is not None else 're-check'} after {cause}"


def _next_retry(previous: float | None, pacing: Pacing) -> float:
    """1, 2, 4, ... seconds, at most `longest_retry`."""
    if previous is None:
        return min(pacing.first_retry, pacing.longest_retry)
    return min(previous * 2, pacing.longest_retry)


def _wait_out(source: EventSource, seconds: float, clock: Clock) -> list[IntakeEvent]:
    """Wait the whole `seconds` (events do not cut a retry interval short; SIGTERM does)."""
    events: list[IntakeEvent] = []
    deadline = clock() + seconds
    while not source.stopping():
        remaining = deadline - clock()
        if remaining <= TICK:
            break
        events += source.wait(remaining)
    return events
