"""decide(): from observed CARP and HAST to promote, demote or nothing, with a reason."""

from datetime import UTC, datetime

import pytest

from carpswitch.engine.decide import Circumstances, decide
from carpswitch.model import (
    CarpState,
    CarpVhid,
    HastResource,
    HastRole,
    HastStatus,
    Mount,
    NodeState,
    ServiceStatus,
    TransitionKind,
)
from carpswitch.topology import Group, Resource, Topology

UFS = Resource(
    name="data",
    kind="ufs",
    provider_name="data",
    device="/dev/hast/data",
    local_path="/dev/ada1",
    remote_address="198.18.0.2",
    mountpoint="/hast/data",
)
GROUP = Group(name="storage", vhid=1, interface="vtnet0", resources=("data",), services=("ctld",))
TOPOLOGY = Topology(node_names=("hasta",), resources={"data": UFS}, groups=(GROUP,))


def state(
    carp=CarpState.MASTER,
    role=HastRole.SECONDARY,
    status=None,
    device=False,
    mounted=False,
    ctld=False,
    problems=(),
):
    return NodeState(
        node="hasta",
        observed_at=datetime.now(UTC),
        carp=[CarpVhid(interface="vtnet0", vhid=1, state=carp, advbase=1, advskew=0)]
        if carp
        else [],
        resources=[HastResource(name="data", role=role, status=status, device_present=device)],
        mounts=[Mount(device="/dev/hast/data", mountpoint="/hast/data", fstype="ufs")]
        if mounted
        else [],
        services=[ServiceStatus(name="ctld", running=ctld)],
        problems=list(problems),
    )


def only(decisions):
    assert len(decisions) == 1
    return decisions[0]


def test_master_with_secondary_resource_promotes():
    decision = only(decide(TOPOLOGY, state()))
    assert decision.action is TransitionKind.PROMOTE
    assert decision.reason == "CARP vhid 1 is MASTER"


def test_master_already_in_place_does_nothing():
    observed = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    decision = only(decide(TOPOLOGY, observed))
    assert decision.action is None
    assert decision.reason.endswith("already primary")


def test_master_with_service_down_promotes_again():
    observed = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=False)
    assert only(decide(TOPOLOGY, observed)).action is TransitionKind.PROMOTE


@pytest.mark.parametrize("carp", [CarpState.BACKUP, CarpState.INIT])
def test_backup_or_init_demotes_a_primary(carp):
    observed = state(carp=carp, role=HastRole.PRIMARY, device=True, mounted=True)
    assert only(decide(TOPOLOGY, observed)).action is TransitionKind.DEMOTE


def test_backup_demotes_an_init_resource_to_secondary():
    assert only(decide(TOPOLOGY, state(carp=CarpState.BACKUP, role=HastRole.INIT))).action is (
        TransitionKind.DEMOTE
    )


def test_backup_already_secondary_does_nothing():
    decision = only(decide(TOPOLOGY, state(carp=CarpState.BACKUP)))
    assert decision.action is None
    assert decision.reason == "CARP vhid 1 is BACKUP; already secondary"


def test_unreadable_hast_never_promotes():
    observed = state(problems=["hast: /sbin/hastctl list: exit status 71: no hastd"])
    decision = only(decide(TOPOLOGY, observed))
    assert decision.action is None
    assert "cannot read HAST state, not promoting" in decision.reason


def test_unreadable_carp_does_nothing():
    decision = only(decide(TOPOLOGY, state(carp=None, problems=["carp: ifconfig failed"])))
    assert decision.action is None
    assert decision.reason == "cannot read CARP state: doing nothing"


def test_paused_node_only_observes():
    decision = only(decide(TOPOLOGY, state(), Circumstances(paused=True)))
    assert decision.action is None
    assert decision.reason.startswith("paused")


def test_held_node_stays_backup_even_when_carp_says_master():
    observed = state(role=HastRole.PRIMARY, device=True)
    decision = only(decide(TOPOLOGY, observed, Circumstances(held=True)))
    assert decision.action is TransitionKind.DEMOTE
    assert decision.reason.startswith("held BACKUP")


def test_flapping_takes_the_safe_side():
    decision = only(decide(TOPOLOGY, state(), Circumstances(flapping=True)))
    assert decision.action is None  # already secondary: the safe side is where it is
    assert "flapping" in decision.reason
    primary = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    assert (
        only(decide(TOPOLOGY, primary, Circumstances(flapping=True))).action
        is TransitionKind.DEMOTE
    )


def test_at_boot_a_connected_remote_primary_keeps_this_node_secondary():
    observed = state(status=HastStatus.COMPLETE)
    decision = only(decide(TOPOLOGY, observed, Circumstances(boot=True)))
    assert decision.action is None
    assert "remote primary is connected" in decision.reason
    assert only(decide(TOPOLOGY, observed)).action is TransitionKind.PROMOTE
