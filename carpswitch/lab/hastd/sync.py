"""The primary's sync thread (primary.c sync_thread): dirty extents to the secondary.

After a connect every extent the activemap holds dirty is read from the local component
and written to the secondary (fullsync: the extent is clean only when the secondary has
written it); a write to the same extent waits for the copy (the worker's order lock), so
the secondary never gets an older copy after a newer write. When the primary is the one
out of date (syncsrc secondary) the copy goes the other way. When all are copied the
counters agree again: the primary's remotecnt becomes the secondary's localcnt, and the
secondary is told the primary's localcnt.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from carpswitch.lab.hastd.remote import RemoteLink, Ticket
from carpswitch.lab.humanize import humanize_bytes

if TYPE_CHECKING:
    from carpswitch.lab.hastd.primary import PrimaryWorker


def synchronise(worker: PrimaryWorker, link: RemoteLink) -> None:
    """sync_thread: copy every dirty extent, then make the counters agree."""
    with worker.lock:
        todo = worker.amap.dirty_bytes
    started = time.monotonic()
    done = 0
    if todo:
        worker.log(f"Synchronization started. {humanize_bytes(todo)} to go.")
    while True:
        with worker.lock:
            extent = worker.amap.next_to_sync()
        if extent is None:
            break
        ticket = Ticket(range(extent, extent + 1))
        ticket_ok = _sync_extent(worker, link, extent, ticket)
        if not ticket_ok:
            elapsed = int(time.monotonic() - started)
            worker.log(
                f"Synchronization interrupted after {elapsed}s. "
                f"{humanize_bytes(done)} synchronized so far."
            )
            return
        with worker.lock:
            worker.amap.sync_complete(extent)
            worker.persist()
        done += worker.amap.extentsize
    with worker.lock:
        worker.remotecnt = worker.secondary_localcnt
        worker.syncsrc = "primary"  # the local copy is good again
        worker.persist()
        localcnt = worker.localcnt
    if todo:
        seconds = max(time.monotonic() - started, 1e-6)
        worker.log(
            f"Synchronization complete. {humanize_bytes(done)} synchronized in "
            f"{int(seconds)}s ({humanize_bytes(int(done / seconds))}/sec)."
        )
    else:
        worker.log("Nodes are in sync.")
    link.send({"cmd": "synced", "localcnt": localcnt})


def _sync_extent(worker: PrimaryWorker, link: RemoteLink, extent: int, ticket: Ticket) -> bool:
    offset = extent * worker.amap.extentsize
    if worker.syncsrc == "secondary":
        return _sync_extent_from_secondary(worker, link, offset)
    with worker.order:
        data = os.pread(worker.fd, min(worker.amap.extentsize, worker.size - offset), offset)
        with worker.lock:
            worker.amap.write_start(ticket.extents)  # in flight: no sync of it twice
        link.send({"cmd": "write", "offset": offset, "mode": "fullsync"}, data, ticket)
    while not ticket.written.wait(0.5):  # _written completes it in the activemap
        if worker.stopping.is_set():
            return False
    return ticket.ok


def _sync_extent_from_secondary(worker: PrimaryWorker, link: RemoteLink, offset: int) -> bool:
    """The primary is out of date: copy the extent from the secondary. Writes wait (the
    order lock), so none lands between the secondary's read and the local write."""
    length = min(worker.amap.extentsize, worker.size - offset)
    with worker.order:
        try:
            data = worker.read_remote(link, offset, length)
        except OSError:
            return False
        os.pwrite(worker.fd, data, offset)
    return True
