"""`status`: the state in one word, why a node that could be primary is not, the JSON."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from carpswitch.commands.status import settling
from carpswitch.engine.running import GroupLast
from carpswitch.intake.lockfile import INTAKE_LOCK_NAME
from carpswitch.intake.settling import SettlingFile
from carpswitch.model import (
    CarpState,
    CarpVhid,
    HastResource,
    HastRole,
    NodeState,
    StepOutcome,
    StepRecord,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.report import ControllerStatus, status_document, status_text
from carpswitch.standing import Standing, not_primary_reasons, standing
from carpswitch.topology import Group, Resource, Topology

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TANK = Resource(
    name="tank",
    kind="raw",
    provider_name="tank",
    device="/dev/hast/tank",
    local_path="/dev/ada1",
    remote_address="hastb",
)
GROUP = Group(name="storage", vhid=1, interface="vtnet0", resources=("tank",))
TOPOLOGY = Topology(node_names=("hasta",), resources={"tank": TANK}, groups=(GROUP,))


def node(carp: CarpState = CarpState.MASTER, role: HastRole = HastRole.SECONDARY) -> NodeState:
    return NodeState(
        node="hasta",
        observed_at=T0,
        carp=[CarpVhid(interface="vtnet0", vhid=1, state=carp, advbase=1, advskew=0)],
        resources=[HastResource(name="tank", role=role, dirty=0)],
    )


def release_timed_out() -> StepResult:
    return StepResult(
        step=StepRecord(kind="wait_release", description="wait for the peer", timeout=30),
        outcome=StepOutcome.TIMED_OUT,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=30),
        detail="release wait timed out after 30 s",
    )


def record(
    kind: TransitionKind = TransitionKind.PROMOTE,
    outcome: TransitionOutcome = TransitionOutcome.FAILED,
    steps: tuple[StepResult, ...] = (),
    ended: bool = True,
) -> TransitionRecord:
    return TransitionRecord(
        id="a1b2c3d4e5f6",
        kind=kind,
        group="storage",
        trigger="admin",
        reason=f"{kind} requested by admin",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=31.5) if ended else None,
        outcome=outcome,
        steps=list(steps),
    )


def last_of(rec: TransitionRecord) -> dict[str, GroupLast]:
    return {
        rec.group: GroupLast(
            id=rec.id,
            kind=rec.kind,
            outcome=rec.outcome,
            reason=rec.reason,
            started_at=rec.started_at,
        )
    }


@pytest.mark.parametrize(
    ("facts", "word"),
    [
        ({}, Standing.IDLE),
        ({"settling": True}, Standing.SETTLING),
        ({"last": record()}, Standing.FAILED),
        ({"last": record(outcome=TransitionOutcome.SUCCEEDED)}, Standing.IDLE),
        ({"last": record(outcome=TransitionOutcome.INTERRUPTED)}, Standing.FAILED),
        ({"last": record(outcome=TransitionOutcome.REFUSED)}, Standing.IDLE),
        ({"last": record(), "settling": True}, Standing.SETTLING),
        ({"last": record(), "held": True, "settling": True}, Standing.HELD),
        ({"held": True, "paused": ""}, Standing.PAUSED),
        ({"paused": "x", "running": [record(ended=False)]}, Standing.PROMOTING),
        ({"running": [record(TransitionKind.DEMOTE, ended=False)]}, Standing.DEMOTING),
    ],
)
def test_the_first_word_that_holds(facts, word):
    assert standing(ControllerStatus(**facts)) is word


def reasons(state: NodeState | None = None, topology: Topology = TOPOLOGY, **facts) -> list[str]:
    return not_primary_reasons(topology, state or node(), ControllerStatus(**facts))


def test_no_reason_where_the_node_cannot_or_already_is_primary():
    assert reasons(node(carp=CarpState.BACKUP)) == []
    assert reasons(node(role=HastRole.PRIMARY)) == []


def test_held_says_the_recorded_failure_and_what_to_run():
    failed = record(steps=(release_timed_out(),))
    (line,) = reasons(held=True, failures=3, last=failed, group_last=last_of(failed))
    assert line == (
        "group storage: CARP MASTER but tank secondary: 3 failed promotions, the last: "
        "release wait timed out after 30 s: run `carpswitch clear`"
    )
    (noted,) = reasons(held=True, held_because="failover.json is unreadable (empty)")
    assert noted.endswith("held: failover.json is unreadable (empty): run `carpswitch clear`")


def test_each_cause_in_its_order():
    failed = record(steps=(release_timed_out(),))
    assert reasons(paused="2026 upgrade", held=True)[0].endswith(
        "paused (2026 upgrade): run `carpswitch resume`"
    )
    broken = TOPOLOGY.model_copy(
        update={"group_problems": {"storage": ("tank is not in hast.conf",)}}
    )
    assert reasons(topology=broken, last=failed)[0].endswith(
        "configuration: tank is not in hast.conf: run `carpswitch check`"
    )
    assert reasons(vetoes={"storage": ["peer still primary"]})[0].endswith(": peer still primary")
    assert reasons(settling=True)[0].endswith("events wait out [intake] settle")
    assert reasons(last=failed, group_last=last_of(failed))[0].endswith(
        "the last promotion failed (release wait timed out after 30 s): "
        "see `carpswitch history a1b2c3d4e5f6`"
    )
    refused = record(outcome=TransitionOutcome.REFUSED)
    assert (
        "the last promote was refused: promote requested" in reasons(group_last=last_of(refused))[0]
    )
    assert "no transition recorded yet" in reasons()[0]
    assert reasons(running=[record(ended=False)])[0].endswith("a transition is running")


def test_an_unreadable_role_is_said_so():
    state = node().model_copy(update={"resources": [HastResource(name="tank", error=2)]})
    assert "CARP MASTER but tank unreadable:" in reasons(state)[0]


def test_status_text_begins_with_the_word_then_reasons_and_the_last_transition():
    failed = record(steps=(release_timed_out(),))
    ours = ControllerStatus(last=failed, state="failed", reasons=["group storage: why"])
    lines = status_text(TOPOLOGY, node(), ours).splitlines()
    assert lines[:3] == [
        "failed",
        "  not primary: group storage: why",
        "  last transition: promote storage failed in 31.50s (`carpswitch history a1b2c3d4e5f6`)",
    ]
    assert lines[4].startswith("node hasta (observed ")


def test_status_json_carries_the_same_fields():
    ours = ControllerStatus(last=record(), state="failed", reasons=["group storage: why"])
    document = status_document(TOPOLOGY, node(), ours)
    assert document["state"] == "failed"
    assert document["reasons"] == ["group storage: why"]
    assert document["last_transition"] == {
        "id": "a1b2c3d4e5f6",
        "kind": "promote",
        "outcome": "failed",
        "duration": 31.5,
    }
    assert "state" not in document["carpswitch"]  # once, at the top
    running = ControllerStatus(last=record(ended=False))
    assert status_document(TOPOLOGY, node(), running)["last_transition"]["duration"] is None


def test_settling_is_seen_only_while_a_daemon_holds_the_events(tmp_path):
    run_dir = str(tmp_path)
    daemon = SettlingFile(run_dir)
    daemon.events_came()
    assert not settling(run_dir)  # no live daemon: a file a dead one left
    (tmp_path / INTAKE_LOCK_NAME).write_text(f"{os.getpid()} daemon\n")
    assert settling(run_dir)
    daemon.round_begins()
    assert not settling(run_dir)
    (tmp_path / "garbage").write_text("")
    (tmp_path / "settling").write_text("not a time")
    assert not settling(run_dir)  # unreadable: nothing said to wait
