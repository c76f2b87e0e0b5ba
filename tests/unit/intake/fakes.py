"""Fakes for coalescing tests: a clock that only moves when told, a scripted event source."""

from __future__ import annotations

from dataclasses import dataclass, field

from carpswitch.intake.coalesce import Outcome
from carpswitch.intake.inbox import IntakeEvent


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def event(state: str = "MASTER", at: float = 0.0, subsystem: str = "1@vtnet0") -> IntakeEvent:
    return IntakeEvent("hook", state, subsystem, at)


@dataclass
class ScriptedSource:
    """Events arrive at scripted clock times; `wait` moves the clock to the next arrival."""

    clock: FakeClock
    arrivals: list[tuple[float, IntakeEvent]] = field(default_factory=list)
    stop_at: float | None = None
    waits: list[float] = field(default_factory=list)

    def arrive(self, at: float, state: str = "MASTER", subsystem: str = "1@vtnet0") -> None:
        self.arrivals.append((at, event(state, at, subsystem)))
        self.arrivals.sort(key=lambda pair: pair[0])

    def every(self, start: float, end: float, step: float, subsystem: str = "1@vtnet0") -> None:
        """Alternating MASTER/BACKUP events from start to end (exclusive)."""
        at, index = start, 0
        while at < end:
            self.arrive(at, "MASTER" if index % 2 == 0 else "BACKUP", subsystem)
            at, index = round(at + step, 9), index + 1

    def wait(self, timeout: float) -> list[IntakeEvent]:
        self.waits.append(timeout)
        deadline = self.clock.now + timeout
        if self.stop_at is not None and self.stop_at <= deadline:
            self.clock.now = max(self.clock.now, self.stop_at)
            return self._due()
        if self.arrivals and self.arrivals[0][0] <= deadline:
            self.clock.now = max(self.clock.now, self.arrivals[0][0])
            return self._due()
        self.clock.now = deadline
        return []

    def _due(self) -> list[IntakeEvent]:
        due = [e for t, e in self.arrivals if t <= self.clock.now]
        self.arrivals = [(t, e) for t, e in self.arrivals if t > self.clock.now]
        return due

    def stopping(self) -> bool:
        return self.stop_at is not None and self.clock.now >= self.stop_at


@dataclass
class RecordingReconcile:
    """Records each round's (clock time, trigger, flapping); returns scripted outcomes.

    `transitions` and `failures` are popped one per round (then 0 and "").
    """

    clock: FakeClock
    transitions: list[int] = field(default_factory=list)
    duration: float = 0.0
    calls: list[tuple[float, str, frozenset[str]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __call__(self, trigger: str, flapping: frozenset[str]) -> Outcome:
        self.calls.append((self.clock.now, trigger, flapping))
        self.clock.now += self.duration
        transitions = self.transitions.pop(0) if self.transitions else 0
        return Outcome(transitions, self.failures.pop(0) if self.failures else "")
