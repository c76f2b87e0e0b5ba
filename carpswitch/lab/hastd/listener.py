"""Where a replicating hastd meets its peer: the `listen` sockets (hastd.c listen_accept).

The connection is always the primary's. The daemon reads its handshake and either hands
it to a new secondary worker (the resource is secondary here) or refuses it with hastd's
error message: an unknown resource, a client that is not the resource's `remote`, or a
role other than secondary (a primary also asks the other side to wait: it may be
finishing its own cleanup, or both nodes are primary — neither will overwrite the other).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
from collections.abc import Callable, Iterable

from carpswitch.lab.hastd.resources import ResourceTable, Role
from carpswitch.lab.hastd.wire import (
    PeerSession,
    WireError,
    recv_message,
    send_message,
    tcp_address,
)

#: How long the daemon waits for a new connection's handshake.
HANDSHAKE_TIMEOUT = 5.0
_CLONE_NEWNET = 0x40000000


def enter_netns(name: str) -> None:
    """setns(2) into the network namespace /run/netns/NAME (`ip netns add` made it).

    Only the network namespace: the mount view stays the caller's, so the node directory
    and the FUSE providers are the same for everyone (`ip netns exec` would give a private
    mount namespace).
    """
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns {name}: {os.strerror(error)}")
    finally:
        os.close(fd)


def open_listeners(addresses: Iterable[str]) -> list[socket.socket]:
    """Bind and listen on every `listen` address (raises OSError)."""
    listeners: list[socket.socket] = []
    try:
        for address in addresses:
            host, port = tcp_address(address)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # FreeBSD's net.inet6.ip6.v6only=1: hastd's
                # default tcp4://0.0.0.0 and tcp6://[::] listeners coexist (Linux: dual stack)
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind((host, port))
            listener.listen(16)
    except (OSError, ValueError):
        for listener in listeners:
            listener.close()
        raise
    return listeners


def accept(listener: socket.socket, table: ResourceTable, log: Callable[[str], None]) -> None:
    """Take one connection from `listener`: to a secondary worker, or refused."""
    try:
        conn, peer = listener.accept()
    except OSError:
        return
    raddr = f"tcp://{peer[0]}:{peer[1]}"
    conn.settimeout(HANDSHAKE_TIMEOUT)
    try:
        hello, _ = recv_message(conn)
    except WireError as exc:
        log(f"Unable to receive handshake header from {raddr}: {exc}.")
        conn.close()
        return
    refusal = _refusal(hello, peer[0], raddr, table, log)
    if refusal is None:
        table.accept_primary(str(hello["resource"]), PeerSession(conn, hello, raddr))
        return
    with contextlib.suppress(OSError):
        send_message(conn, refusal)
    conn.close()


def _refusal(
    hello: dict[str, object],
    client: str,
    raddr: str,
    table: ResourceTable,
    log: Callable[[str], None],
) -> dict[str, object] | None:
    name = str(hello.get("resource"))
    resource = table.get(name)
    if resource is None:
        log(f"No resource '{name}' as requested by {raddr}.")
        return {"errmsg": "Resource not configured."}
    prefix = f"[{name}] ({resource.role}) "
    if not resource.config.has_remote or tcp_address(resource.config.remote_address)[0] != client:
        log(f"{prefix}Client {raddr} has no access to the resource.")
        return {"errmsg": "No access to the resource."}
    if resource.role is not Role.SECONDARY:
        log(
            f"{prefix}We act as {resource.role} for the resource and not as secondary "
            f"as requested by {raddr}."
        )
        refusal: dict[str, object] = {
            "errmsg": f"Remote node acts as {resource.role} for the resource and not as secondary."
        }
        if resource.role is Role.PRIMARY:
            refusal["wait"] = 1
        return refusal
    return None
