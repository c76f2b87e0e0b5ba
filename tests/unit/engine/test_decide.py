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
    unreadable=None,
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
        unreadable=dict(unreadable or {}),
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


SERVING = {"role": HastRole.PRIMARY, "device": True, "mounted": True, "ctld": True}


@pytest.mark.parametrize(
    ("carp", "observed", "fact"),
    [
        (CarpState.MASTER, {}, "hast"),  # would promote
        (CarpState.MASTER, SERVING, "mounts"),  # a failing `mount -p` on a serving primary
        (CarpState.MASTER, {"role": HastRole.PRIMARY, "device": True}, "service ctld"),
        (CarpState.BACKUP, SERVING, "mounts"),  # would demote
        (CarpState.BACKUP, SERVING, "hast"),
        (CarpState.BACKUP, SERVING, "carp vtnet0"),
        (CarpState.BACKUP, SERVING, "carp"),
    ],
)
def test_a_fact_that_cannot_be_read_is_never_a_reason_to_act(carp, observed, fact):
    error = "/sbin/mount -p: exit status 1: mount: Input/output error"
    decision = only(decide(TOPOLOGY, state(carp=carp, unreadable={fact: error}, **observed)))
    assert decision.action is None
    assert decision.unread == (fact,)
    assert decision.reason == f"cannot read {fact} ({error}): doing nothing"


def test_a_fact_the_group_does_not_need_does_not_stop_it():
    unreadable = {"pools": "zpool list timed out", "service nfsd": "timed out"}
    decision = only(decide(TOPOLOGY, state(unreadable=unreadable)))
    assert decision.action is TransitionKind.PROMOTE
    assert decision.unread == ()


def test_a_managed_resource_hastd_does_not_report_cannot_be_judged():
    observed = state(carp=CarpState.BACKUP, **SERVING)
    observed.resources = [HastResource(name="data", error=1)]
    decision = only(decide(TOPOLOGY, observed))
    assert (decision.action, decision.unread) == (None, ("hast data",))
    assert decision.reason == "cannot read hast data (hastd answered error 1): doing nothing"
    observed.resources = []
    assert only(decide(TOPOLOGY, observed)).unread == ("hast data",)


def test_a_vanished_vhid_is_treated_like_init():
    decision = only(decide(TOPOLOGY, state(carp=None, **SERVING)))
    assert decision.action is TransitionKind.DEMOTE
    assert decision.reason == ("CARP vhid 1 on vtnet0 is gone (no address, no interface): as INIT")
    assert only(decide(TOPOLOGY, state(carp=None))).action is None  # already secondary


GHOST = "resource 'ghost' is not in /etc/hast.conf"
BROKEN = TOPOLOGY.model_copy(update={"group_problems": {"storage": (GHOST,)}})
TWO_INTERFACES = "CARP vhid 1 is on vtnet0 and vtnet1: say which with interface = NAME"
AMBIGUOUS = TOPOLOGY.model_copy(
    update={
        "group_problems": {"storage": (TWO_INTERFACES,)},
        "ambiguous": {"storage": (TWO_INTERFACES,)},
    }
)


@pytest.mark.parametrize(
    ("carp", "observed", "wanted"),
    [
        (CarpState.MASTER, {}, TransitionKind.PROMOTE),
        (CarpState.BACKUP, SERVING, TransitionKind.DEMOTE),
    ],
)
def test_an_ambiguous_group_is_refused_either_way(carp, observed, wanted):
    decision = only(decide(AMBIGUOUS, state(carp=carp, **observed)))
    assert (decision.action, decision.refused) == (None, wanted)
    assert decision.reason == (
        f"{wanted} refused, the configuration has a problem: {TWO_INTERFACES}"
    )


def test_an_incomplete_group_is_refused_promotion():
    decision = only(decide(BROKEN, state(carp=CarpState.MASTER)))
    assert (decision.action, decision.refused) == (None, TransitionKind.PROMOTE)
    assert decision.reason == f"promote refused, the configuration has a problem: {GHOST}"


@pytest.mark.parametrize("carp", [CarpState.BACKUP, None], ids=["backup", "vhid-gone"])
def test_an_incomplete_group_still_demotes_its_known_resources(carp):
    """Review F8: a resource not in hast.conf must not keep the others primary."""
    group = GROUP.model_copy(update={"resources": ("data", "ghost")})
    broken = BROKEN.model_copy(update={"groups": (group,)})
    decision = only(decide(broken, state(carp=carp, **SERVING)))
    assert (decision.action, decision.refused) == (TransitionKind.DEMOTE, None)
    settled = only(decide(broken, state(carp=carp)))  # ghost is unknown to hastd: left out
    assert (settled.action, settled.refused) == (None, None)
    assert settled.reason.endswith("; already secondary")


@pytest.mark.parametrize(
    "observed",
    [SERVING, {"unreadable": {"mounts": "mount -p: exit status 1"}}],
    ids=["in-place", "mounts-unreadable"],
)
def test_a_group_with_a_config_problem_is_refused_whatever_else_is_seen(observed):
    decision = only(decide(BROKEN, state(**observed)))
    assert (decision.action, decision.refused) == (None, TransitionKind.PROMOTE)
    assert decision.unread == ()


def test_a_group_with_a_config_problem_and_unreadable_carp_looks_again():
    decision = only(decide(BROKEN, state(unreadable={"carp vtnet0": "ifconfig timed out"})))
    assert (decision.action, decision.refused, decision.unread) == (None, None, ("carp vtnet0",))


def test_paused_node_only_observes():
    decision = only(decide(TOPOLOGY, state(), Circumstances(paused=True)))
    assert decision.action is None
    assert decision.reason.startswith("paused")


def test_held_node_stays_backup_even_when_carp_says_master():
    observed = state(role=HastRole.PRIMARY, device=True)
    decision = only(decide(TOPOLOGY, observed, Circumstances(held=True)))
    assert decision.action is TransitionKind.DEMOTE
    assert decision.reason.startswith("held BACKUP")


def test_a_hold_never_tears_down_a_serving_primary():
    # an unreadable failure book means held: that must stop promotions, not a server
    observed = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    decision = only(decide(TOPOLOGY, observed, Circumstances(held=True)))
    assert decision.action is None
    assert decision.reason.startswith("held") and "already primary" in decision.reason


def test_another_device_at_the_mount_point_is_not_this_resource_mounted():
    observed = state(role=HastRole.PRIMARY, device=True, ctld=True).model_copy(
        update={"mounts": [Mount(device="/dev/ada9p1", mountpoint="/hast/data", fstype="ufs")]}
    )
    assert only(decide(TOPOLOGY, observed)).action is TransitionKind.PROMOTE
    backup = observed.model_copy(
        update={
            "carp": [
                CarpVhid(interface="vtnet0", vhid=1, state=CarpState.BACKUP, advbase=1, advskew=0)
            ],
            "resources": [HastResource(name="data", role=HastRole.SECONDARY)],
            "services": [ServiceStatus(name="ctld", running=False)],
        }
    )
    assert only(decide(TOPOLOGY, backup)).action is TransitionKind.DEMOTE  # something is there


FLAPPING = Circumstances(flapping=frozenset({"1@vtnet0"}))


def test_flapping_takes_the_safe_side():
    decision = only(decide(TOPOLOGY, state(), FLAPPING))
    assert decision.action is None  # already secondary: the safe side is where it is
    assert "flapping" in decision.reason
    primary = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    assert only(decide(TOPOLOGY, primary, FLAPPING)).action is TransitionKind.DEMOTE


@pytest.mark.parametrize("subsystem", ["1@vtnet0", "vtnet0"], ids=["vhid", "interface"])
def test_the_group_of_a_flapping_vhid_or_interface_takes_the_safe_side(subsystem):
    primary = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    flapping = Circumstances(flapping=frozenset({subsystem}))
    assert only(decide(TOPOLOGY, primary, flapping)).action is TransitionKind.DEMOTE


@pytest.mark.parametrize("subsystem", ["2@vtnet0", "1@vtnet1", "vtnet1"])
def test_another_vhid_flapping_leaves_a_serving_primary_alone(subsystem):
    primary = state(role=HastRole.PRIMARY, device=True, mounted=True, ctld=True)
    flapping = Circumstances(flapping=frozenset({subsystem}))
    decision = only(decide(TOPOLOGY, primary, flapping))
    assert decision.action is None and decision.reason.endswith("already primary")


@pytest.mark.parametrize(
    "worker", [{"status": HastStatus.COMPLETE}, {"worker_pid": 812}], ids=["status", "workerpid"]
)
def test_at_boot_a_connected_remote_primary_keeps_this_node_secondary(worker):
    observed = state()
    observed.resources = [HastResource(name="data", role=HastRole.SECONDARY, **worker)]
    decision = only(decide(TOPOLOGY, observed, Circumstances(boot=True)))
    assert decision.action is None
    assert "remote primary is connected" in decision.reason
    assert only(decide(TOPOLOGY, observed)).action is TransitionKind.PROMOTE
