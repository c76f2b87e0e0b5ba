"""The primary worker of a replicating node (primary.c hastd_primary).

It serves /dev/hast/NAME (carpswitch.lab.hastd.provider), connects to the secondary's hastd
(init_remote), replicates every write as hast.conf's `replication` says, keeps the
activemap, synchronises dirty extents after a (re)connect and reconnects from its guard
thread. Metadata (resuid, localcnt, remotecnt) and the on-disk activemap live in the node's
HastKnobState, which `hastctl dump` and `status` read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from carpswitch.lab.hastd import hooks, provider
from carpswitch.lab.hastd.activemap import ActiveMap
from carpswitch.lab.hastd.ggate import serve_io_now
from carpswitch.lab.hastd.remote import RemoteLink, Ticket
from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.hastd.sync import synchronise
from carpswitch.lab.hastd.wire import (
    PROTOCOL_VERSION,
    Header,
    WireError,
    recv_message,
    send_message,
    tcp_address,
)
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import HastKnobState, ResourceKnobs, StateStore

#: hast.h HAST_KEEPALIVE: the guard thread's interval (keepalives, reconnects).
KEEPALIVE = 10.0
#: primary.c hastd_primary: retry interval while the peer still acts as primary.
BUSY_RETRY = 1.0


class PrimaryWorker:
    """State and threads of one primary worker (everything but the provider's mount)."""

    def __init__(
        self, store: StateStore, config: ResourceConfig, log: Callable[[str], None]
    ) -> None:
        self.store = store
        self.config = config
        self._log = log
        self.fd = os.open(config.local_path, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        meta = store.read(HastKnobState).knobs(config.name)
        self.resuid, self.localcnt, self.remotecnt = meta.resuid, meta.localcnt, meta.remotecnt
        self.amap = ActiveMap(self.size, diskmap=meta.diskmap, needsync=meta.needsync)
        self.lock = threading.RLock()  # activemap, counters, link
        #: primary.c range_lock's condition: a write ended (the sync thread waits for the
        #: writes in flight on its extent) or a sync did (writes to it wait for that).
        self.ranges = threading.Condition(self.lock)
        #: The extent the sync thread holds (rangelock range_sync), None between extents.
        self.syncing: int | None = None
        self.order = threading.Lock()  # local write + send: writes reach both in one order
        self.served = threading.Event()
        self.stopping = threading.Event()
        self._guard_wake = threading.Event()
        self._sync_wake = threading.Event()
        self.link: RemoteLink | None = None
        self._bumped = False  # localcnt bumped for this disconnection
        self.secondary_localcnt = 0
        #: "secondary" while the local copy is out of date (syncsrc in init_remote's reply):
        #: dirty extents are read from the secondary and copied here.
        self.syncsrc = "primary"
        self._host, self._port = (
            tcp_address(config.remote_address) if config.has_remote else ("", 0)
        )

    def log(self, message: str) -> None:
        """Log with hastd's worker prefix."""
        self._log(f"[{self.config.name}] (primary) {message}")

    def event(self, name: str) -> None:
        """hast.conf `exec` for `name` (event_send; the lab's worker runs it itself)."""
        hooks.fire(self.config.exec_path, self.log, name, self.config.name)

    # --- I/O from the provider ---------------------------------------------------------

    def read(self, size: int, offset: int) -> bytes:
        """BIO_READ: from the local component once I/O is served, or from the secondary
        while the local copy of the extent is out of date."""
        self._wait(self.served)
        extents = self.amap.extents(offset, size)
        with self.lock:
            stale = self.syncsrc == "secondary" and any(e in self.amap.needsync for e in extents)
            link = self.link
        if not stale:
            return os.pread(self.fd, size, offset)
        if link is None or not link.alive:
            raise OSError(5, "Input/output error")  # the only good copy is out of reach
        return self.read_remote(link, offset, size)

    def read_remote(self, link: RemoteLink, offset: int, size: int) -> bytes:
        """A read from the secondary's component (raises EIO when it fails)."""
        ticket = Ticket(range(0))
        link.send({"cmd": "read", "offset": offset, "length": size}, b"", ticket)
        self._wait(ticket.written)
        if not ticket.ok:
            raise OSError(5, "Input/output error")
        return ticket.data

    def write(self, data: bytes, offset: int) -> int:
        """BIO_WRITE: local and remote, acknowledged as `replication` says."""
        self._wait(self.served)
        extents = self.amap.extents(offset, len(data))
        with self.lock:
            while self.syncing in extents:  # ggate_recv_thread: wait for range_sync
                self.wait_ranges()
            flush = self.amap.write_start(extents)
            link = self.link if self.link is not None and self.link.alive else None
            if link is None and not self._bumped:
                self.localcnt += 1  # the data now differs from what the peer has
                self._bumped = True
                flush = True
            if flush:
                self.persist()
        ticket = Ticket(extents)
        with self.order:
            try:
                os.pwrite(self.fd, data, offset)
            except OSError:
                self._written(ticket)  # not on both: the extent stays dirty
                raise
            if link is None:
                self._written(ticket)
            else:
                link.send({"cmd": "write", "offset": offset, "mode": self.mode}, data, ticket)
        if link is not None and self.mode == "fullsync":
            self._wait(ticket.written)
        elif link is not None and self.mode == "memsync":
            self._wait(ticket.received)
        return len(data)

    def flush(self) -> None:
        """BIO_FLUSH of the local component."""
        os.fsync(self.fd)

    @property
    def mode(self) -> str:
        """The replication mode requests are sent with."""
        return self.config.replication

    def _written(self, ticket: Ticket) -> None:
        with self.lock:
            if self.amap.write_complete(ticket.extents, ticket.ok):
                self.persist()
                if self.link is not None and self.link.alive:
                    self._sync_wake.set()  # it went out before the connect: sync it now
            self.ranges.notify_all()

    def wait_ranges(self) -> None:
        """Wait (with self.lock held) until a write or a sync of an extent ends."""
        self.ranges.wait(0.5)
        if self.stopping.is_set():
            raise OSError(5, "Input/output error")  # EIO: the provider is going away

    def _wait(self, event: threading.Event) -> None:
        while not event.wait(0.5):
            if self.stopping.is_set():
                raise OSError(5, "Input/output error")  # EIO: the provider is going away

    # --- metadata ----------------------------------------------------------------------

    def persist(self) -> None:
        """metadata_write + activemap flush (call with self.lock held)."""
        with self.store.update(HastKnobState) as knobs:
            mine = knobs.resources.setdefault(self.config.name, ResourceKnobs())
            mine.resuid = self.resuid
            mine.localcnt = self.localcnt
            mine.remotecnt = self.remotecnt
            mine.diskmap = list(self.amap.diskmap)
            mine.needsync = sorted(self.amap.needsync)
            mine.dirty = self.amap.dirty_bytes

    def _set_connected(self, connected: bool) -> None:
        with self.store.update(HastKnobState) as knobs:
            mine = knobs.resources.setdefault(self.config.name, ResourceKnobs())
            if connected:
                mine.connected_worker = os.getpid()
            elif mine.connected_worker == os.getpid():
                mine.connected_worker = None

    # --- the remote --------------------------------------------------------------------

    def init_remote(self) -> None:
        """First connection (hastd_primary): wait while the peer is still primary."""
        if not self.config.has_remote:
            return
        result = self.connect()
        if result != "busy":
            return
        self.log(f"Waiting for remote node to become secondary for {self.config.timeout}s.")
        deadline = time.monotonic() + self.config.timeout
        while result == "busy" and time.monotonic() <= deadline:
            time.sleep(BUSY_RETRY)
            result = self.connect()
        if result == "busy":
            self.log("Remote node is still primary, starting anyway.")

    def connect(self) -> str:
        """One handshake: "ok", "busy" (peer is primary), or "failed"."""
        remote = self.config.remote_address
        try:
            sock = socket.create_connection((self._host, self._port), self.config.timeout)
        except OSError as exc:
            self.log(f"Unable to connect to {remote}: {exc.strerror or exc}.")
            return "failed"
        try:
            sock.settimeout(self.config.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small acks
            with self.lock:
                hello: Header = {
                    "resource": self.config.name,
                    "version": PROTOCOL_VERSION,
                    "resuid": self.resuid,
                    "localcnt": self.localcnt,
                    "remotecnt": self.remotecnt,
                    "datasize": self.size,
                    "extentsize": self.amap.extentsize,
                }
            send_message(sock, hello)
            reply, _ = recv_message(sock)
        except (OSError, WireError) as exc:
            self.log(f"Unable to receive handshake header from {remote}: {exc}.")
            sock.close()
            return "failed"
        errmsg = reply.get("errmsg")
        if isinstance(errmsg, str):
            self.log(errmsg)
            if errmsg == hooks.SPLIT_BRAIN:
                self.event("split-brain")
            sock.close()
            return "busy" if reply.get("wait") else "failed"
        self.secondary_localcnt = int(reply.get("localcnt", 0))
        link = RemoteLink(sock, self.config.timeout, self._written, self._lost)
        remote_map = reply.get("map", [])
        with self.lock:
            self.syncsrc = "secondary" if reply.get("syncsrc") == "secondary" else "primary"
            if reply.get("full"):
                self.amap.mark_all()
            elif isinstance(remote_map, list) and remote_map:
                self.amap.merge(int(e) for e in remote_map)  # activemap_merge
            self.persist()
            self.link = link
            self._bumped = False
        self.log(f"Connected to {remote}.")
        self.event("connect")
        self._set_connected(True)
        if not link.alive:  # it broke before it was ours: its loss went unnoticed
            self._lost(link)
            return "failed"
        self._sync_wake.set()
        return "ok"

    def _lost(self, link: RemoteLink) -> None:
        with self.lock:
            if self.link is not link:
                return
            self.link = None
        if not self.stopping.is_set():
            self.log(f"Disconnected from {self.config.remote_address}.")
            self.event("disconnect")
            self._guard_wake.set()  # remote_close: reconnect at once
        self._set_connected(False)

    def start_threads(self) -> None:
        """The guard and sync threads (after init_remote)."""
        for target, name in ((self._guard, "guard"), (self._sync, "sync")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _guard(self) -> None:
        while not self.stopping.is_set():
            self._guard_wake.wait(KEEPALIVE)
            self._guard_wake.clear()
            if self.stopping.is_set() or not self.config.has_remote:
                return
            link = self.link
            if link is not None and link.alive:
                link.send({"cmd": "keepalive"})
            elif self.connect() == "ok":
                self.log(f"Successfully reconnected to {self.config.remote_address}.")

    def _sync(self) -> None:
        while not self.stopping.is_set():
            if not self._sync_wake.wait(1.0):
                continue
            self._sync_wake.clear()
            link = self.link
            if link is not None and link.alive:
                synchronise(self, link)

    def stop(self) -> None:
        """The worker is exiting: no more requests, drop the connection."""
        self.stopping.set()
        self._guard_wake.set()
        link = self.link
        if link is not None:
            link.close()
        self._set_connected(False)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def run_primary(
    paths: NodePaths,
    config: ResourceConfig,
    log: Callable[[str], None],
    start_io_wait: Callable[[], None],
) -> None:
    """hastd_primary of a replicating node: runs until SIGTERM unwinds it (or it fails)."""
    store = StateStore(paths)
    worker = PrimaryWorker(store, config, log)
    try:
        provider.serve(paths.provider(config.provider_name), worker)
        worker.log(f"Device hast/{config.provider_name} created.")
        start_io_wait()
        worker.init_remote()
        worker.served.set()
        serve_io_now(store, config.name)
        worker.start_threads()
        while True:
            signal.pause()
    finally:
        worker.stop()
