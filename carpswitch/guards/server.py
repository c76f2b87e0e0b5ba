"""Serve this node's view to the peer: `view\\n` in, one JSON line out, then close.

One thread and one selector serve every connection, so a slow or hostile client costs a
socket, not a thread, and cannot make an honest client wait behind it: each connection has
1 s to ask and be answered, and at most MAX_CLIENTS are open at once (a newcomer closes
the oldest, so a flood of silent connections cannot lock an honest client out). `look`
(the daemon's: observes the node) runs at most once per `max_age` seconds, whatever the
rate of connections, and never two at a time. A look that fails closes the connection
unanswered (the peer hears "closed without a reply").
"""

from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from carpswitch.errors import one_line
from carpswitch.guards.view import PeerView, encode

log = logging.getLogger(__name__)

MAX_CLIENTS = 64
#: The request line is `view`; a first line longer than this is not a request.
MAX_REQUEST = 64


@dataclass
class _Client:
    deadline: float
    received: bytes = b""
    reply: bytes | None = None


class ViewServer:
    """The read-only view on ADDRESS:PORT (port 0: an ephemeral port, see `.port`)."""

    def __init__(
        self,
        address: str,
        port: int,
        look: Callable[[], PeerView],
        *,
        client_timeout: float = 1.0,
        max_age: float = 1.0,
    ) -> None:
        self.address, self.requested_port, self.look = address, port, look
        self.client_timeout, self.max_age = client_timeout, max_age
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._cached: tuple[float, bytes | None] | None = None
        self._clients: dict[socket.socket, _Client] = {}
        self._selector: selectors.BaseSelector
        self._last_problem = ""

    def start(self) -> bool:
        """Listen and serve in a daemon thread; False (logged once) when it cannot listen."""
        if self._thread is not None or self._stop.is_set():
            return self._thread is not None and not self._stop.is_set()
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(self.address).version == 6 else 0
            listener = socket.socket(family or socket.AF_INET, socket.SOCK_STREAM)
        except (ValueError, OSError) as exc:
            return self._cannot_listen(str(exc))
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.address, self.requested_port))
            listener.listen(MAX_CLIENTS)
            listener.setblocking(False)
        except (OSError, OverflowError) as exc:  # OverflowError: a port beyond 65535
            listener.close()
            reason = exc.strerror if isinstance(exc, OSError) else None
            return self._cannot_listen(reason or str(exc))
        self._listener, self.port = listener, listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="view-server", daemon=True)
        self._thread.start()
        return True

    def close(self) -> None:
        """Stop serving and free the port (waits at most 2 s for the thread)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(2.0)
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def _cannot_listen(self, reason: str) -> bool:
        where = f"{self.address} port {self.requested_port}"
        self._warn_once(f"view server: cannot listen on {where}: {reason}; running without a view")
        return False

    def _warn_once(self, problem: str) -> None:
        """Log a problem when it is not the one logged last (a daemon retries often)."""
        if problem != self._last_problem:
            log.warning("%s", problem)
        self._last_problem = problem

    def _serve(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as self._selector:
            self._selector.register(self._listener, selectors.EVENT_READ)
            self._selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                try:
                    self._turn()
                except Exception:  # a bug must not end the view; log it and go on
                    log.exception("view server: unexpected error")
                    self._stop.wait(0.1)
            for conn in list(self._clients):
                self._drop(conn)

    def _turn(self) -> None:
        now = time.monotonic()
        wait = min((c.deadline for c in self._clients.values()), default=now + 1.0) - now
        for key, _ in self._selector.select(max(wait, 0.0)):
            if key.fileobj is self._listener:
                self._accept()
            elif key.fileobj is self._wake_r:
                return
            elif isinstance(key.fileobj, socket.socket) and key.fileobj in self._clients:
                self._talk(key.fileobj)
        now = time.monotonic()
        for conn in [c for c, client in self._clients.items() if client.deadline <= now]:
            self._drop(conn)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError:  # out of file descriptors, ...: let the backlog wait a moment
                self._stop.wait(0.05)
                return
            if len(self._clients) >= MAX_CLIENTS:  # a flood: the oldest waited longest
                self._drop(next(iter(self._clients)))
            conn.setblocking(False)
            self._clients[conn] = _Client(time.monotonic() + self.client_timeout)
            self._selector.register(conn, selectors.EVENT_READ)

    def _talk(self, conn: socket.socket) -> None:
        """Read the request, or write the reply and end the connection."""
        client = self._clients[conn]
        try:
            if client.reply is None:
                if not self._ask(client, conn):
                    self._drop(conn)
                elif client.reply is not None:
                    client.deadline = time.monotonic() + self.client_timeout
                    self._selector.modify(conn, selectors.EVENT_WRITE)
            else:
                client.reply = client.reply[conn.send(client.reply) :]
                if not client.reply:
                    conn.shutdown(socket.SHUT_WR)
                    self._drop(conn)
        except OSError:
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        self._selector.unregister(conn)
        del self._clients[conn]
        conn.close()

    def _ask(self, client: _Client, conn: socket.socket) -> bool:
        """Read what the client sent; set its reply once it asked. False: drop it."""
        chunk = conn.recv(MAX_REQUEST + 1)
        client.received += chunk
        line, found, _ = client.received.partition(b"\n")
        if not found:
            return bool(chunk) and len(client.received) <= MAX_REQUEST
        client.reply = self._reply() if line.strip() == b"view" else None
        return client.reply is not None

    def _reply(self) -> bytes | None:
        """The encoded view, looked at most once per max_age; None when the look failed."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.max_age:
            return self._cached[1]
        try:
            reply: bytes | None = encode(self.look())
        except Exception as exc:  # the look is the daemon's: whatever it raises, no answer
            reason = one_line(f"{type(exc).__name__}: {exc}", 200)
            self._warn_once(f"view server: cannot look at this node: {reason}")
            reply = None
        self._cached = (time.monotonic(), reply)
        return reply
