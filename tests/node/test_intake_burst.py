"""A burst of 200 CARP events through the devd hook: one worker at a time, few transitions."""

from __future__ import annotations

import pytest

from carpswitch.model import TransitionOutcome
from tests.node.test_intake_helpers import IntakeNode, assert_never_overlapping

BURST = 200


@pytest.mark.parametrize(
    ("first", "last", "role"), [("BACKUP", "MASTER", "primary"), ("MASTER", "BACKUP", "secondary")]
)
def test_200_alternating_events_end_in_the_state_carp_shows_last(make_lab_node, first, last, role):
    intake = IntakeNode(make_lab_node(carp_state="INIT"), settle=0.5)
    other = {"MASTER": "BACKUP", "BACKUP": "MASTER"}
    state = first
    for _ in range(BURST):
        intake.carp_event(state)
        state = other[state]
    assert intake.node.carp()[0].state == last
    intake.wait_quiet()
    assert intake.role() == role
    records = intake.journal()
    assert records, "nothing ran"
    assert len(records) <= 10, [r.trigger for r in records]  # far fewer than 200 events
    assert_never_overlapping(records)
    assert all(r.outcome is TransitionOutcome.SUCCEEDED for r in records)
    assert records[-1].kind == ("promote" if last == "MASTER" else "demote")
    assert "coalesced" in " ".join(r.trigger for r in records)


def test_events_flapping_past_the_limit_take_the_safe_side_first(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="INIT"), settle=0.5, flap_limit=1.5)
    intake.node.set_carp("MASTER")  # what ifconfig shows whenever the worker looks
    state = "MASTER"
    for _ in range(60):  # ~4 s of events: well past flap_limit
        intake.hook(state)
        state = "BACKUP" if state == "MASTER" else "MASTER"
    intake.wait_quiet()
    records = intake.journal()
    assert records[0].kind == "demote"
    assert records[0].reason == "CARP keeps flapping: taking the safe side (BACKUP)"
    assert records[-1].kind == "promote"  # once quiet, CARP MASTER wins
    assert intake.role() == "primary"
    assert_never_overlapping(records)
