"""The secondary worker of a replicating node (secondary.c hastd_secondary).

It exists only while a primary is connected: the daemon forks it with the accepted
connection and the primary's handshake. It compares the metadata counters as
secondary.c init_remote does (split-brain: refuse and exit 78), sends its own activemap
for the primary to merge (extents it may have written as primary that the peer lacks:
they are synchronised too), then writes what the
primary sends into the local component (a memsync write is acknowledged on receipt and
again when written, any other write when written) and answers its reads (when the
primary is out of date it synchronises from here). It exits 75 (EX_TEMPFAIL) when the
primary goes away: at once on a closed connection, after 2 x HAST_KEEPALIVE without a
request when the primary vanished without closing it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from carpswitch.lab.hastd import hooks
from carpswitch.lab.hastd.activemap import EXTENT_SIZE
from carpswitch.lab.hastd.primary import KEEPALIVE
from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.hastd.wire import (
    PROTOCOL_VERSION,
    Header,
    WireError,
    recv_message,
    send_message,
)
from carpswitch.lab.state import HastKnobState, ResourceKnobs, StateStore

EX_TEMPFAIL = 75
EX_CONFIG = 78
#: secondary.c: the primary sends keepalives every HAST_KEEPALIVE; twice that is silence.
READ_TIMEOUT = 2 * KEEPALIVE


def handshake(mine: ResourceKnobs, hello: Header) -> tuple[Header, str | None, bool]:
    """secondary.c init_remote's decision: (reply, error to log or None, full sync).

    A node whose counters are both 0 has never held data of its own: it takes the
    primary's resuid (HAST: a resource fresh from `hastctl create` has resuid 0; the lab
    gives every node a random one, so "never written" stands for "virgin").
    """
    p_local = int(hello.get("localcnt", 0))
    p_remote = int(hello.get("remotecnt", 0))
    p_resuid = int(hello.get("resuid", 0))
    s_local, s_remote = mine.localcnt, mine.remotecnt
    full = False
    virgin = s_local == 0 and s_remote == 0
    if not virgin and p_resuid != mine.resuid:
        text = f"Resource unique ID mismatch (primary={p_resuid}, secondary={mine.resuid})."
        return {"errmsg": text}, text, False
    syncsrc = "primary"
    if (s_local > p_remote and s_remote == p_local) and not virgin:
        syncsrc = "secondary"  # the primary is out of date
    elif (s_local == p_remote and s_remote <= p_local) or virgin:
        pass  # in sync, or the secondary is out of date: sync from the primary
    elif s_local > p_remote and p_local > s_remote:
        return {"errmsg": hooks.SPLIT_BRAIN}, "Split-brain detected, exiting.", False
    else:
        full = True
    reply: Header = {
        "version": PROTOCOL_VERSION,
        "localcnt": s_local,
        "remotecnt": s_remote,
        "extentsize": EXTENT_SIZE,
        "syncsrc": syncsrc,
        "full": full,
        # Extents this node may have written without the peer (its activemap from when it
        # was primary): the primary merges them and synchronises them too.
        "map": sorted(set(mine.diskmap) | set(mine.needsync)),
    }
    return reply, None, full


def serve(
    store: StateStore,
    config: ResourceConfig,
    sock: socket.socket,
    hello: Header,
    log: Callable[[str], None],
) -> int:
    """Run the secondary worker on an accepted connection; return its exit status."""

    def say(message: str) -> None:
        log(f"[{config.name}] (secondary) {message}")

    mine = store.read(HastKnobState).knobs(config.name)
    reply, error, full = handshake(mine, hello)
    if full:
        say(
            "This should never happen, asking for full synchronization "
            f"(primary(local={hello.get('localcnt')}, remote={hello.get('remotecnt')}), "
            f"secondary(local={mine.localcnt}, remote={mine.remotecnt}))."
        )
    try:
        sock.settimeout(READ_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # acks go out at once
        send_message(sock, reply)
    except OSError:
        say(f"Unable to send response to {config.remote_address}.")
        return EX_TEMPFAIL
    if error is not None:
        say(error)
        if reply.get("errmsg") == hooks.SPLIT_BRAIN:
            hooks.fire(config.exec_path, say, "split-brain", config.name)
        return EX_CONFIG
    hooks.fire(config.exec_path, say, "connect", config.name)
    with store.update(HastKnobState) as knobs:
        mine = knobs.resources.setdefault(config.name, ResourceKnobs())
        mine.resuid = int(hello["resuid"])
        mine.diskmap, mine.needsync = [], []  # handed over: the primary's map holds them now
    fd = os.open(config.local_path, os.O_RDWR)
    try:
        status = _requests(store, config, sock, fd, say)
    finally:
        os.close(fd)
    hooks.fire(config.exec_path, say, "disconnect", config.name)  # exit after I/O failure
    return status


def _requests(
    store: StateStore,
    config: ResourceConfig,
    sock: socket.socket,
    fd: int,
    say: Callable[[str], None],
) -> int:
    while True:
        try:
            header, payload = recv_message(sock)
        except WireError as exc:
            say(f"Unable to receive request header: {exc}.")
            return EX_TEMPFAIL
        command = header.get("cmd")
        try:
            if command == "write":
                _write(sock, fd, header, payload)
            elif command == "read":
                data = os.pread(fd, int(header.get("length", 0)), int(header.get("offset", 0)))
                send_message(sock, {"seq": header.get("seq"), "stage": "written"}, data)
            elif command == "synced":
                with store.update(HastKnobState) as knobs:
                    mine = knobs.resources.setdefault(config.name, ResourceKnobs())
                    mine.remotecnt = int(header.get("localcnt", 0))
        except OSError as exc:
            say(f"Unable to send reply to {config.remote_address}: {exc.strerror or exc}.")
            return EX_TEMPFAIL


def _write(sock: socket.socket, fd: int, header: Header, payload: bytes) -> None:
    seq = header.get("seq")
    if header.get("mode") == "memsync":
        send_message(sock, {"seq": seq, "stage": "received"})
    error = 0
    try:
        os.pwrite(fd, payload, int(header.get("offset", 0)))
    except OSError as exc:
        error = exc.errno or 5
    send_message(sock, {"seq": seq, "stage": "written", "error": error})
