"""Review findings F1, F7, F8 on a simulated node: what reads as "gone", which groups a
flapping vhid holds back, which configuration problems block a demotion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carpswitch.lab.faults import Fault
from carpswitch.lab.node import LabResource
from carpswitch.lab.state import NetworkState, Vhid
from carpswitch.model import StepOutcome
from tests.node.test_hardening_decisions import TWO_GROUPS, journal, look, serving_node
from tests.node.test_intake_helpers import IntakeNode
from tests.node.test_transitions import carpswitch

pytestmark = pytest.mark.node

UFS = LabResource("tank", "ufs")


# --- F1: an ifconfig that prints nothing is not a vanished vhid -------------------------


@pytest.mark.parametrize(
    "stdout",
    ["", "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n"],
    ids=["empty", "other-interface"],
)
def test_an_ifconfig_without_the_interface_block_never_demotes(make_lab_node, capsys, stdout):
    node, config = serving_node(make_lab_node, [UFS])
    before = look(node, config, ["tank"])
    node.set_faults([Fault(command="ifconfig", exit=0, stdout=stdout)])
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 1
    out = capsys.readouterr().out
    assert out.startswith("group storage: cannot read carp vtnet0 (")
    assert out.rstrip().endswith(": doing nothing (after 3 looks)")
    node.clear_faults()
    assert look(node, config, ["tank"]) == before


# --- F8: a resource hast.conf lacks blocks the promotion only --------------------------


def test_a_resource_missing_from_hast_conf_does_not_block_the_demotion(make_lab_node, capsys):
    node, config = serving_node(make_lab_node, [UFS])
    path = Path(config)
    path.write_text(
        path.read_text().replace('resources = ["tank"]', 'resources = ["tank", "tank2"]')
    )
    node.set_carp("BACKUP")  # e.g. this node lost the replication network: the peer promotes
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 1  # the demotion reports tank2
    out = capsys.readouterr().out
    assert "refused" not in out
    assert "demote storage: failed (CARP vhid 1 is BACKUP)" in out
    assert node.role("tank") == "secondary"
    assert node.mounts() == [] and node.service_pid("ctld") is None
    record = journal(config)[-1]
    steps = {(s.step.kind, s.step.resource): s for s in record.steps}
    assert steps[("guard", "tank2")].outcome is StepOutcome.FAILED
    assert "tank2 is not in hast.conf" in steps[("guard", "tank2")].detail
    assert steps[("hast_role", "tank")].outcome is StepOutcome.OK
    # settled: tank2 is unknown to hastd, nothing is left to demote
    assert carpswitch(config, "reconcile") == 0
    assert capsys.readouterr().out == "nothing to do\n"
    assert journal(config)[-1].id == record.id
    # the promotion stays refused while tank2 is missing
    node.set_carp("MASTER")
    assert carpswitch(config, "reconcile") == 1
    assert "promote storage: refused (promote refused, the configuration has a problem: " in (
        capsys.readouterr().out
    )
    assert node.role("tank") == "secondary"


# --- F7: a flapping vhid holds back only its own group ----------------------------------


def test_another_vhid_flapping_leaves_a_serving_primary_alone(make_lab_node):
    node = make_lab_node(
        resources=[UFS, LabResource("lun", "raw")], services=["ctld"], carp_state="MASTER"
    )
    path = Path(node.config_path)
    text = path.read_text()
    path.write_text(text[: text.index("[[group]]")] + TWO_GROUPS.format(storage='"tank"'))
    with node.store.update(NetworkState) as network:
        network.interface("vtnet0").vhids.append(
            Vhid(vhid=2, state="BACKUP", address="198.18.1.102")
        )
    intake = IntakeNode(node, settle=0.3, flap_limit=1.5)
    assert intake.carpswitch("promote", "storage").returncode == 0
    assert intake.carpswitch("demote", "block").returncode == 0
    ctld = node.service_pid("ctld")
    before = [r.id for r in intake.journal()]
    state = "MASTER"
    for _ in range(40):  # only vhid 2 flaps, for longer than flap_limit
        intake.hook(state, "2@vtnet0")
        state = "BACKUP" if state == "MASTER" else "MASTER"
    intake.wait_quiet()
    after = [r for r in intake.journal() if r.id not in before]
    assert not [r for r in after if r.group == "storage"], [(r.group, r.kind) for r in after]
    assert node.role("tank") == "primary"
    assert [m.mountpoint for m in node.mounts()] == [str(node.path / "mnt" / "tank")]
    assert node.service_pid("ctld") == ctld  # never stopped: no outage
