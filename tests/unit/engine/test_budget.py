"""A plan's worst case from the timeouts, and `check`'s release rule built on it (item 8)."""

import os
import stat
from pathlib import Path

from carpswitch.actions.hast import SetRole
from carpswitch.actions.services import StopService
from carpswitch.actions.ufs import Unmount
from carpswitch.actions.zfs import ExportPool
from carpswitch.commands import check
from carpswitch.config import parse_config
from carpswitch.engine.budget import EXTRA, plan_budget, step_budget
from carpswitch.engine.plan import plan_demote
from carpswitch.model import HastRole
from carpswitch.system.runner import Runner
from carpswitch.topology import Group, Topology
from tests.unit.engine.test_plan_and_steps import RESOURCES


def topology(*groups):
    return Topology(node_names=("hasta",), resources=RESOURCES, groups=groups)


SAMPLE = Group(name="storage", vhid=1, resources=("tank",), services=("ctld",))
TIMEOUTS = parse_config({}).timeouts


def test_each_demotion_step_costs_its_look_its_commands_and_its_timeout():
    # `service onestatus` (observe) + `service onestop`
    assert step_budget(StopService("ctld"), TIMEOUTS) == 10 + 60
    # umount (busy retries for the grace) + the last try + umount -f: no look first
    assert step_budget(Unmount(RESOURCES["data"]), TIMEOUTS) == 5 + 30 + 30
    # export + export -f: no look first
    assert step_budget(ExportPool(RESOURCES["tank"]), TIMEOUTS) == 60 + 60
    # hastctl list + hastctl role secondary
    assert step_budget(SetRole("tank", HastRole.SECONDARY), TIMEOUTS) == 10 + 10


def test_the_steps_named_in_extra_are_demotion_steps():
    plan = plan_demote(topology(), Group(name="g", vhid=1, resources=tuple(RESOURCES)))
    kinds = {step.kind for chain in plan.chains.values() for step in chain}
    assert set(EXTRA) <= kinds


def test_resources_demote_in_parallel_services_in_order():
    group = Group(name="g", vhid=1, resources=("tank", "data", "lun"), services=("ctld", "nfsd"))
    budget = plan_budget(plan_demote(topology(group), group), TIMEOUTS)
    assert budget.before == 2 * 70
    assert (budget.slowest_resource, budget.slowest_chain) == ("tank", 120 + 20)
    assert budget.total == 140 + 140


def test_the_default_release_covers_the_sample_group():
    """One pool and one service (conf/carpswitch.toml.sample): 210 s at worst."""
    budget = plan_budget(plan_demote(topology(SAMPLE), SAMPLE), TIMEOUTS)
    assert budget.total == 210
    assert TIMEOUTS.release >= budget.total
    assert check._release_problems(parse_config({}), topology(SAMPLE)) == []


def test_a_release_shorter_than_the_peers_demotion_is_a_check_problem():
    config = parse_config({"timeouts": {"release": 30}})
    assert check._release_problems(config, topology(SAMPLE)) == [
        "timeouts.release: 30 s is shorter than the peer's worst-case demotion of group "
        "'storage' (210 s: services 70 s, resource tank 140 s); raise it to at least 210"
    ]


def test_longer_step_timeouts_raise_the_worst_case():
    config = parse_config({"timeouts": {"export": 200}})
    (problem,) = check._release_problems(config, topology(SAMPLE))
    assert "(490 s: services 70 s, resource tank 420 s)" in problem


def executable(path: Path, mode: int) -> str:
    path.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(path, mode)
    return str(path)


def test_hooks_that_cannot_run_are_check_problems(tmp_path):
    """A non-executable pre_promote failed every promotion while check said OK (item 26)."""
    runnable = executable(tmp_path / "notify", stat.S_IRWXU)
    plain = executable(tmp_path / "pre", 0o644)
    config = parse_config({"hooks": {"pre_promote": plain, "notify": runnable}})
    assert check._hook_problems(config, Runner(config.commands)) == [
        f"hooks.pre_promote: {plain} is not an executable file"
    ]
    missing = parse_config({"hooks": {"notify": str(tmp_path / "absent")}})
    assert check._hook_problems(missing, Runner()) == [
        f"hooks.notify: {tmp_path / 'absent'} is not an executable file"
    ]


def test_a_resource_hast_conf_lacks_has_only_its_guard_and_is_costed_too():
    """Chains differ in length (the unknown one has no batched step): no IndexError."""
    group = Group(name="g", vhid=1, resources=("ghost", "tank"))
    budget = plan_budget(plan_demote(topology(group), group), TIMEOUTS)
    assert budget.slowest_chain == 120 + 20  # tank's export, then the one role call
