"""A client that keeps writing through the CARP address while the chaos happens.

The writer thread writes a few ledgered blocks per qemu-io run (carpswitch.lab.cluster.
initiator) until stopped, and notes when each run ended, so a test can say when the LUN
answered again after a fault (the first acknowledged write that started after it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from carpswitch.lab.cluster.initiator import Initiator, InitiatorError, WriteRecord

#: Blocks per qemu-io run: small, so a failure cuts few writes in flight.
BATCH = 4
#: Pause after a failed run (the address is moving; do not spin).
RETRY_PAUSE = 0.2


@dataclass(frozen=True)
class Attempt:
    """One qemu-io run of the writer: when it started and ended, and what it wrote."""

    started: float
    ended: float
    records: tuple[WriteRecord, ...]

    @property
    def acknowledged(self) -> int:
        """How many of its writes were acknowledged."""
        return sum(record.acknowledged for record in self.records)


@dataclass
class Writer:
    """Writes through `initiator` in a thread until `stop()`."""

    initiator: Initiator
    attempts: list[Attempt] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Writer:
        """Start writing."""
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the run in flight (bounded by the initiator's timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.initiator.timeout + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                records = self.initiator.write(BATCH)
            except InitiatorError as exc:  # qemu-io missing or unusable: stop, say why
                self.errors.append(str(exc))
                return
            attempt = Attempt(started, time.monotonic(), tuple(records))
            self.attempts.append(attempt)
            if attempt.acknowledged < len(records):
                self._stop.wait(RETRY_PAUSE)

    @property
    def acknowledged(self) -> int:
        """Writes acknowledged so far."""
        return sum(attempt.acknowledged for attempt in self.attempts)

    def answered_after(self, moment: float) -> float | None:
        """When the first run that started after `moment` had a write acknowledged."""
        for attempt in self.attempts:
            if attempt.started >= moment and attempt.acknowledged:
                return attempt.ended
        return None

    def wait_answered_after(self, moment: float, timeout: float) -> float | None:
        """Wait up to `timeout` for answered_after(moment); None if the LUN stayed silent."""
        deadline = time.monotonic() + timeout
        while (answered := self.answered_after(moment)) is None:
            if time.monotonic() >= deadline or self.errors:
                return None
            time.sleep(0.1)
        return answered
