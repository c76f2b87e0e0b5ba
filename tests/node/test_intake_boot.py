"""`carpswitch reconcile --boot` for each CARP state x HAST role at boot."""

from __future__ import annotations

import pytest

from tests.node.test_intake_helpers import IntakeNode, wait_until


def boot_node(make_lab_node, carp: str, role: str, peer: bool) -> IntakeNode:
    intake = IntakeNode(make_lab_node(carp_state=carp))
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
    ("carp", "role", "peer", "expected"),
    [
        ("MASTER", "init", False, "primary"),
        ("MASTER", "secondary", False, "primary"),
        ("MASTER", "secondary", True, "secondary"),  # a remote primary is connected
        ("MASTER", "primary", False, "primary"),
        ("BACKUP", "init", False, "secondary"),
        ("BACKUP", "secondary", False, "secondary"),
        ("BACKUP", "primary", False, "secondary"),
        ("INIT", "init", False, "secondary"),
        ("INIT", "secondary", False, "secondary"),
        ("INIT", "primary", False, "secondary"),
    ],
)
def test_boot_reconcile(make_lab_node, carp, role, peer, expected):
    intake = boot_node(make_lab_node, carp, role, peer)
    result = intake.carpswitch("reconcile", "--boot")
    assert result.returncode == 0, result.stdout + result.stderr
    assert intake.role() == expected
    assert intake.node.provider_exists("tank") == (expected == "primary")
    records = intake.journal()
    if expected == role:
        assert records == []
        assert result.stdout == "nothing to do\n"
    else:
        (record,) = records
        assert record.trigger == "boot reconcile"
        assert record.kind == ("promote" if expected == "primary" else "demote")
