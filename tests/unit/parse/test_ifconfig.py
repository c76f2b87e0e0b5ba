"""CARP lines of ifconfig output."""

import json
from pathlib import Path

import pytest

from carpswitch.errors import ParseError
from carpswitch.parse.ifconfig import parse_ifconfig_carp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ifconfig"
CASES = sorted(path.stem for path in FIXTURES.glob("*.txt"))

HEADER = (
    "vtnet0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n"
)
CARP = "\tcarp: MASTER vhid 1 advbase 1 advskew 0\n"
PEER = "\t      peer 224.0.0.18 peer6 ff02::12\n"
#: freebsd-interfaces.md §4.1, exactly.
DOC_SNIPPET = (
    "\tinet 192.168.1.50 netmask 0xffffffff broadcast 192.168.1.50 vhid 1\n"
    "\tcarp: MASTER vhid 1 advbase 1 advskew 0\n"
)


def test_fixture_directory_holds_cases():
    assert "vtnet0_freebsd14_master_with_peer" in CASES


@pytest.mark.parametrize("case", CASES)
def test_fixture_parses_to_its_json(case):
    vhids = parse_ifconfig_carp((FIXTURES / f"{case}.txt").read_text())
    expected = json.loads((FIXTURES / f"{case}.json").read_text())
    assert [vhid.model_dump(mode="json") for vhid in vhids] == expected


def test_lines_without_header_for_a_given_interface_raise():
    """ifconfig always prints the block header; indented lines alone are not its output."""
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(DOC_SNIPPET, interface="em0")
    assert "no interface header" in caught.value.reason


def test_lines_without_header_and_without_interface_raise():
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(DOC_SNIPPET)
    assert "no interface header" in caught.value.reason


def test_interface_argument_selects_one_block_of_plain_ifconfig():
    text = (FIXTURES / "all_interfaces_with_key_and_vrrp.txt").read_text()
    [vhid] = parse_ifconfig_carp(text, interface="vtnet1")
    assert (vhid.interface, vhid.vhid, vhid.advskew) == ("vtnet1", 7, 50)


def test_header_names_the_interface_even_when_an_argument_is_given():
    [vhid] = parse_ifconfig_carp(HEADER + CARP, interface="vtnet0")
    assert vhid.interface == "vtnet0"


def test_peer_line_belongs_to_the_carp_line_above_it():
    text = HEADER + CARP + PEER + CARP.replace("vhid 1", "vhid 2")
    first, second = parse_ifconfig_carp(text)
    assert (first.vhid, first.peer, first.peer6) == (1, "224.0.0.18", "ff02::12")
    assert (second.vhid, second.peer) == (2, None)


def test_printed_key_is_ignored():
    [vhid] = parse_ifconfig_carp(HEADER + CARP.replace("0\n", '0 key "a b"\n'))
    assert vhid.advskew == 0


@pytest.mark.parametrize("interface", [None, "vtnet0"])
def test_empty_output_is_not_a_reading(interface):
    """Review F1: an ifconfig exiting 0 with nothing printed must not read as "no vhid"."""
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp("", interface)
    assert "no interface header" in caught.value.reason


def test_output_without_the_requested_interface_block_raises():
    text = (FIXTURES / "interface_without_carp.txt").read_text()
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(text, interface="vtnet0")
    assert caught.value.source == "ifconfig vtnet0"
    assert "no block for interface vtnet0" in caught.value.reason


def test_a_block_without_the_vhid_is_a_reading_of_no_vhid():
    """The positive reading of "gone": the interface's own block, with no carp line."""
    assert parse_ifconfig_carp(HEADER + "\tinet 198.18.1.1 netmask 0xffffff00\n", "vtnet0") == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage\n", "no interface header"),
        ("\n", "no interface header"),
        (HEADER + "garbage\n", "neither an interface header nor indented"),
        (HEADER + "\n", "neither an interface header nor indented"),
        (HEADER + CARP[:-1], "ends mid-line"),
        (HEADER + CARP[:20], "ends mid-line"),
        (HEADER + CARP[:20] + "\n", "carp line not in the ifconfig format"),
        (HEADER + "    carp: MASTER vhid 1 advbase 1 advskew 0\n", "neither an interface header"),
        (HEADER + "\tcarp:\tMASTER vhid 1 advbase 1 advskew 0\n", "carp line not in the"),
        (HEADER + "\tcarp: MASTER vhid one advbase 1 advskew 0\n", "carp line not in the"),
        (HEADER + "\tcarp: MASTER vhid 1 advbase 1 advskew 0 extra\n", "carp line not in the"),
        (HEADER + "\tcarp: <UNKNOWN> vhid 1 advbase 1 advskew 0\n", "unknown CARP state"),
        (HEADER + "\tcarp: master vhid 1 advbase 1 advskew 0\n", "unknown CARP state"),
        (HEADER + "\tcarp: MASTER vhid 0 advbase 1 advskew 0\n", "vhid"),
        (HEADER + "\tcarp: MASTER vhid 256 advbase 1 advskew 0\n", "vhid"),
        (HEADER + "\tcarp: MASTER vhid 1 advbase 1 advskew 300\n", "advskew"),
        (HEADER + PEER, "peer line without a carp line"),
        (HEADER + CARP + PEER + PEER, "peer line without a carp line"),
        (HEADER + CARP + "\t      peer 224.0.0.18\n", "peer line not in the ifconfig format"),
        (CARP + HEADER, "line before the first interface header"),
    ],
)
def test_malformed_output_raises_parse_error_naming_ifconfig(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(text)
    assert caught.value.source == "ifconfig"
    assert "ifconfig" in str(caught.value)
    assert reason in caught.value.reason


@pytest.mark.parametrize("text", ["garbage\n", "\n", "\tcarp: MASTER\n"])
def test_garbage_for_a_given_interface_raises_parse_error(text):
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(text, interface="em0")
    assert caught.value.source == "ifconfig em0"


def test_error_with_interface_argument_names_the_command_line():
    with pytest.raises(ParseError) as caught:
        parse_ifconfig_carp(
            HEADER.replace("vtnet0", "em0") + "\tcarp: BOGUS vhid 1 advbase 1 advskew 0\n",
            interface="em0",
        )
    assert caught.value.source == "ifconfig em0"
    assert caught.value.line == 2
