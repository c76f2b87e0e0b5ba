"""ImportPool with zpool.cache in mind: never cached, and a stale UNAVAIL pool exported first."""

from carpswitch.actions.zfs import ImportPool
from carpswitch.config import parse_config
from carpswitch.engine.step import StepContext
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.topology import Group, Resource, Topology
from tests.fakes import FakeRunner

TANK = Resource(
    name="tank",
    kind="zfs",
    provider_name="tank",
    device="/dev/hast/tank",
    local_path="/dev/ada1",
    remote_address="198.18.0.2",
    pool="tank",
)
TOPOLOGY = Topology(
    node_names=("hasta",),
    resources={"tank": TANK},
    groups=(Group(name="storage", vhid=1, resources=("tank",)),),
)
IMPORT = commands.zpool_import("tank", "/dev/hast")


def context(runner: FakeRunner) -> StepContext:
    config = parse_config({})
    return StepContext(
        runner=runner, config=config, topology=TOPOLOGY, observer=Observer(runner, config)
    )


def test_a_listed_but_unavail_pool_is_not_done_and_is_exported_before_the_import():
    runner = FakeRunner()
    runner.reply(commands.zpool_list(), "tank\tUNAVAIL\n")
    runner.reply(commands.zpool_export("tank"))
    runner.reply(IMPORT)
    step = ImportPool(TANK)
    ctx = context(runner)
    assert not step.is_done(ctx)
    output = step.do(ctx)
    assert [c for c in runner.calls if c[:2] != ("zpool", "list")] == [
        ("zpool", "export", "tank"),
        IMPORT,
    ]
    assert output.startswith("tank was listed UNAVAIL, export first: exported")


def test_an_export_that_fails_is_forced_before_the_import():
    runner = FakeRunner()
    runner.reply(commands.zpool_list(), "tank\tFAULTED\n")
    runner.reply(commands.zpool_export("tank"), exit_status=1, stderr="cannot export 'tank'\n")
    runner.reply(commands.zpool_export("tank", force=True))
    runner.reply(IMPORT)
    ImportPool(TANK).do(context(runner))
    assert runner.calls[-2:] == [("zpool", "export", "-f", "tank"), IMPORT]


def test_an_online_pool_is_done_and_a_missing_one_is_imported_directly():
    online = FakeRunner()
    online.reply(commands.zpool_list(), "tank\tONLINE\n")
    assert ImportPool(TANK).is_done(context(online))
    missing = FakeRunner()
    missing.reply(commands.zpool_list(), "")
    missing.reply(IMPORT)
    step = ImportPool(TANK)
    assert not step.is_done(context(missing))
    assert step.do(context(missing)) == "imported"
    assert missing.calls[-1] == IMPORT
