"""Bytes on the two sockets the daemon reads: its own, and devd's seqpacket socket.

The daemon's socket is a unix datagram socket at run_dir/intake.sock: one datagram is one
encoded IntakeEvent, sent by the hook without waiting. devd's socket
(/var/run/devd.seqpacket.pipe, SOCK_SEQPACKET) delivers one record per event: the raw text
devd read from /dev/devctl, trailing newline included (sbin/devd/devd.cc notify_clients).
"""

from __future__ import annotations

import _socket
import os

from carpswitch.intake.inbox import IntakeEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from enum import Enum
else:
    Enum = object  # `enum` costs the hook ~3 ms: at run time the members are their words

INTAKE_SOCKET_NAME = "intake.sock"
#: A datagram or devd record is never near this; longer ones are truncated and rejected.
MAX_RECORD = 8192


class Delivery(Enum):
    """What became of a wake-up sent to the daemon."""

    DELIVERED = "delivered"  # queued on the daemon's socket (or its queue is full: it is busy)
    NO_DAEMON = "no daemon"  # no socket, or nobody reads it (a daemon that died)


def intake_socket_path(run_dir: str) -> str:
    """Where the daemon listens for the hook."""
    return os.path.join(run_dir, INTAKE_SOCKET_NAME)


def send_to_daemon(run_dir: str, event: IntakeEvent) -> Delivery:
    """Hand `event` to the daemon without blocking.

    Uses the C module `_socket` directly: `socket` costs the hook ~2 ms of enum set-up.
    """
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.sendto(event.encode(), intake_socket_path(run_dir))
    except BlockingIOError:
        return Delivery.DELIVERED  # a full queue: the daemon is alive and will drain it
    except OSError:
        # ENOENT, ECONNREFUSED (a dead daemon's socket), ENOTSOCK, a path too long to
        # bind: no daemon can be listening there; the caller starts a worker instead.
        return Delivery.NO_DAEMON
    finally:
        sock.close()
    return Delivery.DELIVERED


def split_devd_record(data: bytes) -> list[str]:
    """The event lines in one record read from devd's socket, without their newlines.

    A seqpacket record holds one event; a record holding several (the stream socket, or an
    older devd) is split on newlines. Bytes that are not UTF-8 are replaced, not fatal.
    """
    text = data.decode("utf-8", errors="replace")
    return [line for line in text.split("\n") if line.strip()]
