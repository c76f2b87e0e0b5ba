"""Issue 8, decisions: a healthy, serving primary is never moved by what carpswitch cannot
read or by a configuration it cannot trust; a vhid that is gone demotes; commands say why.

Items 1, 3, 6, 8, 12 and 28, each as the issue describes it, on a simulated node.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from carpswitch.config import load_config
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.lock import LOCK_NAME
from carpswitch.lab.faults import Fault
from carpswitch.lab.node import LabNode, LabResource
from carpswitch.lab.state import Interface, NetworkState, Vhid
from carpswitch.model import TransitionOutcome, TransitionRecord
from tests.node.test_transitions import FAST_TIMEOUTS, carpswitch, configure

pytestmark = pytest.mark.node

UFS = LabResource("tank", "ufs")
ZFS = LabResource("tank", "zfs")
MOUNT_FAILS = Fault(command="mount", args="^-p$", exit=1, stderr="mount: getfsstat: EIO\n")
ZPOOL_FAILS = Fault(command="zpool", args="^list", exit=1, stderr="internal error: EIO\n")


@dataclass(frozen=True)
class Serving:
    """What must not change on a healthy primary."""

    roles: dict[str, str]
    mounts: list[str]
    pools: list[str]
    ctld: int | None
    demotion: int
    failures: int
    journal: list[tuple[str, TransitionOutcome]]


def journal(config: str) -> list[TransitionRecord]:
    return Journal(load_config(config).paths.state_dir).records()


def look(node: LabNode, config: str, resources: list[str]) -> Serving:
    return Serving(
        roles={name: node.role(name) for name in resources},
        mounts=[m.mountpoint for m in node.mounts()],
        pools=[p.name for p in node.pools()],
        ctld=node.service_pid("ctld"),
        demotion=node.demotion(),
        failures=len(FailureBook(load_config(config).paths.state_dir).load().failures),
        journal=[(r.id, r.outcome) for r in journal(config)],
    )


def serving_node(make_lab_node, resources, extra: str = "") -> tuple[LabNode, str]:
    """A node that is primary for `resources` with ctld running, CARP MASTER."""
    node = make_lab_node(resources=resources, services=["ctld"], carp_state="MASTER")
    config = configure(node, extra)
    assert carpswitch(config, "promote") == 0
    assert node.service_pid("ctld") is not None
    return node, config


def with_groups(node: LabNode, groups: str) -> str:
    """Rewrite the lab config with these [[group]] tables (and the fast timeouts)."""
    path = Path(node.config_path)
    text = path.read_text()
    head = text[: text.index("[[group]]")]
    path.write_text(head + groups + FAST_TIMEOUTS)
    return str(path)


def add_vhid(node: LabNode, vhid: int, state: str, interface: str = "vtnet0") -> None:
    with node.store.update(NetworkState) as network:
        found = network.interface(interface)
        if found is None:
            found = Interface(
                name=interface,
                ether="58:9c:fc:00:01:01",
                address="198.18.1.1",
                broadcast="198.18.1.255",
            )
            network.interfaces.append(found)
        found.vhids.append(Vhid(vhid=vhid, state=state, address=f"198.18.1.{100 + vhid}"))


# --- item 1: a reading failure is never a reason to act ---------------------------------


@pytest.mark.parametrize(
    ("resource", "fault", "carp", "times"),
    [
        (UFS, MOUNT_FAILS, "MASTER", 2),
        (UFS, MOUNT_FAILS, "MASTER", None),
        (UFS, MOUNT_FAILS, "BACKUP", None),
        (ZFS, ZPOOL_FAILS, "MASTER", 2),
        (ZFS, ZPOOL_FAILS, "MASTER", None),
    ],
    ids=["ufs-twice", "ufs-always", "ufs-always-backup", "zfs-twice", "zfs-always"],
)
def test_a_failing_read_never_moves_a_serving_primary(
    make_lab_node, capsys, resource, fault, carp, times
):
    node, config = serving_node(make_lab_node, [resource])
    node.set_carp(carp)
    before = look(node, config, ["tank"])
    node.set_faults([dataclasses.replace(fault, times=times)])
    capsys.readouterr()
    code = carpswitch(config, "reconcile")
    out = capsys.readouterr().out
    if times == 2:  # the third look reads it again: already primary
        assert (code, out) == (0, "nothing to do\n")
    else:
        fact = "mounts" if resource.kind == "ufs" else "pools"
        assert code == 1
        assert out.startswith(f"group storage: cannot read {fact} (")
        assert out.rstrip().endswith(": doing nothing (after 3 looks)")
        assert len(out.splitlines()) == 1
    node.clear_faults()
    after = look(node, config, ["tank"])
    assert after == before  # no step ran: no record, same ctld, demotion, failures
    assert after.roles == {"tank": "primary"}
    assert after.mounts if resource.kind == "ufs" else after.pools


# --- item 3: a config that `check` rejects never starts a transition -------------------


TWO_GROUPS = """
[[group]]
name = "storage"
vhid = 1
interface = "vtnet0"
resources = [{storage}]
services = ["ctld"]

[[group]]
name = "block"
vhid = 2
interface = "vtnet0"
resources = ["lun"]
"""


def test_a_group_with_an_unknown_resource_is_refused_and_the_other_group_goes_on(
    make_lab_node, capsys
):
    node, config = serving_node(make_lab_node, [UFS, LabResource("lun", "raw")])
    with_groups(node, TWO_GROUPS.format(storage='"tank"'))
    add_vhid(node, 2, "MASTER")
    assert carpswitch(config, "demote", "block") == 0  # lun: block starts secondary
    before = look(node, config, ["tank"])
    with_groups(node, TWO_GROUPS.format(storage='"tank", "ghost"'))
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 1
    out = capsys.readouterr().out
    assert "promote storage: refused (promote refused, the configuration has a problem: " in out
    assert "resource 'ghost' is not in" in out
    assert "promote block: succeeded" in out
    assert node.role("lun") == "primary"  # the other group still acts
    *_, refused, block = journal(config)
    assert (refused.group, refused.kind, refused.outcome) == ("storage", "promote", "refused")
    assert refused.steps == [] and refused.undo == []
    assert (block.group, block.outcome) == ("block", TransitionOutcome.SUCCEEDED)
    after = look(node, config, ["tank"])
    assert after.roles == before.roles == {"tank": "primary"}
    assert (after.mounts, after.ctld, after.demotion) == (before.mounts, before.ctld, 0)
    # the same refusal again is not journaled again
    assert carpswitch(config, "reconcile") == 1
    assert len([r for r in journal(config) if r.outcome == "refused"]) == 1
    # promote by hand is refused too, before any step (a demotion is not: review F8,
    # tests/node/test_review_decisions.py)
    assert carpswitch(config, "promote", "storage") == 1
    assert look(node, config, ["tank"]).roles == {"tank": "primary"}
    refusals = [r.kind for r in journal(config) if r.outcome == "refused"]
    assert refusals == ["promote"]  # journaled once while it stays the same
    capsys.readouterr()
    assert carpswitch(config, "status") == 1
    status = capsys.readouterr().out
    assert "group 'storage': resource 'ghost' is not in" in status
    assert "group storage: no promotion starts until its configuration is fixed" in status


def test_an_unparsable_hast_conf_refuses_with_its_line(make_lab_node, capsys):
    node, config = serving_node(make_lab_node, [UFS])
    hast_conf = node.paths.hast_conf
    hast_conf.write_text(hast_conf.read_text() + "resource broken {\n\ton\n")
    node.set_carp("BACKUP")
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 1
    out = capsys.readouterr().out
    assert "the configuration has a problem: cannot parse " in out
    assert "(line " in out and "not in" not in out
    assert carpswitch(config, "promote", "--force") == 1
    promoted = capsys.readouterr()
    assert "promote storage: refused (promote refused, the configuration has a problem: " in (
        promoted.out
    )
    assert "cannot parse " in promoted.out and "(line " in promoted.out
    assert "not in hast.conf" not in promoted.out + promoted.err
    assert node.role("tank") == "primary" and node.mounts()


# --- item 6: a configured vhid that disappears is INIT --------------------------------


def _remove_vhid(node: LabNode) -> None:
    with node.store.update(NetworkState) as network:
        network.interfaces[0].vhids.clear()


def _destroy_interface(node: LabNode) -> None:
    with node.store.update(NetworkState) as network:
        network.interfaces.clear()


@pytest.mark.parametrize("vanish", [_remove_vhid, _destroy_interface], ids=["vhid", "interface"])
def test_a_vanished_vhid_demotes_the_primary(make_lab_node, capsys, vanish):
    node, config = serving_node(make_lab_node, [UFS])
    vanish(node)
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 0
    out = capsys.readouterr().out
    assert "demote storage: succeeded (CARP vhid 1 on vtnet0 is gone" in out
    assert node.role("tank") == "secondary"
    assert node.mounts() == [] and node.service_pid("ctld") is None


def test_an_ifconfig_that_cannot_be_read_is_not_a_vanished_vhid(make_lab_node, capsys):
    node, config = serving_node(make_lab_node, [UFS])
    before = look(node, config, ["tank"])
    node.set_faults([Fault(command="ifconfig", args="^vtnet0$", garbage=True)])
    capsys.readouterr()
    assert carpswitch(config, "reconcile") == 1
    assert capsys.readouterr().out.startswith("group storage: cannot read carp vtnet0 (")
    assert look(node, config, ["tank"]) == before


# --- item 8: ambiguous topologies are refused -------------------------------------------


def test_hast_conf_only_mode_with_several_vhids_is_refused(make_lab_node, capsys):
    node = make_lab_node(resources=[LabResource("tank", "raw")], carp_state="MASTER")
    path = Path(node.config_path)
    text = path.read_text()
    config = str(path)
    path.write_text(text[: text.index("[[resource]]")] + FAST_TIMEOUTS)  # no resource, no group
    assert carpswitch(config, "promote") == 0
    add_vhid(node, 2, "BACKUP")  # a second vhid: which one carries tank?
    before = look(node, config, ["tank"])
    capsys.readouterr()
    assert carpswitch(config, "check") == 78
    assert "several CARP vhids (1@vtnet0, 2@vtnet0) and no [[group]]" in capsys.readouterr().out
    assert carpswitch(config, "reconcile") == 1
    out = capsys.readouterr().out
    assert "demote vhid2: refused (demote refused, the configuration has a problem: " in out
    assert look(node, config, ["tank"]).roles == before.roles == {"tank": "primary"}


def test_the_same_vhid_on_two_interfaces_without_interface_is_refused(make_lab_node, capsys):
    node, config = serving_node(make_lab_node, [UFS])
    with_groups(
        node, '[[group]]\nname = "storage"\nvhid = 1\nresources = ["tank"]\nservices = ["ctld"]\n'
    )
    add_vhid(node, 1, "BACKUP", interface="vtnet1")
    before = look(node, config, ["tank"])
    capsys.readouterr()
    assert carpswitch(config, "check") == 78
    assert "CARP vhid 1 is on vtnet0 and vtnet1" in capsys.readouterr().out
    assert carpswitch(config, "reconcile") == 1
    assert "refused" in capsys.readouterr().out
    after = look(node, config, ["tank"])
    assert (after.roles, after.mounts, after.ctld) == (before.roles, before.mounts, before.ctld)


# --- item 28: plan and promote say why ---------------------------------------------------


def test_plan_promote_and_history_say_why(make_lab_node, capsys):
    node = make_lab_node(resources=[LabResource("tank", "raw")], carp_state="MASTER")
    config = configure(node)
    run_dir = Path(load_config(config).paths.run_dir)
    long_name = "g" * 10_000
    assert carpswitch(config, "promote", long_name) == 64
    err = capsys.readouterr().err
    assert "unknown group 'gggg" in err and len(err) < 300
    assert not (run_dir / LOCK_NAME).exists()  # refused before the lock
    assert carpswitch(config, "plan", "master", "nosuch") == 64
    assert carpswitch(config, "promote", "storage", "storage") == 0
    assert [r.group for r in journal(config)] == ["storage"]  # ran once
    assert carpswitch(config, "history", "-n", "0") == 64
    capsys.readouterr()
    with_groups(node, '[[group]]\nname = "storage"\nvhid = 1\nresources = ["tank", "ghost"]\n')
    assert carpswitch(config, "plan", "master") == 1
    captured = capsys.readouterr()
    assert "carpswitch: group 'storage': resource 'ghost' is not in" in captured.err
    assert "hastctl role primary" not in captured.out  # a refused plan is not shown
