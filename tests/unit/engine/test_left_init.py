"""boot.peer_bound and boot.LeftInit: the peer's chance after a resource leaves init."""

from __future__ import annotations

import time

from carpswitch.config import ResourceKind
from carpswitch.engine.boot import LeftInit, peer_bound
from carpswitch.topology import Resource


def resource(hast_timeout: int) -> Resource:
    return Resource(
        name="tank",
        kind=ResourceKind.RAW,
        provider_name="tank",
        device="/dev/hast/tank",
        local_path="/dev/ada1",
        remote_address="10.0.0.2",
        hast_timeout=hast_timeout,
    )


def test_peer_bound_is_keepalive_plus_hast_timeout_capped_by_release():
    assert peer_bound(resource(20), release=300) == 30.0
    assert peer_bound(resource(5), release=300) == 15.0
    assert peer_bound(resource(20), release=2.5) == 2.5


def test_left_init_counts_from_the_note(tmp_path):
    notes = LeftInit(str(tmp_path))
    assert notes.seconds_ago("tank") is None  # never left init since boot
    notes.note("tank")
    ago = notes.seconds_ago("tank")
    assert ago is not None and 0.0 <= ago < 5.0
    (tmp_path / "left-init" / "tank").write_text(f"{time.monotonic() - 12.5:.3f}\n")
    ago = notes.seconds_ago("tank")
    assert ago is not None and 12.0 <= ago < 17.0


def test_an_unreadable_note_counts_as_just_now(tmp_path):
    notes = LeftInit(str(tmp_path))
    notes.note("tank")
    (tmp_path / "left-init" / "tank").write_text("garbage\n")
    assert notes.seconds_ago("tank") == 0.0
    (tmp_path / "left-init" / "tank").unlink()
    (tmp_path / "left-init" / "tank").mkdir()  # cannot be read as a file
    assert notes.seconds_ago("tank") == 0.0
