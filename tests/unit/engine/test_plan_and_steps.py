"""Plans have the documented order; steps run the exact argv and escalate as documented."""

import pytest

from carpswitch.actions.carp import LowerDemotion
from carpswitch.actions.hast import SetRole
from carpswitch.actions.hooks import PrePromoteHook
from carpswitch.actions.services import StartService
from carpswitch.actions.ufs import Fsck, Unmount
from carpswitch.actions.zfs import ExportPool
from carpswitch.config import FsckPolicy, parse_config
from carpswitch.engine.plan import plan_demote, plan_promote
from carpswitch.engine.step import AlreadyDone, StepContext, StepFailed
from carpswitch.model import HastRole, TransitionKind
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.topology import Group, Resource, Topology
from tests.fakes import FakeRunner


def resource(name, kind, **extra):
    return Resource(
        name=name,
        kind=kind,
        provider_name=name,
        device=f"/dev/hast/{name}",
        local_path="/dev/ada1",
        remote_address="198.18.0.2",
        **extra,
    )


RESOURCES = {
    "tank": resource("tank", "zfs", pool="tank"),
    "data": resource("data", "ufs", mountpoint="/hast/data"),
    "lun": resource("lun", "raw"),
}
GROUP = Group(
    name="storage",
    vhid=1,
    interface="vtnet0",
    resources=("tank", "data", "lun"),
    services=("ctld", "nfsd"),
)
TOPOLOGY = Topology(node_names=("hasta",), resources=RESOURCES, groups=(GROUP,))


def context(runner, config=None):
    config = parse_config(config or {})
    return StepContext(
        runner=runner, config=config, topology=TOPOLOGY, observer=Observer(runner, config)
    )


def kinds(steps):
    return [s.kind for s in steps]


def test_promotion_plan_per_kind_then_services_in_order():
    plan = plan_promote(TOPOLOGY, GROUP, parse_config({}), "vtnet0")
    assert plan.kind is TransitionKind.PROMOTE
    hast = ["guard", "leave_init", "wait_release", "hast_role", "wait_device"]
    assert kinds(plan.chains["tank"]) == [*hast, "zpool_import", "zfs_mount", "zpool_health"]
    assert kinds(plan.chains["data"]) == [
        "guard",
        "leave_init",
        "wait_release",
        "umount_stale",
        "hast_role",
        "wait_device",
        "fsck",
        "mount",
    ]
    assert kinds(plan.chains["lun"]) == hast
    assert [s.describe() for s in plan.after] == [
        "service ctld onestart (onereload if running)",
        "service nfsd onestart (onereload if running)",
        "verify group storage: roles, providers, mounts/pools, services",
    ]
    assert [s.describe() for s in plan.give_away] == [
        "sysctl net.inet.carp.demotion=240 (adds 240)",
        "ifconfig vtnet0 vhid 1 state backup",
    ]


def test_promotion_plan_with_earlier_demotion_takes_it_back_and_adds_none():
    plan = plan_promote(TOPOLOGY, GROUP, parse_config({}), "vtnet0", demotion_added=240)
    assert (
        plan.after[-1].describe() == "sysctl net.inet.carp.demotion=-240 (take back our demotion)"
    )
    assert kinds(plan.give_away) == ["carp_backup"]


def test_pre_promote_hook_runs_first_and_force_backup_can_be_off():
    config = parse_config(
        {"hooks": {"pre_promote": "/usr/local/bin/ok"}, "failover": {"force_backup": False}}
    )
    plan = plan_promote(TOPOLOGY, GROUP, config, "vtnet0")
    assert kinds(plan.before) == ["pre_promote"]
    assert kinds(plan.give_away) == ["carp_demote"]


def test_demotion_plan_stops_services_in_reverse_and_ends_secondary():
    plan = plan_demote(TOPOLOGY, GROUP)
    assert [s.describe() for s in plan.before] == ["service nfsd onestop", "service ctld onestop"]
    assert kinds(plan.chains["tank"]) == ["zpool_export", "hast_role"]
    assert kinds(plan.chains["data"]) == ["umount", "hast_role"]
    assert kinds(plan.chains["lun"]) == ["hast_role"]
    assert all(
        chain[-1].describe().startswith("hastctl role secondary") for chain in plan.chains.values()
    )


def test_unknown_resource_gets_a_guard_that_fails():
    group = Group(name="g", vhid=1, resources=("ghost",))
    plan = plan_promote(TOPOLOGY, group, parse_config({}), None)
    runner = FakeRunner()
    with pytest.raises(StepFailed, match=r"ghost is not in hast\.conf"):
        plan.chains["ghost"][0].do(context(runner))
    assert kinds(plan.give_away) == ["carp_demote"]  # no interface: no forced backup


def test_set_role_runs_hastctl_with_the_config_path():
    runner = FakeRunner()
    runner.reply(("hastctl", "role", "-c", "/lab/hast.conf", "primary", "tank"))
    ctx = context(runner, {"paths": {"hast_conf": "/lab/hast.conf"}})
    SetRole("tank", HastRole.PRIMARY).do(ctx)
    assert runner.calls == [("hastctl", "role", "-c", "/lab/hast.conf", "primary", "tank")]


def test_a_failed_promotion_rolls_back_through_the_groups_demotion():
    config = parse_config({"hooks": {"pre_promote": "/usr/local/bin/ok"}})
    plan = plan_promote(TOPOLOGY, GROUP, config, "vtnet0")
    demotion = plan_demote(TOPOLOGY, GROUP)
    assert plan.rollback is not None
    assert [s.describe() for s in plan.rollback.before] == [s.describe() for s in demotion.before]
    assert {n: kinds(c) for n, c in plan.rollback.chains.items()} == {
        n: kinds(c) for n, c in demotion.chains.items()
    }


# What takes back each promotion step that changes the node: a step of the demotion,
# or (for what a demotion does not know about) the step's own undo.
TAKEN_BACK_BY = {
    "hast_role": "hast_role",
    "leave_init": None,  # init -> secondary: the rollback's role secondary keeps it
    "umount_stale": None,  # a dead mount: nothing to restore
    "fsck": None,  # a checked file system stays checked
    "mount": "umount",
    "zpool_import": "zpool_export",
    "service_start": "service_stop",
    "carp_undemote": "undo",
}


@pytest.mark.parametrize("demotion_added", [0, 240])
def test_every_change_a_promotion_makes_is_taken_back_by_its_rollback(demotion_added):
    plan = plan_promote(TOPOLOGY, GROUP, parse_config({}), "vtnet0", demotion_added)
    assert plan.rollback is not None
    steps = [*plan.before, *(s for c in plan.chains.values() for s in c), *plan.after]
    rollback = plan.rollback.before + [s for c in plan.rollback.chains.values() for s in c]
    for step in steps:
        if not step.changes_node:
            continue
        assert step.kind in TAKEN_BACK_BY, f"{step.kind}: nothing takes it back"
        by = TAKEN_BACK_BY[step.kind]
        if by == "undo":
            assert step.reversible, step.kind
        elif by is not None:
            assert not step.reversible, f"{step.kind} would be taken back twice"
            assert any(r.kind == by and _target(r) == _target(step) for r in rollback), step.kind


def _target(step):
    """The resource or service a step is about."""
    return getattr(step, "service", None) or step.resource


@pytest.mark.parametrize(("current", "taken"), [(240, 240), (100, 100)], ids=["all", "less-there"])
def test_lower_demotion_is_undone_by_adding_again_what_it_took(current, taken):
    runner = FakeRunner()
    runner.reply(commands.sysctl_get(commands.DEMOTION_SYSCTL), f"{current}\n")
    runner.reply(commands.sysctl_set(commands.DEMOTION_SYSCTL, -taken))
    runner.reply(commands.sysctl_set(commands.DEMOTION_SYSCTL, taken))
    step = LowerDemotion(240)
    step.do(context(runner))
    step.undo(context(runner))
    assert runner.calls == [
        commands.sysctl_get(commands.DEMOTION_SYSCTL),
        commands.sysctl_set(commands.DEMOTION_SYSCTL, -taken),
        commands.sysctl_set(commands.DEMOTION_SYSCTL, taken),
    ]


def test_lower_demotion_that_took_nothing_adds_nothing_back():
    runner = FakeRunner()
    runner.reply(commands.sysctl_get(commands.DEMOTION_SYSCTL), "0\n")
    step = LowerDemotion(240)
    step.do(context(runner))
    step.undo(context(runner))
    assert runner.calls == [commands.sysctl_get(commands.DEMOTION_SYSCTL)]


def test_fsck_refuse_policy_never_runs_a_full_check():
    runner = FakeRunner()
    runner.reply(
        commands.fsck_ufs("/dev/hast/data", repair=False),
        exit_status=8,
        stderr="UNEXPECTED SOFT UPDATE INCONSISTENCY; RUN fsck MANUALLY.\n",
    )
    with pytest.raises(StepFailed, match="fsck policy is refuse: not mounting /dev/hast/data"):
        Fsck(RESOURCES["data"]).do(context(runner))
    assert runner.calls == [("fsck", "-t", "ufs", "-p", "/dev/hast/data")]


def test_fsck_full_policy_repairs_after_a_failed_preen():
    data = RESOURCES["data"].model_copy(update={"fsck": FsckPolicy.FULL})
    runner = FakeRunner()
    runner.reply(commands.fsck_ufs("/dev/hast/data", repair=False), exit_status=8)
    runner.reply(commands.fsck_ufs("/dev/hast/data", repair=True), "** /dev/hast/data\n")
    Fsck(data).do(context(runner))
    assert runner.calls[-1] == ("fsck", "-t", "ufs", "-y", "/dev/hast/data")


def test_busy_unmount_is_retried_for_the_grace_period_then_forced():
    runner = FakeRunner()
    runner.reply(
        commands.umount("/hast/data"),
        exit_status=1,
        stderr="umount: unmount of /hast/data failed: Device busy\n",
    )
    runner.reply(commands.umount("/hast/data", force=True))
    ctx = context(runner, {"timeouts": {"umount_grace": 0.3}})
    output = Unmount(RESOURCES["data"]).do(ctx)
    assert output.startswith("forced:") and "Device busy" in output
    assert runner.calls.count(("umount", "/hast/data")) >= 2
    assert runner.calls[-1] == ("umount", "-f", "/hast/data")


def test_unmount_that_stops_being_busy_is_not_forced():
    runner = FakeRunner()
    runner.reply(commands.umount("/hast/data"), exit_status=1, stderr="Device busy\n")
    ctx = context(runner, {"timeouts": {"umount_grace": 5}})
    ctx.sleep = lambda seconds: runner.reply(commands.umount("/hast/data"))  # files closed
    assert Unmount(RESOURCES["data"]).do(ctx) == "unmounted after 1 busy attempts"
    assert ("umount", "-f", "/hast/data") not in runner.calls


def test_unmount_of_nothing_mounted_is_already_done_at_once():
    runner = FakeRunner()
    runner.reply(
        commands.umount("/hast/data"),
        exit_status=1,
        stderr="umount: /hast/data: not a file system root directory\n",
    )
    ctx = context(runner, {"timeouts": {"umount_grace": 60}})
    ctx.sleep = lambda seconds: pytest.fail("retried a umount of nothing")
    with pytest.raises(AlreadyDone, match="not a file system root directory"):
        Unmount(RESOURCES["data"]).do(ctx)
    assert runner.calls == [("umount", "/hast/data")]


@pytest.mark.parametrize("step", [Unmount(RESOURCES["data"]), ExportPool(RESOURCES["tank"])])
def test_demotion_storage_steps_never_skip_on_a_look(step):
    """An empty `mount -p` or `zpool list` (review F2, F3) must not skip umount/export."""
    runner = FakeRunner()
    runner.reply(commands.mount_list(), stdout="")
    runner.reply(commands.zpool_list(), stdout="")
    assert step.is_done(context(runner)) is False
    assert runner.calls == []


def test_export_of_a_pool_not_imported_is_already_done():
    runner = FakeRunner()
    runner.reply(
        commands.zpool_export("tank"), exit_status=1, stderr="cannot open 'tank': no such pool\n"
    )
    with pytest.raises(AlreadyDone, match="no such pool"):
        ExportPool(RESOURCES["tank"]).do(context(runner))
    assert runner.calls == [("zpool", "export", "tank")]


def test_export_gone_by_the_forced_try_is_already_done():
    runner = FakeRunner()
    runner.reply(commands.zpool_export("tank"), timed_out=True)
    runner.reply(
        commands.zpool_export("tank", force=True),
        exit_status=1,
        stderr="cannot open 'tank': no such pool\n",
    )
    with pytest.raises(AlreadyDone):
        ExportPool(RESOURCES["tank"]).do(context(runner, {"timeouts": {"export": 1}}))


def test_busy_export_is_forced_not_taken_for_done():
    runner = FakeRunner()
    runner.reply(
        commands.zpool_export("tank"),
        exit_status=1,
        stderr="cannot export 'tank': pool or dataset is busy\n",
    )
    runner.reply(commands.zpool_export("tank", force=True))
    assert ExportPool(RESOURCES["tank"]).do(context(runner)).startswith("forced: ")


def test_hung_unmount_is_forced_at_once():
    runner = FakeRunner()
    runner.reply(commands.umount("/hast/data"), timed_out=True)
    runner.reply(commands.umount("/hast/data", force=True))
    Unmount(RESOURCES["data"]).do(context(runner, {"timeouts": {"umount_grace": 60}}))
    assert runner.calls == [("umount", "/hast/data"), ("umount", "-f", "/hast/data")]


def test_hanging_export_escalates_to_force():
    runner = FakeRunner()
    runner.reply(commands.zpool_export("tank"), timed_out=True)
    runner.reply(commands.zpool_export("tank", force=True))
    ExportPool(RESOURCES["tank"]).do(context(runner, {"timeouts": {"export": 1}}))
    assert runner.calls == [("zpool", "export", "tank"), ("zpool", "export", "-f", "tank")]


def test_service_starts_when_stopped_and_reloads_when_running():
    runner = FakeRunner()
    runner.reply(commands.service_status("ctld"), "ctld is not running.\n", exit_status=1)
    runner.reply(commands.service("ctld", "onestart"), "Starting ctld.\n")
    assert StartService("ctld").do(context(runner)) == "Starting ctld."
    runner = FakeRunner()
    runner.reply(commands.service_status("ctld"), "ctld is running as pid 99.\n")
    runner.reply(commands.service("ctld", "onereload"), exit_status=1)
    runner.reply(commands.service("ctld", "onerestart"), "Stopping ctld.\nStarting ctld.\n")
    StartService("ctld").do(context(runner))
    assert runner.calls[-2:] == [
        ("service", "ctld", "onereload"),
        ("service", "ctld", "onerestart"),
    ]


def test_running_service_is_left_alone_when_nothing_changed():
    runner = FakeRunner()
    runner.reply(commands.service_status("ctld"), "ctld is running as pid 99.\n")
    ctx = context(runner)
    assert StartService("ctld").is_done(ctx)
    ctx.changed = True
    assert not StartService("ctld").is_done(ctx)


def test_pre_promote_hook_veto_carries_its_reason():
    runner = FakeRunner()
    runner.reply(
        ("/hooks/pre", "storage", "1", "vtnet0"), exit_status=3, stderr="peer still writes\n"
    )
    with pytest.raises(StepFailed, match=r"vetoed \(exit 3\): peer still writes"):
        PrePromoteHook(GROUP, "/hooks/pre").do(context(runner))
