"""The check policies on their own: what may be mounted, which pool may be served."""

import pytest

from carpswitch.config import FsckPolicy
from carpswitch.engine.step import StepFailed
from carpswitch.errors import CommandFailed
from carpswitch.fsck.ufs import check_ufs, describe_check
from carpswitch.fsck.zfs import judge_pool
from carpswitch.model import Pool, PoolHealth
from carpswitch.system import commands
from tests.fakes import FakeRunner

DEVICE = "/dev/hast/data"


def _runner(preen_exit: int, full_exit: int = 0) -> FakeRunner:
    runner = FakeRunner()
    runner.reply(commands.fsck_ufs(DEVICE, repair=False), "** preen\n", preen_exit, "PREEN ERR\n")
    runner.reply(commands.fsck_ufs(DEVICE, repair=True), "** full\n", full_exit, "FULL ERR\n")
    return runner


@pytest.mark.parametrize("policy", list(FsckPolicy))
def test_a_clean_preen_mounts_under_every_policy(policy):
    runner = _runner(preen_exit=0)
    assert check_ufs(runner, DEVICE, policy, 5.0) == "** preen"
    assert runner.calls == [commands.fsck_ufs(DEVICE, repair=False)]


@pytest.mark.parametrize("policy", [FsckPolicy.REFUSE, FsckPolicy.PREEN])
def test_a_failed_preen_refuses_the_mount_without_repairing(policy):
    runner = _runner(preen_exit=8)
    with pytest.raises(StepFailed, match=f"exit 8.*policy is {policy}.*{DEVICE}: PREEN ERR"):
        check_ufs(runner, DEVICE, policy, 5.0)
    assert runner.calls == [commands.fsck_ufs(DEVICE, repair=False)]


def test_full_repairs_after_a_failed_preen_and_refuses_when_that_fails_too():
    assert check_ufs(_runner(preen_exit=8), DEVICE, FsckPolicy.FULL, 5.0) == "** full"
    with pytest.raises(CommandFailed) as failed:
        check_ufs(_runner(preen_exit=8, full_exit=8), DEVICE, FsckPolicy.FULL, 5.0)
    assert failed.value.argv == commands.fsck_ufs(DEVICE, repair=True)


def test_describe_names_the_repair_only_under_full():
    assert "fsck -y" in describe_check(DEVICE, FsckPolicy.FULL)
    assert "fsck -y" not in describe_check(DEVICE, FsckPolicy.REFUSE)


def _pool(health: PoolHealth) -> Pool:
    return Pool(name="tank", health=health)


@pytest.mark.parametrize("health", [PoolHealth.ONLINE, PoolHealth.DEGRADED])
def test_online_and_degraded_pools_are_served(health):
    assert judge_pool([_pool(health)], "tank") == f"pool tank {health}"


@pytest.mark.parametrize("health", [h for h in PoolHealth if h.name not in ("ONLINE", "DEGRADED")])
def test_other_healths_are_refused_by_name(health):
    with pytest.raises(StepFailed, match=f"pool tank is {health}"):
        judge_pool([_pool(health)], "tank")


def test_a_pool_not_listed_is_not_imported():
    with pytest.raises(StepFailed, match="pool other is not imported"):
        judge_pool([_pool(PoolHealth.ONLINE)], "other")
