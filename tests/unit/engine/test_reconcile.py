"""The reconcile cycle with a scripted node: looking again, refusals, boot window, errors."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from carpswitch.config import parse_config
from carpswitch.controller import Controller
from carpswitch.engine.boot import BootWindow
from carpswitch.engine.lock import ActorLock, LockBusy
from carpswitch.engine.pause import PauseFlag
from carpswitch.engine.plan import Plan
from carpswitch.model import (
    CarpState,
    CarpVhid,
    HastResource,
    HastRole,
    NodeState,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.topology import Group, Resource, Topology
from tests.fakes import FakeRunner

STORAGE = Group(name="storage", vhid=1, interface="vtnet0", resources=("tank",))
BLOCK = Group(name="block", vhid=2, interface="vtnet0", resources=("lun",))


def resource(name: str) -> Resource:
    return Resource(
        name=name,
        kind="raw",
        provider_name=name,
        device=f"/dev/hast/{name}",
        local_path="/dev/ada1",
        remote_address="198.18.0.2",
    )


TOPOLOGY = Topology(
    node_names=("hasta",),
    resources={"tank": resource("tank"), "lun": resource("lun")},
    groups=(STORAGE, BLOCK),
)


def node_state(tank=HastRole.PRIMARY, lun=HastRole.PRIMARY, unreadable=None) -> NodeState:
    return NodeState(
        node="hasta",
        observed_at=datetime.now(UTC),
        carp=[
            CarpVhid(interface="vtnet0", vhid=v, state=CarpState.MASTER, advbase=1, advskew=0)
            for v in (1, 2)
        ],
        resources=[
            HastResource(name="tank", role=tank, device_present=tank is HastRole.PRIMARY),
            HastResource(name="lun", role=lun, device_present=lun is HastRole.PRIMARY),
        ],
        unreadable=dict(unreadable or {}),
    )


class ScriptedContext:
    """NodeContext whose observations come from a script (the last one repeats)."""

    def __init__(self, tmp_path, script, topology=TOPOLOGY):
        self.config = parse_config(
            {
                "paths": {"run_dir": str(tmp_path / "run"), "state_dir": str(tmp_path / "db")},
                "timeouts": {"release": 0.3},
            }
        )
        self.script = list(script)
        self.topology = topology
        self.looks = 0
        self.runner = FakeRunner()  # no kern.boottime: the demotion memory is void
        self.observer = None

    def observe(self):
        self.looks += 1
        step = self.script[min(self.looks, len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return self.topology, step


class Recorder:
    """Controller.execute stand-in: records the plans it is asked to run."""

    def __init__(self):
        self.plans: list[Plan] = []

    def __call__(self, plan, topology, trigger, reason):
        self.plans.append(plan)
        return TransitionRecord(
            id=f"t{len(self.plans)}",
            kind=plan.kind,
            group=plan.group.name,
            trigger=trigger,
            reason=reason,
            started_at=datetime.now(UTC),
            outcome=TransitionOutcome.SUCCEEDED,
        )


def controller(tmp_path, script, topology=TOPOLOGY):
    context = ScriptedContext(tmp_path, script, topology)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if seconds < 0.5:  # the boot wait's polls (a deadline on the real clock)
            time.sleep(seconds)

    made = Controller(context, sleep=sleep)  # type: ignore[arg-type]
    made.execute = Recorder()  # type: ignore[method-assign]
    return made, context, sleeps


def test_an_unreadable_fact_is_looked_at_again_then_nothing_is_done(tmp_path):
    unread = node_state(unreadable={"hast": "hastctl list timed out"})
    made, context, sleeps = controller(tmp_path, [unread, unread, node_state()])
    assert made.reconcile("timer") == []
    assert context.looks == 3
    assert sleeps == [0.5, 1.0]  # growing pauses
    assert made.unsettled == [] and made.errors == []


def test_a_fact_that_stays_unreadable_is_reported_and_nothing_runs(tmp_path):
    unread = node_state(tank=HastRole.SECONDARY, unreadable={"hast": "hastctl list timed out"})
    made, context, _ = controller(tmp_path, [unread])
    assert made.reconcile("timer") == []
    assert made.execute.plans == []
    assert context.looks == 3
    assert [d.group.name for d in made.unsettled] == ["storage", "block"]
    assert made.unsettled[0].reason == (
        "cannot read hast (hastctl list timed out): doing nothing (after 3 looks)"
    )


def test_only_the_groups_that_could_not_be_read_are_looked_at_again(tmp_path):
    first = node_state(lun=HastRole.SECONDARY, unreadable={"hast tank": "x"})
    first.resources = [r for r in first.resources if r.name != "tank"]
    second = node_state(lun=HastRole.SECONDARY)  # lun still wants a promotion
    made, _, _ = controller(tmp_path, [first, second])
    records = made.reconcile("timer")
    assert [(r.kind, r.group) for r in records] == [("promote", "block")]  # once, not twice


def test_a_group_with_a_config_problem_is_refused_once_and_the_other_acts(tmp_path):
    broken = TOPOLOGY.model_copy(update={"group_problems": {"storage": ("resource 'ghost'",)}})
    observed = node_state(tank=HastRole.SECONDARY, lun=HastRole.SECONDARY)
    made, _, _ = controller(tmp_path, [observed], broken)
    records = made.reconcile("timer")
    assert [(r.group, r.outcome) for r in records] == [
        ("storage", TransitionOutcome.REFUSED),
        ("block", TransitionOutcome.SUCCEEDED),
    ]
    assert [p.group.name for p in made.execute.plans] == ["block"]
    made.reconcile("timer")
    journaled = [r for r in made.journal.records() if r.outcome is TransitionOutcome.REFUSED]
    assert len(journaled) == 1  # the same refusal is journaled once


def test_a_refusal_that_cannot_be_journaled_is_still_reported(tmp_path, caplog):
    broken = TOPOLOGY.model_copy(update={"group_problems": {"storage": ("resource 'ghost'",)}})
    made, _, _ = controller(tmp_path, [node_state()], broken)
    (tmp_path / "db").write_text("")  # state_dir is a file: no journal can be written
    records = made.reconcile("timer")
    assert [(r.group, r.outcome) for r in records] == [("storage", TransitionOutcome.REFUSED)]
    assert made.errors == []
    assert "cannot journal the refusal" in caplog.text


def test_a_bug_while_observing_is_caught_logged_and_reported(tmp_path, caplog):
    made, _, _ = controller(tmp_path, [RuntimeError("boom\nsecond line")])
    with caplog.at_level(logging.DEBUG, logger="carpswitch"):
        assert made.reconcile("timer") == []
    assert made.errors == ["reconcile (timer): RuntimeError: boom second line"]
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_an_error_in_one_group_does_not_stop_the_next(tmp_path, monkeypatch):
    observed = node_state(tank=HastRole.SECONDARY, lun=HastRole.SECONDARY)
    made, _, _ = controller(tmp_path, [observed])
    real_plan = made.plan

    def plan(kind, topology, state, group, force, **options):
        if group.name == "storage":
            raise OSError(28, "No space left on device")
        return real_plan(kind, topology, state, group, force, **options)

    monkeypatch.setattr(made, "plan", plan)
    records = made.reconcile("timer")
    assert [r.group for r in records] == ["block"]
    assert made.errors == ["group storage: OSError: [Errno 28] No space left on device"]


def test_unreadable_guard_rails_mean_no_promotion(tmp_path, monkeypatch):
    observed = node_state(tank=HastRole.SECONDARY, lun=HastRole.SECONDARY)
    made, _, _ = controller(tmp_path, [observed])

    def broken():
        raise ValueError("failover.json: not JSON")

    monkeypatch.setattr(made.book, "load", broken)
    assert made.reconcile("timer") == []  # held: already secondary, nothing to do
    assert made.errors[0].startswith("guard rails (not promoting): ValueError")


def test_another_actor_is_still_reported_as_busy(tmp_path):
    made, _, _ = controller(tmp_path, [node_state()])
    with ActorLock(made.config.paths.run_dir), pytest.raises(LockBusy):
        made.reconcile("timer")


@pytest.mark.parametrize("paused", [False, True])
def test_the_boot_window_closes_only_once_the_boot_rules_have_run(tmp_path, paused):
    made, _, _ = controller(tmp_path, [node_state()])
    window = BootWindow(made.config.paths.run_dir)
    window.open()
    if paused:
        PauseFlag(made.config.paths.state_dir).set("maintenance")
    made.reconcile("boot reconcile", boot=True)
    assert window.is_open() is paused  # after `resume`, the next reconcile applies them
    made.reconcile("timer")  # not a boot reconcile: the window stays as it is
    assert window.is_open() is paused


def test_at_boot_a_group_carp_would_promote_goes_secondary_first(tmp_path):
    at_boot = node_state(tank=HastRole.INIT, lun=HastRole.PRIMARY)
    made, context, sleeps = controller(tmp_path, [at_boot])
    context.observer = type("Observer", (), {"hast": lambda self: at_boot.resources})()
    records = made.reconcile("boot reconcile", boot=True)
    kinds = [(r.kind, r.group) for r in records]
    assert kinds[0] == (TransitionKind.DEMOTE, "storage")  # lun is primary: no wait for it
    assert records[0].reason.startswith("boot: every resource secondary first")
    assert sum(sleeps) == pytest.approx(0.3, abs=0.02)  # [timeouts] release: the peer waited for
