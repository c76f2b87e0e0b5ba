"""The fault plan: shims and the simulated hastd fail, hang or babble on request."""

from __future__ import annotations

import time

import pytest

from carpswitch.errors import CommandFailed, CommandTimedOut
from carpswitch.lab.faults import Fault, device_never_appears, worker_dies
from carpswitch.lab.node import LabNode
from carpswitch.system.runner import Runner
from tests.node.conftest import wait_until


def test_fault_makes_a_matching_command_fail_with_its_texts(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="hastctl", args="^role primary", exit=1, stderr="boom\n")])
    failed = lab_node.run("hastctl", "role", "primary", "tank")
    assert (failed.returncode, failed.stdout, failed.stderr) == (1, "", "boom\n")
    assert lab_node.role("tank") == "init"  # the real command never ran
    other = lab_node.run("hastctl", "role", "secondary", "tank")
    assert other.returncode == 0


def test_fault_fires_at_most_times_times(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="sysctl", args="demotion", exit=1, times=2)])
    codes = [lab_node.run("sysctl", "net.inet.carp.demotion").returncode for _ in range(3)]
    assert codes == [1, 1, 0]


def test_garbage_prints_junk_and_exits_0(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="hastctl", args="status", garbage=True)])
    result = lab_node.run("hastctl", "status")
    assert result.returncode == 0
    assert result.stdout and not result.stdout.startswith("Name\tStatus")


def test_hang_delays_the_command_then_it_runs_normally(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="ifconfig", hang=0.5)])
    started = time.monotonic()
    result = lab_node.run("ifconfig", "vtnet0")
    assert time.monotonic() - started >= 0.5
    assert result.returncode == 0 and "carp: BACKUP" in result.stdout


def test_long_hang_is_cut_by_the_runners_timeout(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="hastctl", hang=30.0)])
    runner = Runner({"hastctl": str(lab_node.paths.command("hastctl"))})
    started = time.monotonic()
    with pytest.raises(CommandTimedOut):
        runner.run("hastctl", "status", timeout=0.5)
    assert time.monotonic() - started < 5.0


def test_runner_sees_a_faulted_exit_as_command_failed(lab_node: LabNode) -> None:
    lab_node.set_faults(
        [Fault(command="zpool", exit=1, stderr="cannot import 'tank': I/O error\n")]
    )
    runner = Runner({"zpool": str(lab_node.paths.command("zpool"))})
    with pytest.raises(CommandFailed) as failure:
        runner.run("zpool", "import", "-f", "tank")
    assert failure.value.exit_status == 1 and "I/O error" in failure.value.stderr


def test_a_bad_plan_stops_every_shim_with_exit_70(lab_node: LabNode) -> None:
    lab_node.paths.faults.write_text('[{"command": "hastctl", "exit": "soon"}]')
    result = lab_node.run("hastctl", "status")
    assert result.returncode == 70
    assert "invalid fault plan" in result.stderr and "exit" in result.stderr
    lab_node.paths.faults.write_text("not json")
    assert lab_node.run("ifconfig", "vtnet0").returncode == 70


def test_device_never_appears_keeps_the_primary_without_provider(lab_node: LabNode) -> None:
    lab_node.set_faults([device_never_appears("tank")])
    lab_node.run("hastctl", "role", "primary", "tank")
    assert not wait_until(lambda: lab_node.provider_exists("tank"), timeout=0.5)
    assert lab_node.role("tank") == "primary"
    assert lab_node.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert lab_node.worker_pid("tank") is None


def test_worker_dies_sends_the_resource_back_to_init(lab_node: LabNode) -> None:
    lab_node.set_faults([worker_dies("tank", exit_code=66)])
    result = lab_node.run("hastctl", "role", "primary", "tank")
    assert result.returncode == 0  # hastctl role succeeds; the worker dies afterwards
    assert wait_until(lambda: lab_node.role("tank") == "init")
    assert not lab_node.provider_exists("tank")


def test_worker_exiting_tempfail_is_restarted(lab_node: LabNode) -> None:
    lab_node.set_faults([worker_dies("tank", exit_code=75, times=1)])
    lab_node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: lab_node.provider_exists("tank"), timeout=3.0)
    assert lab_node.role("tank") == "primary"


def test_control_fault_makes_hastd_answer_a_top_level_error(lab_node: LabNode) -> None:
    lab_node.set_faults([Fault(command="hastd", args="^control status$", exit=5)])
    result = lab_node.run("hastctl", "status")
    assert (result.returncode, result.stdout) == (70, "")
    assert result.stderr == "[ERROR] Error 5 received from hastd.\n"
