"""The chroot rule: paths hast.conf names are taken inside the node directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.hastsetup import HastSetup
from carpswitch.lab.node_identity import chrooted
from carpswitch.lab.paths import inside_node

ROOT = Path("/tmp/lab/hasta")


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        ("/dev/zvol/tank/v", "/tmp/lab/hasta/dev/zvol/tank/v"),
        ("/var/run/hastctl", "/tmp/lab/hasta/var/run/hastctl"),
        ("/tmp/lab/hasta/disks/tank.img", "/tmp/lab/hasta/disks/tank.img"),  # lab-made
        ("/tmp/lab/hasta", "/tmp/lab/hasta"),
        ("/tmp/lab/hastab/x", "/tmp/lab/hasta/tmp/lab/hastab/x"),  # a sibling is outside
        ("none", "none"),
        ("/../../etc/passwd", "/tmp/lab/hasta/etc/passwd"),  # `..` stops at the node's root
        ("//var/run/x", "/tmp/lab/hasta/var/run/x"),
    ],
)
def test_inside_node_takes_outside_paths_into_the_node(path: str, seen: str) -> None:
    assert inside_node(ROOT, path) == seen


def test_chrooted_moves_control_pidfile_local_and_exec_but_keeps_the_address_text() -> None:
    hooked = ResourceConfig(
        "w", "w", "/dev/ada1", "198.18.0.2", exec_path="/usr/local/sbin/carpswitch-hast-event"
    )
    setup = HastSetup(
        config_path=ROOT / "etc" / "hast.conf",
        resources=(ResourceConfig("v", "v", "/dev/zvol/tank/v", "198.18.0.2"), hooked),
        control_address="uds:///var/run/hastctl",
        control_socket=Path("/var/run/hastctl"),
        pidfile=Path("/var/run/hastd.pid"),
    )
    seen = chrooted(setup, ROOT)
    assert seen.control_socket == ROOT / "var/run/hastctl"
    assert seen.pidfile == ROOT / "var/run/hastd.pid"
    assert seen.resources[0].local_path == str(ROOT / "dev/zvol/tank/v")
    assert seen.resources[0].exec_path is None  # no exec: still none
    assert seen.resources[1].exec_path == str(ROOT / "usr/local/sbin/carpswitch-hast-event")
    assert seen.control_address == "uds:///var/run/hastctl"  # what hastd's messages say
