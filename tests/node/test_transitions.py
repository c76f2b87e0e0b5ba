"""Issue 4 on a simulated FreeBSD node: promote/demote, idempotency, every injected fault.

The controller runs unchanged, pointed at the lab's shims by the lab config.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.engine.journal import Journal
from carpswitch.lab.faults import Fault, device_never_appears
from carpswitch.lab.node import LabResource
from carpswitch.model import (
    HastRole,
    Mount,
    NodeState,
    StepOutcome,
    TransitionOutcome,
    TransitionRecord,
)

pytestmark = pytest.mark.node

FAST_TIMEOUTS = """
[timeouts]
release = 1.5
device = 1.5
role = 10
fsck = 10
mount = 10
import = 10
export = 1.5
umount = 1.5
umount_grace = 1
service = 10
hook = 5
observe = 10
"""

RAW = LabResource("lun", "raw")
UFS = LabResource("data", "ufs")
ZFS = LabResource("tank", "zfs")


def configure(node, extra: str = "") -> str:
    """Append fast timeouts (and any extra tables) to the lab config."""
    path = Path(node.config_path)
    path.write_text(path.read_text() + FAST_TIMEOUTS + extra)
    return str(path)


def carpswitch(config: str, *args: str) -> int:
    try:
        return main(["-c", config, *args])
    except SystemExit as exc:
        return int(exc.code or 0)


def observe(config: str) -> NodeState:
    return NodeContext(load_config(config)).observe()[1]


def role(config: str, resource: str) -> HastRole | None:
    observed = observe(config).resource(resource)
    assert observed is not None, f"hastctl does not report {resource}"
    return observed.role


def last(config: str) -> TransitionRecord:
    return Journal(load_config(config).paths.state_dir).records()[-1]


def hast_mounts(state: NodeState) -> list[Mount]:
    """What is mounted besides the root file system (which `mount -p` always lists)."""
    return [m for m in state.mounts if m.mountpoint != "/"]


def assert_primary(state: NodeState, node, resources, services=()):
    for resource in resources:
        observed = state.resource(resource.name)
        assert observed is not None and observed.role is HastRole.PRIMARY, resource.name
        assert observed.device_present, resource.name
        if resource.kind == "ufs":
            assert any(m.device.endswith("/" + resource.name) for m in state.mounts), resource.name
        if resource.kind == "zfs":
            assert any(p.name == resource.name and p.health == "ONLINE" for p in state.pools)
    running = {s.name for s in state.services if s.running}
    assert set(services) <= running


def assert_secondary(state: NodeState, resources, services=()):
    for resource in resources:
        observed = state.resource(resource.name)
        assert observed is not None and observed.role is HastRole.SECONDARY, resource.name
        assert not observed.device_present, resource.name
    assert not hast_mounts(state)
    assert not state.pools
    assert not any(s.running for s in state.services if s.name in services)


@pytest.mark.parametrize(
    "resources", [[RAW], [UFS], [ZFS], [RAW, UFS, ZFS]], ids=["raw", "ufs", "zfs", "all"]
)
def test_promote_then_demote_end_in_the_right_state(make_lab_node, resources):
    node = make_lab_node(resources=resources, services=["ctld"], carp_state="BACKUP")
    config = configure(node)
    assert carpswitch(config, "demote") == 0  # init -> secondary, as at boot on a backup
    assert_secondary(observe(config), resources, ["ctld"])
    node.set_carp("MASTER")
    assert carpswitch(config, "promote") == 0
    assert last(config).outcome is TransitionOutcome.SUCCEEDED
    assert_primary(observe(config), node, resources, ["ctld"])
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    assert last(config).outcome is TransitionOutcome.SUCCEEDED
    assert_secondary(observe(config), resources, ["ctld"])


def test_repeated_promote_and_demote_change_nothing(make_lab_node):
    node = make_lab_node(resources=[UFS, ZFS], services=["ctld"], carp_state="MASTER")
    config = configure(node)
    assert carpswitch(config, "promote") == 0
    pid_before = observe(config).services[0].pids
    assert carpswitch(config, "promote") == 0
    again = last(config)
    assert again.outcome is TransitionOutcome.NOOP
    always_run = {"guard", "verify", "zfs_mount", "zpool_health"}  # checks, not changes
    assert all(s.outcome is StepOutcome.NOOP for s in again.steps if s.step.kind not in always_run)
    assert observe(config).services[0].pids == pid_before  # not restarted
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    assert carpswitch(config, "demote") == 0
    assert last(config).outcome is TransitionOutcome.NOOP


def assert_failed_safely(config: str, node, resources, reason: str):
    record = last(config)
    assert record.outcome is TransitionOutcome.FAILED
    details = " ".join(s.detail for s in record.steps + record.undo)
    assert reason in details, details
    state = observe(config)
    for resource in resources:
        observed = state.resource(resource.name)
        assert observed is not None and observed.role is not HastRole.PRIMARY
        assert not observed.device_present
    assert not hast_mounts(state) and not state.pools
    assert state.demotion == 240
    assert [v.state for v in state.carp] == ["BACKUP"]
    return record


def test_hastctl_failure_rolls_back_and_gives_carp_away(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node)
    node.set_faults(
        [Fault(command="hastctl", args="role .*primary", exit=1, stderr="[ERROR] boom.\n")]
    )
    assert carpswitch(config, "promote") == 1
    assert_failed_safely(config, node, [RAW], "[ERROR] boom.")


def settled_secondary(node) -> str:
    """Secondary long since (not by carpswitch: no left-init note), so the promotion's
    leave_init has nothing to wait for and the release wait is what meets the peer."""
    node.run("hastctl", "role", "secondary", "lun")
    config = configure(node)
    assert carpswitch(config, "demote") == 0
    return config


def test_release_that_never_happens_times_out(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="BACKUP")
    config = settled_secondary(node)
    node.connect_peer("lun")
    node.set_carp("MASTER")
    started = time.monotonic()
    assert carpswitch(config, "promote") == 1
    assert time.monotonic() - started < 15
    record = assert_failed_safely(config, node, [RAW], "the old primary still holds lun")
    assert any(
        s.step.kind == "wait_release" and s.outcome is StepOutcome.TIMED_OUT for s in record.steps
    )


def test_release_that_happens_in_time_lets_the_promotion_through(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="BACKUP")
    config = settled_secondary(node)
    node.connect_peer("lun", seconds=0.5)
    node.set_carp("MASTER")
    assert carpswitch(config, "promote") == 0


def test_device_that_never_appears_fails_the_promotion(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node)
    node.set_faults([device_never_appears("lun")])
    assert carpswitch(config, "promote") == 1
    assert_failed_safely(config, node, [RAW], "did not appear within 1.5 s")


def test_fsck_failure_is_never_mounted(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    config = configure(node)
    node.set_fs_state("data", "unrepairable")
    assert carpswitch(config, "promote") == 1
    assert_failed_safely(config, node, [UFS], "fsck policy is refuse: not mounting")


def test_fsck_full_policy_repairs_and_mounts(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    path = Path(node.config_path)
    path.write_text(path.read_text().replace('kind = "ufs"', 'kind = "ufs"\nfsck = "full"'))
    config = configure(node)
    node.set_fs_state("data", "unrepairable")
    assert carpswitch(config, "promote") == 0
    assert_primary(observe(config), node, [UFS])


def test_import_failure_rolls_back(make_lab_node):
    node = make_lab_node(resources=[ZFS, RAW], carp_state="MASTER")
    config = configure(node)
    node.set_faults(
        [Fault(command="zpool", args="^import", exit=1, stderr="cannot import 'tank': I/O error\n")]
    )
    assert carpswitch(config, "promote") == 1
    assert_failed_safely(config, node, [ZFS, RAW], "cannot import 'tank'")


def test_hanging_export_is_forced_and_ends_secondary(make_lab_node):
    node = make_lab_node(resources=[ZFS], carp_state="MASTER")
    config = configure(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults([Fault(command="zpool", args="^export tank$", hang=30)])
    node.set_carp("BACKUP")
    started = time.monotonic()
    assert carpswitch(config, "demote") == 0
    assert time.monotonic() - started < 15
    assert_secondary(observe(config), [ZFS])
    record = last(config)
    export = next(s for s in record.steps if s.step.kind == "zpool_export")
    assert export.output.startswith("forced:") and "timed out after 1.5 s" in export.output


def test_busy_umount_is_forced_and_ends_secondary(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    config = configure(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults(
        [
            Fault(
                command="umount",
                args="^/",
                exit=1,
                stderr="umount: unmount of /x failed: Device busy\n",
            )
        ]
    )
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    assert_secondary(observe(config), [UFS])


def test_demotion_ends_secondary_even_when_unmount_fails_completely(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    config = configure(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults([Fault(command="umount", exit=1, stderr="umount: it will not go\n")])
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 1
    record = last(config)
    assert record.outcome is TransitionOutcome.FAILED
    assert role(config, "data") is HastRole.SECONDARY


def test_service_that_fails_to_start_rolls_everything_back(make_lab_node):
    node = make_lab_node(resources=[UFS], services=["ctld"], carp_state="MASTER")
    config = configure(node)
    node.set_faults(
        [Fault(command="service", args="^ctld onestart", exit=1, stderr="ctld: no config\n")]
    )
    assert carpswitch(config, "promote") == 1
    record = assert_failed_safely(config, node, [UFS], "ctld: no config")
    assert [u.step.kind for u in record.undo] == [
        "service_stop",
        "umount",
        "hast_role",
        "carp_demote",
        "carp_backup",
    ]


def test_pre_promote_veto_changes_nothing_but_gives_carp_away(make_lab_node, tmp_path):
    hook = tmp_path / "pre_promote"
    hook.write_text("#!/bin/sh\necho 'witness says no' >&2\nexit 3\n")
    hook.chmod(0o755)
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node, f'\n[hooks]\npre_promote = "{hook}"\n')
    assert carpswitch(config, "promote") == 1
    record = assert_failed_safely(config, node, [RAW], "witness says no")
    assert record.steps[0].step.kind == "pre_promote"
    assert all(s.outcome is StepOutcome.SKIPPED for s in record.steps[1:])


def test_repeated_failures_hold_the_node_until_clear(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node, "\n[failover]\nforce_backup = false\n")
    node.set_faults([device_never_appears("lun")])
    for _ in range(3):
        assert carpswitch(config, "promote") == 1
    assert observe(config).demotion == 240  # added once, not three times
    node.set_faults([])
    assert carpswitch(config, "promote") == 1  # refused: held
    assert carpswitch(config, "clear") == 0
    assert observe(config).demotion == 0
    assert carpswitch(config, "promote") == 0


def test_success_after_a_failure_takes_the_demotion_back(make_lab_node):
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node, "\n[failover]\nforce_backup = false\n")
    node.set_faults([device_never_appears("lun")])
    assert carpswitch(config, "promote") == 1
    assert observe(config).demotion == 240
    node.set_faults([])
    assert carpswitch(config, "promote") == 0
    assert observe(config).demotion == 0


def test_manual_promote_refuses_when_carp_is_not_master(make_lab_node, capsys):
    node = make_lab_node(resources=[RAW], carp_state="BACKUP")
    config = configure(node)
    assert carpswitch(config, "promote") == 1
    assert "CARP vhid 1 is BACKUP, not MASTER" in capsys.readouterr().err
    assert role(config, "lun") is not HastRole.PRIMARY
    assert carpswitch(config, "promote", "--force") == 0
    assert role(config, "lun") is HastRole.PRIMARY


def test_plan_prints_the_steps_and_runs_nothing(make_lab_node, capsys):
    node = make_lab_node(resources=[UFS], services=["ctld"], carp_state="MASTER")
    config = configure(node)
    before = role(config, "data")
    assert carpswitch(config, "plan", "master") == 0
    out = capsys.readouterr().out
    assert "hastctl role primary data" in out
    assert "fsck -t ufs -p" in out
    assert "service ctld onestart" in out
    assert "sysctl net.inet.carp.demotion=240" in out
    assert role(config, "data") == before
    assert Journal(load_config(config).paths.state_dir).records() == []


def test_history_shows_steps_with_timings(make_lab_node, capsys):
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node)
    assert carpswitch(config, "promote") == 0
    capsys.readouterr()
    assert carpswitch(config, "history", "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    record = json.loads(lines[-1])
    assert record["outcome"] == "succeeded"
    assert [s["step"]["kind"] for s in record["steps"]][:5] == [
        "guard",
        "leave_init",
        "wait_release",
        "hast_role",
        "wait_device",
    ]
    assert carpswitch(config, "history") == 0
    text = capsys.readouterr().out
    assert f"promote {record['group']}: succeeded" in text
    assert "hastctl role primary lun" in text


def test_notify_hook_gets_the_outcome(make_lab_node, tmp_path):
    log = tmp_path / "notified"
    hook = tmp_path / "notify"
    hook.write_text(f'#!/bin/sh\necho "$@" >> {log}\ncat >> {log}.json\n')
    hook.chmod(0o755)
    node = make_lab_node(resources=[RAW], carp_state="MASTER")
    config = configure(node, f'\n[hooks]\nnotify = "{hook}"\n')
    assert carpswitch(config, "promote") == 0
    words = log.read_text().split()
    assert words[:2] == ["succeeded", "promote"]
    assert json.loads(Path(f"{log}.json").read_text())["outcome"] == "succeeded"


def test_a_crash_mid_promotion_is_finished_by_the_next_run(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    config = configure(node, "")
    node.set_faults([Fault(command="fsck", hang=60)])
    path = Path(config)
    path.write_text(path.read_text().replace("fsck = 10", "fsck = 120"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "carpswitch", "-c", config, "promote"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        journal = Journal(load_config(config).paths.state_dir)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            records = journal.records()
            if records and any(s.step.kind == "wait_device" for s in records[-1].steps):
                break
            time.sleep(0.1)
        else:
            pytest.fail("promotion did not reach fsck")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert journal.records()[-1].outcome is TransitionOutcome.RUNNING
    node.set_faults([])
    assert carpswitch(config, "promote") == 0
    outcomes = [r.outcome for r in journal.records()]
    assert outcomes == [TransitionOutcome.INTERRUPTED, TransitionOutcome.SUCCEEDED]
    assert_primary(observe(config), node, [UFS])
