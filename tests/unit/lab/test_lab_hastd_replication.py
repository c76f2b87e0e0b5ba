"""Pure parts of the replicating hastd: activemap, the secondary's handshake, addresses."""

from __future__ import annotations

import socket

import pytest

from carpswitch.lab.hastd.activemap import EXTENT_SIZE, ActiveMap
from carpswitch.lab.hastd.secondary import handshake
from carpswitch.lab.hastd.wire import WireError, recv_message, send_message, tcp_address
from carpswitch.lab.state import ResourceKnobs

MIB = 1024 * 1024


def test_a_write_spans_the_extents_it_touches() -> None:
    amap = ActiveMap(64 * MIB)
    assert amap.nextents == 32
    assert list(amap.extents(0, 512)) == [0]
    assert list(amap.extents(1 * MIB, 3 * MIB)) == [0, 1]
    assert list(amap.extents(2 * MIB, 2 * MIB)) == [1]
    assert list(amap.extents(63 * MIB, 8 * MIB)) == [31]  # never past the last extent


def test_a_replicated_write_leaves_nothing_dirty_but_stays_on_disk() -> None:
    amap = ActiveMap(64 * MIB)
    assert amap.write_start(range(3, 4)) is True  # an activemap update
    assert amap.write_start(range(3, 4)) is False  # already on disk
    assert amap.write_complete(range(3, 4), replicated=True) is False
    assert amap.write_complete(range(3, 4), replicated=True) is False
    assert amap.dirty_bytes == 0
    assert amap.diskmap == [3]


def test_a_write_the_peer_missed_stays_dirty_until_synchronised() -> None:
    amap = ActiveMap(64 * MIB)
    amap.write_start(range(0, 2))
    assert amap.write_complete(range(0, 2), replicated=False) is True
    assert amap.dirty_bytes == 2 * EXTENT_SIZE
    assert amap.next_to_sync() == 0
    amap.sync_complete(0)
    assert amap.next_to_sync() == 1
    amap.sync_complete(1)
    assert (amap.dirty_bytes, amap.next_to_sync(), amap.diskmap) == (0, None, [])


def test_an_extent_with_a_write_in_flight_is_still_the_next_to_synchronise() -> None:
    amap = ActiveMap(64 * MIB, needsync=[5])
    amap.write_start(range(5, 6))
    assert amap.next_to_sync() == 5  # not passed by: the sync thread waits for the write
    assert amap.in_flight(5)
    amap.write_complete(range(5, 6), replicated=True)
    assert not amap.in_flight(5)
    assert amap.next_to_sync() == 5  # the earlier miss still needs the whole extent


def test_a_new_primary_synchronises_every_extent_dirty_on_disk() -> None:
    amap = ActiveMap(64 * MIB, diskmap=[7, 2, 7, 99])
    assert amap.diskmap == [7, 2]
    assert amap.dirty_bytes == 2 * EXTENT_SIZE


def test_keepdirty_bounds_the_on_disk_map_least_recently_used_first() -> None:
    amap = ActiveMap(64 * MIB, keepdirty=2)
    for extent in (1, 2, 3):
        amap.write_start(range(extent, extent + 1))
        amap.write_complete(range(extent, extent + 1), replicated=True)
    assert amap.diskmap == [2, 3]


def _hello(local: int, remote: int, resuid: int = 7) -> dict[str, object]:
    return {"resource": "tank", "resuid": resuid, "localcnt": local, "remotecnt": remote}


@pytest.mark.parametrize(
    ("secondary", "primary", "error", "full"),
    [
        ((0, 0), (0, 0), None, False),  # virgin secondary: takes the primary's data
        ((1, 2), (2, 1), None, False),  # in sync
        ((1, 2), (3, 1), None, False),  # the secondary is out of date
        ((2, 1), (2, 1), "Split-brain detected, exiting.", False),
        ((1, 3), (2, 1), None, True),  # impossible: full synchronisation
    ],
)
def test_the_secondary_compares_the_counters_as_secondary_c_does(
    secondary: tuple[int, int],
    primary: tuple[int, int],
    error: str | None,
    full: bool,
) -> None:
    mine = ResourceKnobs(resuid=7, localcnt=secondary[0], remotecnt=secondary[1])
    reply, logged, full_sync = handshake(mine, _hello(*primary))
    assert logged == error
    assert full_sync is full
    if error is None:
        assert (reply["localcnt"], reply["remotecnt"]) == secondary
    elif logged is not None and logged.startswith("Split-brain"):
        assert reply == {"errmsg": "Split-brain condition!"}
    else:
        assert reply == {"errmsg": logged}


def test_an_out_of_date_primary_synchronises_from_the_secondary() -> None:
    mine = ResourceKnobs(resuid=7, localcnt=2, remotecnt=1, diskmap=[6])
    reply, logged, full = handshake(mine, _hello(1, 1))
    assert (logged, full, reply["syncsrc"], reply["map"]) == (None, False, "secondary", [6])


def test_a_used_secondary_refuses_another_resources_primary() -> None:
    mine = ResourceKnobs(resuid=7, localcnt=1, remotecnt=1)
    reply, logged, _ = handshake(mine, _hello(1, 1, resuid=8))
    assert logged == "Resource unique ID mismatch (primary=8, secondary=7)."
    assert reply == {"errmsg": logged}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.18.0.2", ("198.18.0.2", 8457)),
        ("198.18.0.1:8457", ("198.18.0.1", 8457)),
        ("tcp://10.0.0.2:9000", ("10.0.0.2", 9000)),
        ("tcp4://0.0.0.0:8457", ("0.0.0.0", 8457)),
        ("tcp6://[::]:8457", ("::", 8457)),
        ("tcp6://[fe80::1]", ("fe80::1", 8457)),
    ],
)
def test_hast_conf_tcp_addresses(text: str, expected: tuple[str, int]) -> None:
    assert tcp_address(text) == expected


def test_other_protocols_are_not_tcp_addresses() -> None:
    with pytest.raises(ValueError, match="not a TCP address"):
        tcp_address("uds:///var/run/hastctl")


def test_a_message_crosses_with_its_payload_and_a_hangup_is_a_wire_error() -> None:
    left, right = socket.socketpair()
    with left, right:
        send_message(left, {"cmd": "write", "offset": 512}, b"x" * 1000)
        assert recv_message(right) == ({"cmd": "write", "offset": 512}, b"x" * 1000)
        left.sendall(b"\x00\x00")
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(WireError, match="Connection reset by peer"):
            recv_message(right)


def test_the_secondary_hands_its_own_activemap_to_the_primary() -> None:
    mine = ResourceKnobs(resuid=7, localcnt=1, remotecnt=1, diskmap=[4, 2], needsync=[9])
    reply, logged, _ = handshake(mine, _hello(1, 1))
    assert logged is None
    assert reply["map"] == [2, 4, 9]


def test_a_merged_map_is_synchronised_and_kept_on_disk() -> None:
    amap = ActiveMap(64 * MIB, diskmap=[1])
    amap.sync_complete(1)
    amap.merge([3, 5, 99])
    assert (amap.next_to_sync(), amap.dirty_bytes, amap.diskmap) == (3, 2 * EXTENT_SIZE, [3, 5])
