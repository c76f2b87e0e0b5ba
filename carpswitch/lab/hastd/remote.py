"""The primary worker's connection to its secondary (primary.c remote_send/recv threads).

Requests go out in the order they are sent; a thread reads the replies and completes the
requests they answer. A memsync write gets two replies (received, then written), any other
write one (written), a read one (written, with the data). When the connection breaks, or
a reply is overdue by the resource's `timeout` (proto_timeout on HAST's sockets), every
pending request fails at once: a write has then reached the local component only, so its
extents stay dirty."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from carpswitch.lab.hastd.wire import Header, WireError, recv_message, send_message


@dataclass
class Ticket:
    """One request waiting for its replies."""

    extents: range
    received: threading.Event = field(default_factory=threading.Event)
    written: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    sent_at: float = 0.0
    data: bytes = b""  # a read's reply


class RemoteLink:
    """One live connection to the secondary hastd."""

    def __init__(
        self,
        sock: socket.socket,
        timeout: float,
        on_written: Callable[[Ticket], None],
        on_lost: Callable[[RemoteLink], None],
    ) -> None:
        self._sock = sock
        self._timeout = timeout
        self._on_written = on_written
        self._on_lost = on_lost
        self._lock = threading.RLock()
        self._pending: dict[int, Ticket] = {}
        self._seq = 0
        self.alive = True
        self._reader = threading.Thread(target=self._receive, name="remote_recv", daemon=True)
        self._reader.start()

    def send(self, header: Header, payload: bytes = b"", ticket: Ticket | None = None) -> None:
        """Send a request; a `ticket` is completed by its replies (or fails with the link)."""
        with self._lock:
            dead = not self.alive
            broken = False
            if not dead:
                if ticket is not None:
                    self._seq += 1
                    ticket.sent_at = time.monotonic()
                    self._pending[self._seq] = ticket
                    header = {**header, "seq": self._seq}
                try:
                    send_message(self._sock, header, payload)
                except OSError:
                    broken = True
        if dead and ticket is not None:
            self._fail([ticket])
        if broken:
            self.close()  # fails `ticket` with the other pending requests

    def close(self) -> None:
        """Drop the connection; pending requests fail."""
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            pending = list(self._pending.values())
            self._pending.clear()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._on_lost(self)  # first: a failed request returns to a worker that knows
        self._fail(pending)

    def _fail(self, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            ticket.ok = False
            ticket.received.set()
            ticket.written.set()
            self._on_written(ticket)

    def _overdue(self) -> bool:
        with self._lock:
            oldest = min((t.sent_at for t in self._pending.values()), default=None)
        return oldest is not None and time.monotonic() - oldest > self._timeout

    def _receive(self) -> None:
        while self.alive:
            try:
                ready, _, _ = select.select([self._sock], [], [], 0.5)
            except (OSError, ValueError):
                break
            if not ready:
                if self._overdue():
                    break
                continue
            try:
                header, payload = recv_message(self._sock)
            except (WireError, OSError, ValueError):
                break
            self._answer(header, payload)
        self.close()

    def _answer(self, header: Header, payload: bytes) -> None:
        seq = header.get("seq")
        if not isinstance(seq, int):
            return
        with self._lock:
            ticket = self._pending.get(seq)
            if ticket is None:
                return
            if header.get("stage") == "received":
                ticket.received.set()
                return
            del self._pending[seq]
        ticket.ok = header.get("error", 0) == 0
        ticket.data = payload
        ticket.received.set()
        ticket.written.set()
        self._on_written(ticket)
