"""A resource marked split-brain is never promoted automatically: decide, reconcile (also at
boot), an admin's promote without --force, status's reason and the metrics gauge."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from carpswitch.commands.status import judge
from carpswitch.controller import Refused
from carpswitch.engine.decide import Circumstances, decide
from carpswitch.engine.splitbrain import MARKS_DIR, Marks, SplitBrainMarks
from carpswitch.model import CarpState, HastRole, TransitionKind, TransitionOutcome
from carpswitch.report import ControllerStatus
from tests.unit.engine.test_reconcile import TOPOLOGY, controller, node_state
from tests.unit.test_metrics import read
from tests.unit.test_metrics import writer as metrics_writer

REASON = "split-brain on tank: run carpswitch split-brain status"
SECONDARY = {"tank": HastRole.SECONDARY, "lun": HastRole.SECONDARY}


def marked(tmp_path, *names: str) -> None:
    for name in names:
        SplitBrainMarks(str(tmp_path / "db")).mark(name, "e1")


def by_group(decisions):
    return {d.group.name: d for d in decisions}


def test_decide_refuses_the_promotion_of_a_marked_group_only():
    marks = Marks(resources=frozenset({"tank"}))
    decisions = by_group(
        decide(TOPOLOGY, node_state(**SECONDARY), Circumstances(split_brain=marks))
    )
    storage, block = decisions["storage"], decisions["block"]
    assert (storage.action, storage.refused, storage.reason) == (
        None,
        TransitionKind.PROMOTE,
        REASON,
    )
    assert block.action is TransitionKind.PROMOTE  # the other group is not held back


def test_a_marked_group_that_is_primary_is_left_as_it_is():
    marks = Marks(resources=frozenset({"tank"}))
    decisions = by_group(decide(TOPOLOGY, node_state(), Circumstances(split_brain=marks)))
    assert decisions["storage"].action is None and decisions["storage"].refused is None
    assert decisions["storage"].reason == f"{REASON}; already primary, left as it is"


def test_a_marked_group_is_still_demoted_when_carp_says_backup():
    observed = node_state()
    observed.carp = [v.model_copy(update={"state": CarpState.BACKUP}) for v in observed.carp]
    marks = Marks(unreadable="broken")  # even every resource marked
    decisions = decide(TOPOLOGY, observed, Circumstances(split_brain=marks))
    assert [d.action for d in decisions] == [TransitionKind.DEMOTE, TransitionKind.DEMOTE]


def test_an_unreadable_marks_directory_refuses_every_group_promotion():
    marks = Marks(unreadable="state_dir/split-brain: a symbolic link (not followed)")
    decisions = decide(TOPOLOGY, node_state(**SECONDARY), Circumstances(split_brain=marks))
    assert [d.refused for d in decisions] == [TransitionKind.PROMOTE] * 2
    assert all("split-brain marks unreadable" in d.reason for d in decisions)


@pytest.mark.parametrize("boot", [False, True])
def test_reconcile_journals_the_refusal_once_and_runs_nothing(tmp_path, boot):
    made, context, _ = controller(tmp_path, [node_state(**SECONDARY)])
    context.observer = SimpleNamespace(hast=list)  # the boot wait: no peer connects
    marked(tmp_path, "tank")
    records = made.reconcile("timer", boot=boot)
    refused = [(r.group, r.kind, r.outcome, r.reason) for r in records if r.group == "storage"]
    assert refused[-1] == ("storage", TransitionKind.PROMOTE, TransitionOutcome.REFUSED, REASON)
    assert all(
        p.group.name != "storage" or p.kind is TransitionKind.DEMOTE for p in made.execute.plans
    )
    made.reconcile("timer")
    journaled = [r for r in made.journal.records() if r.outcome is TransitionOutcome.REFUSED]
    assert [r.reason for r in journaled] == [REASON]


def test_reconcile_with_an_unreadable_marks_directory_promotes_nothing(tmp_path):
    made, _, _ = controller(tmp_path, [node_state(**SECONDARY)])
    (tmp_path / "db").mkdir(mode=0o700)
    os.symlink("/nonexistent", tmp_path / "db" / MARKS_DIR)
    made.reconcile("timer")
    assert made.execute.plans == []


def test_once_cleared_the_group_is_promoted_again(tmp_path):
    made, _, _ = controller(tmp_path, [node_state(**SECONDARY)])
    marked(tmp_path, "tank")
    made.reconcile("timer")
    SplitBrainMarks(str(tmp_path / "db")).clear("tank")
    made.reconcile("timer")
    assert ("storage", TransitionKind.PROMOTE) in [
        (p.group.name, p.kind) for p in made.execute.plans
    ]


def test_an_admin_promote_is_refused_and_journaled_but_force_goes_ahead(tmp_path):
    made, _, _ = controller(tmp_path, [node_state(**SECONDARY)])
    marked(tmp_path, "tank")
    record, _ = made.transition(TransitionKind.PROMOTE)
    assert (record.group, record.outcome) == ("storage", TransitionOutcome.REFUSED)
    assert record.reason == f"{REASON}; or promote --force"
    assert made.journal.last_of("storage").reason == record.reason  # journaled
    assert [p.group.name for p in made.execute.plans] == ["block"]
    forced, _ = made.transition(TransitionKind.PROMOTE, force=True)
    assert (forced.group, forced.outcome) == ("storage", TransitionOutcome.SUCCEEDED)
    assert SplitBrainMarks(str(tmp_path / "db")).read().resources == {"tank"}  # it stays


def test_a_demotion_of_a_marked_group_is_never_refused(tmp_path):
    made, _, _ = controller(tmp_path, [node_state()])
    marked(tmp_path, "tank")
    record, _ = made.transition(TransitionKind.DEMOTE)
    assert (record.group, record.outcome) == ("storage", TransitionOutcome.SUCCEEDED)
    assert made.split_brain(TransitionKind.DEMOTE, TOPOLOGY.groups[0]) is None


def test_plan_lists_the_refusal_and_the_steps_force_would_run(tmp_path):
    made, _, _ = controller(tmp_path, [node_state(**SECONDARY)])
    marked(tmp_path, "tank")
    made.step_context = lambda topology: None
    _, plans, refusals = made.plans(TransitionKind.PROMOTE)
    assert refusals == [f"group storage: {REASON}"]
    assert [p.group.name for p in plans] == ["storage", "block"]


def test_status_says_why_a_marked_group_is_not_primary():
    ours = judge(
        TOPOLOGY,
        node_state(**SECONDARY),
        ControllerStatus(),
        Marks(resources=frozenset({"tank"})),
    )
    assert ours.reasons[0] == f"group storage: CARP MASTER but tank secondary: {REASON}"
    assert not any("split-brain" in line for line in ours.reasons[1:])


def test_the_gauge_is_1_for_a_marked_resource_and_0_for_the_others(tmp_path):
    metrics = metrics_writer(tmp_path)
    metrics.observed(TOPOLOGY, node_state())
    SplitBrainMarks(str(tmp_path / "state")).mark("tank", "e1")
    metrics.write()
    found = read(tmp_path)
    gauge = "carpswitch_hast_split_brain"
    assert found[(gauge, frozenset({("resource", "tank")}))] == 1
    assert found[(gauge, frozenset({("resource", "lun")}))] == 0


def test_refused_is_the_error_an_admin_sees_without_a_journal_record_too(tmp_path):
    made, _, _ = controller(tmp_path, [node_state(**SECONDARY)])
    marked(tmp_path, "tank")
    topology, state = made.observe()
    with pytest.raises(Refused, match="split-brain on tank"):
        made.plan(TransitionKind.PROMOTE, topology, state, topology.groups[0], force=False)
