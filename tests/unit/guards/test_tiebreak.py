"""Two primaries: exactly one side steps down, and both sides agree which."""

import itertools

import pytest

from carpswitch.guards.tiebreak import Side, steps_down


def test_the_older_term_steps_down_whatever_the_advskew():
    stale = Side("hasta", term=5, advskew=0)  # CARP's favourite, but it was frozen
    newer = Side("hastb", term=6, advskew=100)
    assert steps_down(stale, newer) == (True, "hasta's term 5 is older than hastb's 6")
    assert steps_down(newer, stale) == (False, "hasta's term 5 is older than hastb's 6")


def test_equal_terms_the_higher_advskew_steps_down():
    a, b = Side("hasta", 3, 0), Side("hastb", 3, 100)
    assert steps_down(b, a) == (True, "equal terms (3); hastb has the higher advskew")
    assert steps_down(a, b)[0] is False


def test_an_unknown_advskew_loses_to_any_known():
    a, b = Side("hasta", 3, 254), Side("hastb", 3, None)
    assert steps_down(b, a)[0] is True
    assert steps_down(a, b)[0] is False


def test_equal_everything_the_greater_name_steps_down():
    a, b = Side("hasta", 0, None), Side("hastb", 0, None)
    assert steps_down(b, a) == (True, "equal terms and advskew; hastb has the greater name")
    assert steps_down(a, b)[0] is False


TERMS = list(itertools.product((0, 1, 7), repeat=2))
SKEWS = list(itertools.product((0, 100, None), repeat=2))


@pytest.mark.parametrize(("terms", "skews"), list(itertools.product(TERMS, SKEWS)))
def test_never_both_and_never_none(terms, skews):
    a = Side("hasta", terms[0], skews[0])
    b = Side("hastb", terms[1], skews[1])
    down_a, why_a = steps_down(a, b)
    down_b, why_b = steps_down(b, a)
    assert down_a != down_b
    assert why_a == why_b
