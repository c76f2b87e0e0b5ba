"""Ask the peer's daemon for its view (the client side of carpswitch.guards.server).

The answer is either a PeerView or a one-line reason the peer could not be heard. Network
trouble never raises: a peer that refuses, hangs, trickles, floods or lies is
"unreachable", and the guards decide what an unheard peer means. One deadline bounds the
whole exchange (resolve, connect, send, read), so a slow peer cannot stretch a look.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

from carpswitch.errors import one_line
from carpswitch.guards.view import MAX_VIEW_BYTES, PeerView, ViewError, decode

REQUEST = b"view\n"
_AddressInfo = tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]


@dataclass(frozen=True)
class PeerAnswer:
    """Exactly one of: the peer's view, or why it could not be had."""

    view: PeerView | None = None
    unreachable: str | None = None

    def __post_init__(self) -> None:
        if (self.view is None) == (self.unreachable is None):
            raise ValueError("a PeerAnswer is either a view or unreachable")

    def describe(self) -> str:
        """One line for logs and status."""
        if self.view is None:
            return f"peer unreachable: {self.unreachable}"
        primaries = ", ".join(f"{name} primary" for name in self.view.primaries())
        return f"peer {self.view.node}: {primaries or 'no resource primary'}"


class _Late(Exception):
    """The deadline passed."""


def ask_peer(address: str, port: int, timeout: float) -> PeerAnswer:
    """Connect to ADDRESS:PORT, send `view\\n`, read one line; all within `timeout` s."""
    deadline = time.monotonic() + timeout
    if not 0 < port < 65536:
        return PeerAnswer(unreachable=f"port {port} is not a TCP port")
    try:
        family, target = _resolve(address, port, timeout)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(_left(deadline))
            sock.connect(target)
            sock.settimeout(_left(deadline))
            sock.sendall(REQUEST)
            data = _read_line(sock, deadline)
    except (_Late, TimeoutError):
        return PeerAnswer(unreachable=f"timed out after {timeout:g} s")
    except ConnectionRefusedError:
        return PeerAnswer(unreachable="connection refused")
    except (ConnectionResetError, BrokenPipeError):
        return PeerAnswer(unreachable="connection reset by the peer")
    except socket.gaierror as exc:
        return PeerAnswer(unreachable=f"cannot resolve {address!r}: {exc.strerror}")
    except ValueError as exc:  # a NUL byte, a label too long for IDNA
        return PeerAnswer(unreachable=f"cannot resolve {address!r}: {one_line(str(exc), 80)}")
    except OSError as exc:
        return PeerAnswer(unreachable=one_line(exc.strerror or str(exc), 120))
    if not data:
        return PeerAnswer(unreachable="closed without a reply")
    try:
        return PeerAnswer(view=decode(data))
    except ViewError as exc:
        return PeerAnswer(unreachable=f"malformed reply: {exc.reason}")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Late
    return left


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    """Bytes up to the first newline or end of stream; more than MAX_VIEW_BYTES is
    returned as is (decode refuses it) without reading on."""
    data = b""
    while b"\n" not in data and len(data) <= MAX_VIEW_BYTES:
        sock.settimeout(_left(deadline))
        chunk = sock.recv(MAX_VIEW_BYTES + 1 - len(data))
        if not chunk:
            break
        data += chunk
    end = data.find(b"\n")
    return data if end < 0 else data[: end + 1]


def _resolve(address: str, port: int, timeout: float) -> _AddressInfo:
    """The socket family and address for ADDRESS; a name is resolved in a helper thread
    so that a hanging resolver cannot outlast the deadline."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        if ip.version == 6:
            return socket.AF_INET6, (address, port, 0, 0)
        return socket.AF_INET, (address, port)
    found: list[_AddressInfo | BaseException] = []

    def lookup() -> None:
        try:
            info = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
            found.append((info[0], info[4]))  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, name="peer-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        raise _Late
    if isinstance(found[0], BaseException):
        raise found[0]
    return found[0]
