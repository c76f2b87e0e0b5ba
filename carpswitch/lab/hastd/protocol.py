"""What the hastctl shim and the simulated hastd exchange: one JSON line each way.

This replaces hastd's nv(9)-over-UNIX-socket protocol; the fields mirror the nv names
hastctl reads (role, provname, localpath, remoteaddr, ..., error<N>).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from carpswitch.lab.records import dumps, loads
from carpswitch.lab.sockets import connect_unix

#: hastctl's connect timeout to hastd (HAST_TIMEOUT in hast.h).
HAST_TIMEOUT = 20.0

# Per-resource errors (hast.h).
EHAST_OK = 0
EHAST_NOENTRY = 1
EHAST_INVALID = 2

Command = Literal["status", "setrole", "lab-peer", "lab-ping"]


@dataclass(kw_only=True)
class Request:
    """A control request: hastctl's STATUS / SETROLE, or a lab-only command."""

    cmd: Command
    resources: list[str] = field(default_factory=list)  # ["all"] or names
    role: str | None = None  # setrole
    connected: bool = True  # lab-peer
    seconds: float | None = None  # lab-peer: connection ends by itself after this


@dataclass(kw_only=True)
class Statistics:
    """I/O counters of a worker (all zero in the simulation unless set)."""

    reads: int = 0
    writes: int = 0
    deletes: int = 0
    flushes: int = 0
    activemap_updates: int = 0
    local_read_errors: int = 0
    local_write_errors: int = 0
    local_delete_errors: int = 0
    local_flush_errors: int = 0
    queue_local: int = 0
    queue_send: int = 0
    queue_recv: int = 0
    queue_done: int = 0
    queue_idle: int = 0


@dataclass(kw_only=True)
class ResourceReply:
    """hastd's answer about one resource (`error` != 0: only `name` is meaningful)."""

    name: str
    error: int = EHAST_OK
    role: str = "init"
    previous_role: str | None = None  # setrole: the role before the change
    provname: str = ""
    localpath: str = ""
    remoteaddr: str = ""
    sourceaddr: str | None = None
    replication: str = "unknown"
    status: str | None = None  # only when a worker answered
    workerpid: int = 0
    extentsize: int = 0
    keepdirty: int = 0
    dirty: int = 0
    statistics: Statistics = field(default_factory=Statistics)


@dataclass(kw_only=True)
class Reply:
    """hastd's answer: a top-level error (nonzero: nothing else counts) and resources."""

    error: int = 0
    resources: list[ResourceReply] = field(default_factory=list)


class ControlConnectError(Exception):
    """The control socket could not be reached (hastctl exits 71)."""

    def __init__(self, strerror: str) -> None:
        self.strerror = strerror
        super().__init__(strerror)


class ControlExchangeError(Exception):
    """Connected, but the request or reply did not get through (hastctl exits 69).

    `stage` is "send" or "receive"; `strerror` is what proto_common_send/_recv return:
    ENOTCONN ("Socket is not connected") when hastd hangs up, ETIMEDOUT on a timeout.
    """

    def __init__(self, stage: str, strerror: str) -> None:
        self.stage = stage
        self.strerror = strerror
        super().__init__(f"cannot {stage} ({strerror})")


def send_request(socket_path: Path, request: Request, timeout: float = HAST_TIMEOUT) -> Reply:
    """Ask the daemon at `socket_path` and return its reply.

    Raises ControlConnectError when the socket cannot be connected to (no daemon, stale
    socket) and ControlExchangeError when the exchange breaks off.
    """
    try:
        sock = connect_unix(socket_path, timeout)
    except OSError as exc:
        raise ControlConnectError(exc.strerror or str(exc)) from exc
    with sock:
        try:
            sock.sendall(dumps(request).encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # the request is complete
        except OSError as exc:
            raise ControlExchangeError("send", _strerror(exc)) from exc
        data = _receive_all(sock)
    line = data.split(b"\n", 1)[0]
    if not line:
        raise ControlExchangeError("receive", "Socket is not connected")  # ENOTCONN
    try:
        return loads(Reply, line)
    except ValueError as exc:  # RecordError
        raise ControlExchangeError("receive", "Invalid argument") from exc  # nv_ntoh


def _receive_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError as exc:
        raise ControlExchangeError("receive", "Operation timed out") from exc  # ETIMEDOUT
    except OSError as exc:
        raise ControlExchangeError("receive", _strerror(exc)) from exc
    return data


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)
