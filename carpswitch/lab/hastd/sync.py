"""The primary's sync thread (primary.c sync_thread): dirty extents to the secondary.

After a connect every extent the activemap holds dirty is read from the local component
and written to the secondary (fullsync: the extent is clean only when the secondary has
written it). The extent is range-locked as hastd does (primary.c range_sync and
range_regular): the sync thread waits until the writes in flight on it have ended, and
new writes to it wait until its copy is on the secondary; so the copy holds every write
acknowledged before it, none lands beside it, and an extent a client keeps writing is
waited for, never passed by (passing it by declared the nodes in sync while the degraded
time's writes were on the primary only). When the primary is the one out of date
(syncsrc secondary) the copy goes the other way. When all are copied the counters agree
again: the primary's remotecnt becomes the secondary's localcnt, and the secondary is
told the primary's localcnt.
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
        worker.event("syncstart")
    while True:
        try:
            extent = _lock_next_extent(worker)
        except OSError:
            extent = -1  # the worker is stopping
        if extent is None:
            break
        if extent < 0 or not _copy_locked_extent(worker, link, extent):
            elapsed = int(time.monotonic() - started)
            worker.log(
                f"Synchronization interrupted after {elapsed}s. "
                f"{humanize_bytes(done)} synchronized so far."
            )
            worker.event("syncintr")
            return
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
        worker.event("syncdone")
    else:
        worker.log("Nodes are in sync.")
    link.send({"cmd": "synced", "localcnt": localcnt})


def _lock_next_extent(worker: PrimaryWorker) -> int | None:
    """The next dirty extent, range-locked for the sync once no write is in flight on it
    (None: nothing left). Raises OSError when the worker stops while waiting."""
    with worker.lock:
        while True:
            extent = worker.amap.next_to_sync()
            if extent is None or not worker.amap.in_flight(extent):
                worker.syncing = extent
                return extent
            worker.wait_ranges()  # rangelock_islocked(range_regular): cv_wait


def _copy_locked_extent(worker: PrimaryWorker, link: RemoteLink, extent: int) -> bool:
    """Copy `extent` (range-locked by the caller), mark it clean, release the range."""
    try:
        offset = extent * worker.amap.extentsize
        length = min(worker.amap.extentsize, worker.size - offset)
        if worker.syncsrc == "secondary":
            copied = _from_secondary(worker, link, offset, length)
        else:
            copied = _to_secondary(worker, link, offset, length)
        if copied:
            with worker.lock:
                worker.amap.sync_complete(extent)
                worker.persist()
        return copied
    finally:
        with worker.lock:
            worker.syncing = None
            worker.ranges.notify_all()


def _to_secondary(worker: PrimaryWorker, link: RemoteLink, offset: int, length: int) -> bool:
    try:
        data = os.pread(worker.fd, length, offset)
    except OSError:
        return False  # the local component failed: the extent stays dirty
    ticket = Ticket(range(0))  # sync I/O is no regular write: the range lock covers it
    link.send({"cmd": "write", "offset": offset, "mode": "fullsync"}, data, ticket)
    while not ticket.written.wait(0.5):
        if worker.stopping.is_set():
            return False
    return ticket.ok


def _from_secondary(worker: PrimaryWorker, link: RemoteLink, offset: int, length: int) -> bool:
    """The primary is out of date: copy the extent from the secondary."""
    try:
        data = worker.read_remote(link, offset, length)
    except OSError:
        return False
    os.pwrite(worker.fd, data, offset)
    return True
