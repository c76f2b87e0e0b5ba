"""`carpswitch reconcile --boot` for each CARP state x HAST role at boot, and the boot window
(issue 8 item 5: boot never takes a resource that the peer may hold)."""

from __future__ import annotations

import threading
import time

import pytest

from carpswitch.engine.boot import BootWindow
from carpswitch.engine.reconcile import BOOT_REASON
from tests.node.test_intake_helpers import IntakeNode, wait_until


def boot_node(make_lab_node, carp: str, role: str, peer: bool, release: float = 2.0) -> IntakeNode:
    intake = IntakeNode(make_lab_node(carp_state=carp))
    with intake.config.open("a") as config:  # how long a primary peer gets to connect
        config.write(f"\n[timeouts]\nrelease = {release}\n")
    node = intake.node
    if role != "init":
        assert node.run("hastctl", "role", role, "tank").returncode == 0
        assert wait_until(lambda: node.role("tank") == role)
    if role == "primary":
        assert wait_until(lambda: node.provider_exists("tank"))
    if peer:
        node.connect_peer("tank")
        assert wait_until(lambda: node.worker_pid("tank") is not None)
    return intake


@pytest.mark.parametrize(
    ("carp", "role", "peer", "expected", "kinds"),
    [
        ("MASTER", "init", False, "primary", ["demote", "promote"]),  # secondary, wait, promote
        ("MASTER", "secondary", False, "primary", ["promote"]),  # waited for the peer first
        ("MASTER", "secondary", True, "secondary", []),  # a remote primary is connected
        ("MASTER", "primary", False, "primary", []),
        ("BACKUP", "init", False, "secondary", ["demote"]),
        ("BACKUP", "secondary", False, "secondary", []),
        ("BACKUP", "primary", False, "secondary", ["demote"]),
        ("INIT", "init", False, "secondary", ["demote"]),
        ("INIT", "secondary", False, "secondary", []),
        ("INIT", "primary", False, "secondary", ["demote"]),
    ],
)
def test_boot_reconcile(make_lab_node, carp, role, peer, expected, kinds):
    intake = boot_node(make_lab_node, carp, role, peer)
    result = intake.carpswitch("reconcile", "--boot")
    assert result.returncode == 0, result.stdout + result.stderr
    assert intake.role() == expected
    assert intake.node.provider_exists("tank") == (expected == "primary")
    records = intake.journal()
    assert [r.kind for r in records] == kinds
    assert all(r.trigger == "boot reconcile" for r in records)
    if not kinds:
        assert result.stdout == "nothing to do\n"
    assert not BootWindow(intake.run_dir).is_open()  # closed once the boot rules have run


def test_a_primary_peer_that_connects_during_the_wait_keeps_this_node_secondary(make_lab_node):
    intake = boot_node(make_lab_node, "MASTER", "init", peer=False, release=20.0)
    node = intake.node

    def peer_connects_once_we_are_secondary() -> None:
        if wait_until(lambda: node.role("tank") == "secondary", timeout=60.0):
            time.sleep(1.0)  # its guard thread retries later (every 10 s on FreeBSD)
            node.connect_peer("tank")

    peer = threading.Thread(target=peer_connects_once_we_are_secondary, daemon=True)
    peer.start()
    result = intake.carpswitch("reconcile", "--boot")
    peer.join(timeout=60.0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert intake.role() == "secondary"
    assert node.worker_pid("tank") is not None  # the remote primary is connected
    assert not node.provider_exists("tank")
    (record,) = intake.journal()
    assert (record.kind, record.reason) == ("demote", BOOT_REASON)
    assert "promote" not in result.stdout


def test_without_a_peer_the_node_promotes_after_the_bound(make_lab_node):
    intake = boot_node(make_lab_node, "MASTER", "init", peer=False, release=3.0)
    started = time.monotonic()
    result = intake.carpswitch("reconcile", "--boot")
    assert time.monotonic() - started >= 3.0  # the peer got its chance
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"demote storage: succeeded ({BOOT_REASON})",
        "promote storage: succeeded (CARP vhid 1 is MASTER)",
    ]
    assert intake.role() == "primary"


def test_a_devd_event_in_the_boot_window_follows_the_boot_rule(make_lab_node):
    intake = boot_node(make_lab_node, "MASTER", "init", peer=False)
    intake.node.connect_peer("tank")  # the peer is primary and keeps trying to connect
    window = BootWindow(intake.run_dir)
    window.open()  # `reconcile --boot` has begun (rc.d), the event comes first
    intake.carp_event("MASTER")
    intake.wait_quiet()
    assert intake.role() == "secondary"
    first, *later = intake.journal()
    assert (first.kind, first.reason) == ("demote", BOOT_REASON)  # not a promotion of init
    assert first.trigger.startswith("hook MASTER")
    assert not window.is_open()  # boot rules done: later events reconcile normally
    # the normal rule's re-check may try a promotion: it waits for the connected peer to
    # let go, which it does not, and gives the address away
    assert all(r.kind == "promote" and r.outcome == "failed" for r in later)
