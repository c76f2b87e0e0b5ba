"""decide() with the guards: they hold a promotion back or take a primary down, never
promote; with CARP BACKUP the usual demotion stands."""

import pytest

from carpswitch.engine.decide import Circumstances, decide
from carpswitch.guards.facts import GuardFacts, PeerFacts, WitnessFacts
from carpswitch.model import CarpState, HastRole, TransitionKind
from tests.unit.engine.test_decide import TOPOLOGY, only, state

SERVING = {"role": HastRole.PRIMARY, "device": True, "mounted": True, "ctld": True}
ANSWERS = WitnessFacts(("198.18.0.10",), {})
SILENT = WitnessFacts((), {"198.18.0.10": "no reply"}, lost_for=10.0)


def peer(role="secondary", term=0, advskew=100):
    return PeerFacts("198.18.0.2", "hastb", {"data": role}, {"storage": term}, {"storage": advskew})


def guards(witness=None, peer_facts=None, self_fence=False, grace=6.0, term=0):
    return Circumstances(
        guards=GuardFacts("hasta", witness, peer_facts, self_fence, grace, terms={"storage": term})
    )


def test_no_guards_configured_changes_nothing():
    assert only(decide(TOPOLOGY, state(), Circumstances(guards=None))).action is (
        TransitionKind.PROMOTE
    )


def test_a_witness_that_answers_and_a_secondary_peer_let_the_promotion_go():
    decision = only(decide(TOPOLOGY, state(), guards(ANSWERS, peer())))
    assert decision.action is TransitionKind.PROMOTE
    assert not decision.give_away


def test_no_witness_reachable_no_promotion_and_the_address_goes():
    decision = only(decide(TOPOLOGY, state(), guards(SILENT)))
    assert decision.action is TransitionKind.DEMOTE
    assert decision.give_away
    assert decision.reason == "no witness reachable (198.18.0.10: no reply): not promoting"


def test_a_peer_still_primary_vetoes_the_promotion():
    decision = only(decide(TOPOLOGY, state(), guards(ANSWERS, peer("primary"))))
    assert decision.action is None
    assert decision.refused is TransitionKind.PROMOTE
    assert decision.reason == (
        "peer still primary (hastb (198.18.0.2): data primary): not promoting"
    )


@pytest.mark.parametrize(
    "answer",
    [
        PeerFacts("198.18.0.2", problem="connection refused"),
        PeerFacts("198.18.0.2", "hastb", problem="its hastd cannot be read: timed out"),
        PeerFacts("198.18.0.2", "hastb", {"other": "primary"}),
        PeerFacts("198.18.0.2", "hastb", {"data": "init"}),
    ],
)
def test_a_peer_that_cannot_say_or_is_not_primary_here_does_not_veto(answer):
    assert only(decide(TOPOLOGY, state(), guards(peer_facts=answer))).action is (
        TransitionKind.PROMOTE
    )


def test_a_primary_without_witness_self_fences_after_the_grace_only_when_on():
    serving = state(**SERVING)
    on = only(decide(TOPOLOGY, serving, guards(SILENT, self_fence=True, grace=6.0)))
    assert on.action is TransitionKind.DEMOTE and on.give_away
    assert on.reason == "self-fencing: no witness reachable for 10 s (198.18.0.10: no reply)"
    early = WitnessFacts((), {"198.18.0.10": "no reply"}, lost_for=2.0)
    assert only(decide(TOPOLOGY, serving, guards(early, self_fence=True))).action is None
    assert only(decide(TOPOLOGY, serving, guards(SILENT, self_fence=False))).action is None


def test_two_primaries_the_older_term_steps_down_and_gives_the_address_away():
    decision = only(
        decide(TOPOLOGY, state(**SERVING), guards(ANSWERS, peer("primary", term=6), term=5))
    )
    assert decision.action is TransitionKind.DEMOTE and decision.give_away
    assert decision.reason == (
        "two primaries (hastb is primary for data too): stepping down, "
        "hasta's term 5 is older than hastb's 6"
    )


def test_two_primaries_the_newer_term_keeps_the_role():
    decision = only(
        decide(TOPOLOGY, state(**SERVING), guards(ANSWERS, peer("primary", term=5), term=6))
    )
    assert decision.action is None
    assert decision.reason.startswith("two primaries (hastb is primary for data too): keeping")


def test_a_winner_whose_promotion_was_cut_short_finishes_it():
    half = state(role=HastRole.PRIMARY, device=True)  # not mounted, ctld down
    decision = only(decide(TOPOLOGY, half, guards(ANSWERS, peer("primary", term=1), term=2)))
    assert decision.action is TransitionKind.PROMOTE


def test_a_loser_whose_promotion_was_cut_short_steps_down():
    half = state(role=HastRole.PRIMARY, device=True)
    decision = only(decide(TOPOLOGY, half, guards(ANSWERS, peer("primary", term=3), term=2)))
    assert decision.action is TransitionKind.DEMOTE and decision.give_away


@pytest.mark.parametrize("carp", [CarpState.BACKUP, CarpState.INIT])
def test_with_carp_backup_the_usual_demotion_stands(carp):
    decision = only(
        decide(TOPOLOGY, state(carp=carp, **SERVING), guards(SILENT, peer("primary"), True))
    )
    assert decision.action is TransitionKind.DEMOTE
    assert not decision.give_away
    assert decision.reason.startswith("CARP vhid 1 is")


def test_paused_and_unreadable_facts_come_before_the_guards():
    paused = Circumstances(paused=True, guards=guards(SILENT, self_fence=True).guards)
    assert only(decide(TOPOLOGY, state(**SERVING), paused)).action is None
    unread = state(unreadable={"hast": "timed out"})
    assert only(decide(TOPOLOGY, unread, guards(SILENT, self_fence=True))).unread
