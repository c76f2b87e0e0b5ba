"""A reconcile looks at the guards: the decision it acts on, and the give-away's memory."""

from datetime import UTC, datetime

from carpswitch.config import parse_config
from carpswitch.engine.failures import FailureBook
from carpswitch.model import (
    HastRole,
    StepOutcome,
    StepRecord,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.system import commands
from tests.unit.engine.test_reconcile import controller, node_state

WITNESS = "198.18.0.10"


def guarded(tmp_path, script, **guards):
    made, context, _ = controller(tmp_path, script)
    context.config = made.config = parse_config(
        {
            "paths": {"run_dir": str(tmp_path / "run"), "state_dir": str(tmp_path / "db")},
            "guards": {"witnesses": [WITNESS], **guards},
        }
    )
    return made, context


def test_a_master_that_reaches_no_witness_gives_the_address_away(tmp_path):
    made, context = guarded(tmp_path, [node_state(tank=HastRole.SECONDARY, lun=HastRole.SECONDARY)])
    context.runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    records = made.reconcile("timer")
    assert [r.reason for r in records] == [
        f"no witness reachable ({WITNESS}: no reply): not promoting"
    ] * 2
    plans = made.execute.plans
    assert [p.kind for p in plans] == [TransitionKind.DEMOTE] * 2
    assert [[s.kind for s in p.after] for p in plans] == [["carp_demote", "carp_backup"]] * 2


def test_a_master_that_reaches_a_witness_promotes_with_the_guard_first(tmp_path):
    made, context = guarded(tmp_path, [node_state(tank=HastRole.SECONDARY, lun=HastRole.PRIMARY)])
    context.runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    made.reconcile("timer")
    [plan] = made.execute.plans
    assert plan.kind is TransitionKind.PROMOTE
    assert plan.before[0].kind == "guard_witness"


def test_a_serving_primary_self_fences_only_after_the_grace(tmp_path):
    made, context = guarded(tmp_path, [node_state()], self_fence=True, witness_grace=5.0)
    context.runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    made.reconcile("timer")
    assert made.execute.plans == []  # the first silent look starts the clock
    lost = tmp_path / "run" / "witness-lost"
    lost.write_text(f"{float(lost.read_text()) - 6.0}\n")  # as if 6 s had passed
    records = made.reconcile("timer")
    assert [p.kind for p in made.execute.plans] == [TransitionKind.DEMOTE] * 2
    assert all(p.after for p in made.execute.plans)
    assert records[0].reason.startswith("self-fencing: no witness reachable for 6 s")


def record(kind, steps):
    return TransitionRecord(
        id="t1",
        kind=kind,
        group="storage",
        trigger="timer",
        reason="self-fencing",
        started_at=datetime.now(UTC),
        outcome=TransitionOutcome.SUCCEEDED,
        steps=steps,
    )


def test_a_give_away_demotion_is_remembered_to_be_taken_back(tmp_path):
    made, _ = guarded(tmp_path, [node_state()])
    made._boot = (1_700_000_000,)
    raised = StepResult(
        step=StepRecord(kind="carp_demote", description="sysctl", timeout=10.0),
        outcome=StepOutcome.OK,
        started_at=datetime.now(UTC),
        ended_at=datetime.now(UTC),
    )
    made._count(record(TransitionKind.DEMOTE, [raised]))
    book = FailureBook(str(tmp_path / "db")).load()
    assert book.demotion_of_boot(1_700_000_000) == 240
    assert book.failures == [] and not book.held
    made._count(record(TransitionKind.DEMOTE, []))  # a plain demotion adds nothing
    assert FailureBook(str(tmp_path / "db")).load().demotion_added == 240


def test_a_pause_that_comes_while_the_round_looks_stops_its_transitions(tmp_path):
    """The guards' look (pings, the peer's answer) takes time after the pause flag was
    read: an admin's pause meanwhile must still keep every transition from starting."""
    from carpswitch.engine.pause import PauseFlag

    made, context = guarded(tmp_path, [node_state(tank=HastRole.SECONDARY, lun=HastRole.SECONDARY)])
    context.runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    real_observe = context.observe

    def observe_after_pause():
        PauseFlag(str(tmp_path / "db")).set("maintenance")
        return real_observe()

    context.observe = observe_after_pause
    assert made.reconcile("timer") == []
    assert made.execute.plans == []
