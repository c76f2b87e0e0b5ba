"""sysctl -n NAME and sysctl NAME=VALUE output."""

import pytest

from carpswitch.errors import ParseError
from carpswitch.parse.sysctl import parse_sysctl_int, parse_sysctl_set

DEMOTION = "net.inet.carp.demotion"


@pytest.mark.parametrize(("text", "value"), [("0\n", 0), ("240\n", 240), ("-5\n", -5)])
def test_sysctl_n_prints_one_integer(text, value):
    assert parse_sysctl_int(text, DEMOTION) == value


def test_sysctl_set_prints_old_and_new_value():
    assert parse_sysctl_set(f"{DEMOTION}: 0 -> 240\n", DEMOTION) == (0, 240)


def test_sysctl_set_accepts_negative_values():
    assert parse_sysctl_set(f"{DEMOTION}: 240 -> -1\n", DEMOTION) == (240, -1)


@pytest.mark.parametrize(
    "text", ["", "\n", "0", "24", "zero\n", "0 1\n", " 0\n", "0\n\n", f"{DEMOTION}: 0\n", "0x10\n"]
)
def test_sysctl_n_rejects_anything_but_one_integer_line(text):
    with pytest.raises(ParseError) as caught:
        parse_sysctl_int(text, DEMOTION)
    assert caught.value.source == f"sysctl -n {DEMOTION}"
    assert DEMOTION in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage\n",
        f"{DEMOTION}: 0 -> 240",
        f"{DEMOTION}: 0 -> \n",
        f"{DEMOTION}: 0 ->\t240\n",
        f"{DEMOTION}:0 -> 240\n",
        "net.inet.carp.preempt: 0 -> 1\n",
        "netXinetXcarpXdemotion: 0 -> 1\n",
        "240\n",
        f"sysctl: unknown oid '{DEMOTION}'\n",
    ],
)
def test_sysctl_set_rejects_other_text(text):
    with pytest.raises(ParseError) as caught:
        parse_sysctl_set(text, DEMOTION)
    assert caught.value.source == f"sysctl {DEMOTION}"
    assert "sysctl" in str(caught.value)
