"""What two simulated hastds say to each other over TCP (hast_proto.c's role).

HAST sends nv(9) headers followed by raw data; here a message is a JSON header and an
optional payload, framed by two lengths: `!II` (header bytes, payload bytes). One TCP
connection per resource carries both directions (HAST opens two, paired by a token; the
simulation needs only one, and `complete` means it exists).
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

#: hast.h HASTD_LISTEN's port.
HAST_PORT = 8457
#: hast.h HAST_PROTO_VERSION.
PROTOCOL_VERSION = 2
_FRAME = struct.Struct("!II")
#: No header is bigger than this; anything else is not our peer.
_MAX_HEADER = 65536
#: Nor is any payload bigger than an extent.
_MAX_PAYLOAD = 16 * 1024 * 1024

Header = dict[str, Any]


@dataclass
class PeerSession:
    """A remote primary's connection, accepted by the daemon for a secondary worker."""

    sock: socket.socket
    hello: Header  # the primary's handshake
    address: str  # tcp://ADDR:PORT, as hastd names the client


class WireError(ConnectionError):
    """The peer hung up, timed out or sent something that is not a message."""


def send_message(sock: socket.socket, header: Header, payload: bytes = b"") -> None:
    """Send one message (raises OSError when the connection is gone)."""
    data = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_FRAME.pack(len(data), len(payload)) + data + payload)


def recv_message(sock: socket.socket) -> tuple[Header, bytes]:
    """Receive one message (raises WireError on EOF, timeout or garbage)."""
    head_size, payload_size = _FRAME.unpack(_recv_exactly(sock, _FRAME.size))
    if head_size > _MAX_HEADER or payload_size > _MAX_PAYLOAD:
        raise WireError("Invalid message size")
    try:
        header = json.loads(_recv_exactly(sock, head_size))
    except ValueError as exc:
        raise WireError("Invalid message header") from exc
    if not isinstance(header, dict):
        raise WireError("Invalid message header")
    return header, _recv_exactly(sock, payload_size) if payload_size else b""


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except TimeoutError as exc:
            raise WireError("Operation timed out") from exc
        except OSError as exc:
            raise WireError(exc.strerror or str(exc)) from exc
        if not chunk:
            raise WireError("Connection reset by peer")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def tcp_address(text: str, default_port: int = HAST_PORT) -> tuple[str, int]:
    """(host, port) of a hast.conf address: `ADDR`, `ADDR:PORT`, `tcp://…`, `tcp4://…`,
    `tcp6://[ADDR]:PORT` (proto_tcp.c tcp_addr). Raises ValueError for other protocols."""
    rest = text
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in ("tcp", "tcp4", "tcp6"):
            raise ValueError(f"not a TCP address: {text}")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, _, port = rest.partition(":")
    else:
        host, port = rest, ""
    return host, int(port) if port else default_port
