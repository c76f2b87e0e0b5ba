"""Which side holds the acknowledged data, hastd's standing reports, the peer's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carpswitch.errors import CarpswitchError
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.recovery.facts import last_promotion, reported
from carpswitch.recovery.verdict import check_facts, holder, to_run

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def facts(node: str, ended: datetime | None) -> dict[str, object]:
    last = None if ended is None else {"id": "x", "group": "g", "ended_at": ended.isoformat()}
    return {"node": node, "resources": {"tank": {"last_promotion": last}}}


def record(outcome: TransitionOutcome, ended: datetime, group: str = "g", kind=None):
    return TransitionRecord(
        id=f"{outcome}-{ended:%H%M}",
        kind=kind or TransitionKind.PROMOTE,
        group=group,
        trigger="t",
        reason="r",
        started_at=ended,
        ended_at=ended,
        outcome=outcome,
    )


def test_the_side_promoted_later_holds_the_acknowledged_data():
    verdict = holder(facts("hasta", T0), facts("hastb", T0 + timedelta(minutes=5)), "tank")
    assert verdict.node == "hastb"
    assert "hastb was primary last" in verdict.reason and "03:05:00" in verdict.reason


def test_only_one_side_promoted_is_that_side():
    assert holder(facts("hasta", T0), facts("hastb", None), "tank").node == "hasta"
    assert holder(facts("hasta", None), facts("hastb", T0), "tank").node == "hastb"


def test_neither_promoted_is_unknown():
    verdict = holder(facts("hasta", None), facts("hastb", None), "tank")
    assert verdict.node is None and "neither journal" in verdict.reason


def test_promotions_too_close_for_the_clocks_are_unknown():
    verdict = holder(facts("hasta", T0), facts("hastb", T0 + timedelta(seconds=1)), "tank")
    assert verdict.node is None and "within 2 s" in verdict.reason


def test_a_garbled_end_time_counts_as_no_promotion():
    peer = {"node": "hastb", "resources": {"tank": {"last_promotion": {"ended_at": "soon"}}}}
    assert holder(facts("hasta", T0), peer, "tank").node == "hasta"


def test_last_promotion_is_the_latest_succeeded_promotion_of_the_group():
    records = [
        record(TransitionOutcome.SUCCEEDED, T0),
        record(TransitionOutcome.SUCCEEDED, T0 + timedelta(hours=1), group="other"),
        record(TransitionOutcome.FAILED, T0 + timedelta(hours=2)),
        record(TransitionOutcome.NOOP, T0 + timedelta(hours=3)),
        record(TransitionOutcome.SUCCEEDED, T0 + timedelta(hours=4), kind=TransitionKind.DEMOTE),
        record(TransitionOutcome.SUCCEEDED, T0 + timedelta(minutes=30)),
    ]
    last = last_promotion(records, {"g"})
    assert last == {
        "id": "succeeded-0330",
        "group": "g",
        "ended_at": (T0 + timedelta(minutes=30)).isoformat(),
    }
    assert last_promotion(records, {"nothing"}) is None


def test_a_split_brain_report_stands_until_the_pair_connects_or_synchronises():
    events = [
        ("tank", "split-brain", "t1"),
        ("tank", "split-brain", "t2"),
        ("disk", "split-brain", "t3"),
        ("disk", "connect", "t4"),
        ("mail", "split-brain", "t5"),
        ("mail", "syncdone", "t6"),
        ("mail", "split-brain", "t7"),
        ("tank", "disconnect", "t8"),
    ]
    assert reported(events) == {"tank": "t2", "mail": "t7"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("garbage", "not an answer of carpswitch split-brain facts"),
        ({"node": "hastb"}, "not an answer"),
        ({"node": "hastb", "resources": {"tank": 3}}, "of another shape"),
        ({"node": "hastb", "resources": {"tank": {"role": "boss"}}}, "of another shape"),
        ({"node": "hastb", "resources": {"tank": {"groups": "storage"}}}, "of another shape"),
        ({"node": "hastb", "resources": {"tank": {"last_promotion": 7}}}, "of another shape"),
        ({"node": "hasta", "resources": {}}, "answered as node hasta, expected hastb"),
    ],
)
def test_an_answer_that_is_not_the_peers_facts_is_refused(answer, expected):
    with pytest.raises(CarpswitchError, match=expected):
        check_facts(answer, "hastb")


def test_what_to_run_follows_the_holder():
    assert to_run("tank", "hasta", "hastb", "hasta") == [
        "carpswitch split-brain resolve tank --keep-this"
    ]
    assert to_run("tank", "hasta", "hastb", "hastb") == [
        "carpswitch split-brain resolve tank --discard-this"
    ]
    unknown = to_run("tank", "hasta", "hastb", None)
    assert len(unknown) == 2 and all("--force" in line for line in unknown)
