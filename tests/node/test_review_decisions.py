"""Review findings F1, F7, F8 on a simulated node: what reads as "gone", which groups a
flapping vhid holds back, which configuration problems block a demotion.
"""

from __future__ import annotations

import pytest

from carpswitch.lab.faults import Fault
from carpswitch.lab.node import LabResource
from tests.node.test_hardening_decisions import look, serving_node
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
