"""Review of issue 9 (one look per phase, journal, hook summary): the holes it found, as
regression tests (F1: the chains decided from a look taken before the pre_promote hook)."""

from __future__ import annotations

from carpswitch.config import parse_config
from carpswitch.config_section import as_toml
from carpswitch.engine.executor import Executor
from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import plan_promote
from carpswitch.engine.step import StepContext
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandResult
from tests.unit.engine.fake_node import ufs_setup

HOOK = "/usr/local/libexec/carpswitch-pre-promote"


def _with_hook(config):
    raw = as_toml(config)
    raw["hooks"] = {"pre_promote": HOOK}
    return parse_config(raw)


def test_a_resource_that_fell_to_init_during_pre_promote_is_not_promoted_straight(tmp_path):
    """hastd restarted (every resource `init`) while the pre_promote hook ran.

    The phase's look is the reconcile's, taken before the hook: LeaveInit sees `secondary`
    and skips, WaitRelease finds no secondary worker (init has none) and `role primary`
    runs from init: a primary peer never got its chance to connect (issue 8 F4-F6).
    """
    node, topology, group, config = ufs_setup(tmp_path, 1, "raw")
    config = _with_hook(config)
    real = node.run

    def run(command, *args, **options):
        if command == HOOK:  # meanwhile: service hastd restart
            node.calls.append((command, *args))
            node.roles["r0"] = "init"
            return CommandResult((command, *args), 0, "", "", 0.0)
        return real(command, *args, **options)

    node.run = run
    observer = Observer(node, config)
    ctx = StepContext(runner=node, config=config, topology=topology, observer=observer)
    ctx.timeout = lambda key: 0.2 if key == "release" else 10.0  # type: ignore[method-assign]
    plan = plan_promote(topology, group, config, "vtnet0")
    seen = observer.node_state("hasta", topology, [])  # the reconcile's look
    node.calls.clear()
    Executor(ctx, Journal(str(tmp_path / "run"))).run(plan, "test", "test", seen)
    roles = [a[4:] for a in node.calls if a[:2] == ("hastctl", "role")]
    # from init, role secondary must come first (and the peer its bound) before primary
    if ("primary", "r0") in roles:
        assert ("secondary", "r0") in roles[: roles.index(("primary", "r0"))], roles
