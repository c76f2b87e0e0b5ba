"""A reader of devd's seqpacket socket that reconnects, with backoff, when devd restarts.

devd accepts any number of readers (10 by default), shuts their write side and forwards
every event it reads from /dev/devctl as one record (sbin/devd/devd.cc). EOF or an error
means devd went away (restart, or it dropped a reader that fell behind): events may have
been missed, so `read` reports the reconnection as an event of its own and the daemon
reconciles.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from carpswitch.devd.events import carp_event_from_devd, parse_devd_line
from carpswitch.errors import ParseError
from carpswitch.intake.inbox import IntakeEvent
from carpswitch.intake.wire import MAX_RECORD, split_devd_record

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0


class DevdSocket:
    """Connection to devd's SOCK_SEQPACKET socket; `fileno()` is None while disconnected."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self._sock: socket.socket | None = None
        self._backoff = BACKOFF_FIRST
        self._retry_at = 0.0
        self._ever_connected = False

    def fileno(self) -> int | None:
        """The socket's fd to select() on, or None."""
        return self._sock.fileno() if self._sock else None

    def seconds_to_retry(self) -> float | None:
        """How long until the next connection attempt; None while connected."""
        if self._sock is not None:
            return None
        return max(0.0, self._retry_at - self.clock())

    def connect_if_due(self) -> list[IntakeEvent]:
        """Try to (re)connect when the backoff allows; a reconnection is reported as an event."""
        if self._sock is not None or self.clock() < self._retry_at:
            return []
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            log.warning("devd socket %s: %s; retrying in %g s", self.path, exc, self._backoff)
            self._schedule_retry()
            return []
        sock.setblocking(False)
        self._sock = sock
        self._backoff = BACKOFF_FIRST
        again = self._ever_connected
        self._ever_connected = True
        log.info("devd socket %s: %s", self.path, "reconnected" if again else "connected")
        return [IntakeEvent("devd", subsystem="reconnected", at=time.time())] if again else []

    def read(self) -> list[IntakeEvent]:
        """CARP events among the records waiting on the socket (others are ignored)."""
        if self._sock is None:
            return []
        events: list[IntakeEvent] = []
        while True:
            try:
                data = self._sock.recv(MAX_RECORD)
            except BlockingIOError:
                return events
            except OSError as exc:
                self._lost(str(exc))
                return events
            if not data:
                self._lost("devd closed the connection")
                return events
            events += carp_events(data)

    def close(self) -> None:
        """Disconnect (for good, or until `connect_if_due`)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _lost(self, why: str) -> None:
        log.warning("devd socket %s: %s; reconnecting in %g s", self.path, why, self._backoff)
        self.close()
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._retry_at = self.clock() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)


def carp_events(record: bytes) -> list[IntakeEvent]:
    """The CARP state changes in one record from devd; anything else is skipped."""
    events = []
    for line in split_devd_record(record):
        try:
            carp = carp_event_from_devd(parse_devd_line(line))
        except ParseError as exc:
            log.warning("devd: %s", exc)
            continue
        if carp is None:
            continue
        subsystem = carp.interface if carp.vhid is None else f"{carp.vhid}@{carp.interface}"
        events.append(IntakeEvent("devd", carp.state, subsystem, at=time.time()))
    return events
