"""The replicating primary worker's write path against a scripted secondary (a socketpair).

A write returns as hast.conf(5) defines `replication`: fullsync once the secondary has
written it, memsync once it has received it, async after the local write; a write the
secondary never answers leaves its extent dirty and bumps localcnt once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from carpswitch.lab.hastd.activemap import EXTENT_SIZE
from carpswitch.lab.hastd.primary import PrimaryWorker
from carpswitch.lab.hastd.remote import RemoteLink
from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.hastd.wire import recv_message, send_message
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import HastKnobState, ResourceKnobs, StateStore

MIB = 1024 * 1024


def _worker(tmp_path: Path, replication: str) -> PrimaryWorker:
    paths = NodePaths.of(tmp_path)
    paths.state.mkdir(parents=True)
    disk = tmp_path / "tank.img"
    with disk.open("wb") as handle:
        handle.truncate(8 * MIB)
    config = ResourceConfig(
        name="tank",
        provider_name="tank",
        local_path=str(disk),
        remote_address="198.18.0.2",
        replication=replication,
        timeout=20,
    )
    worker = PrimaryWorker(StateStore(paths), config, lambda message: None)
    worker.served.set()
    return worker


@pytest.fixture
def secondary_end() -> Iterator[tuple[socket.socket, socket.socket]]:
    primary, secondary = socket.socketpair()
    yield primary, secondary
    primary.close()
    secondary.close()


def _connected(
    tmp_path: Path, mode: str, ends: tuple[socket.socket, socket.socket]
) -> tuple[PrimaryWorker, socket.socket]:
    """A primary worker in `mode` whose link is `ends[0]`; returns it and the far end."""
    worker = _worker(tmp_path, mode)
    worker.link = RemoteLink(ends[0], 20.0, worker._written, worker._lost)
    return worker, ends[1]


def _write_in_thread(worker: PrimaryWorker, data: bytes, offset: int) -> threading.Thread:
    thread = threading.Thread(target=worker.write, args=(data, offset), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("mode", "returns_after"), [("fullsync", "written"), ("memsync", "received")]
)
def test_a_write_returns_when_replication_says(
    tmp_path: Path,
    secondary_end: tuple[socket.socket, socket.socket],
    mode: str,
    returns_after: str,
) -> None:
    worker, secondary = _connected(tmp_path, mode, secondary_end)
    writer = _write_in_thread(worker, b"x" * 4096, 4096)
    header, payload = recv_message(secondary)
    assert (header["cmd"], header["offset"], header["mode"], payload) == (
        "write", 4096, mode, b"x" * 4096,
    )  # fmt: skip
    assert writer.is_alive()  # nothing answered yet
    if returns_after == "written":
        send_message(secondary, {"seq": header["seq"], "stage": "received"})
        writer.join(0.3)
        assert writer.is_alive(), "fullsync returned before the secondary wrote it"
        send_message(secondary, {"seq": header["seq"], "stage": "written", "error": 0})
    else:
        send_message(secondary, {"seq": header["seq"], "stage": "received"})
    writer.join(5)
    assert not writer.is_alive()
    if returns_after == "received":
        send_message(secondary, {"seq": header["seq"], "stage": "written", "error": 0})
    assert (tmp_path / "tank.img").read_bytes()[4096:8192] == b"x" * 4096
    worker.stop()
    assert worker.amap.dirty_bytes == 0


def test_an_async_write_returns_after_the_local_write(
    tmp_path: Path, secondary_end: tuple[socket.socket, socket.socket]
) -> None:
    worker, secondary = _connected(tmp_path, "async", secondary_end)
    worker.write(b"a" * 512, 0)  # returns with no reply at all
    header, _ = recv_message(secondary)
    assert header["mode"] == "async"
    worker.stop()


def test_a_write_the_secondary_never_answers_stays_dirty(
    tmp_path: Path, secondary_end: tuple[socket.socket, socket.socket]
) -> None:
    worker, secondary = _connected(tmp_path, "memsync", secondary_end)
    writer = _write_in_thread(worker, b"d" * 4096, 3 * MIB)
    recv_message(secondary)
    secondary.close()  # the secondary goes away without an answer
    writer.join(5)
    assert not writer.is_alive()
    assert worker.link is None
    assert worker.amap.dirty_bytes == EXTENT_SIZE
    worker.write(b"e" * 4096, 0)  # disconnected: local only
    worker.write(b"f" * 4096, 0)
    knobs = worker.store.read(HastKnobState).knobs("tank")
    assert (knobs.localcnt, knobs.dirty, knobs.needsync) == (1, 2 * EXTENT_SIZE, [0, 1])
    worker.stop()


def test_an_out_of_date_primary_reads_stale_extents_from_the_secondary(
    tmp_path: Path, secondary_end: tuple[socket.socket, socket.socket]
) -> None:
    worker, secondary = _connected(tmp_path, "memsync", secondary_end)
    worker.syncsrc = "secondary"
    worker.amap.merge([0])
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(worker.read(512, 1024)), daemon=True)
    reader.start()
    header, _ = recv_message(secondary)
    assert (header["cmd"], header["offset"], header["length"]) == ("read", 1024, 512)
    send_message(secondary, {"seq": header["seq"], "stage": "written"}, b"s" * 512)
    reader.join(5)
    assert got == [b"s" * 512]
    assert worker.read(512, 3 * MIB) == bytes(512)  # extent 1 is good here: local
    worker.link = None
    with pytest.raises(OSError, match="Input/output error"):
        worker.read(512, 0)  # the only good copy is out of reach
    worker.stop()


def test_threads_sharing_a_state_store_do_not_undo_each_others_updates(tmp_path: Path) -> None:
    paths = NodePaths.of(tmp_path)
    paths.state.mkdir(parents=True)
    store = StateStore(paths)  # one instance, as a primary worker's threads share it

    def bump() -> None:
        for _ in range(100):
            with store.update(HastKnobState) as knobs:
                knobs.resources.setdefault("tank", ResourceKnobs()).localcnt += 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert store.read(HastKnobState).knobs("tank").localcnt == 400
