"""devd event lines and the devd hook's arguments."""

import subprocess
import sys
from pathlib import Path

import pytest

from carpswitch.devd.events import (
    CarpEvent,
    DevdEvent,
    carp_event_from_devd,
    parse_devd_line,
    parse_hook_argv,
)
from carpswitch.errors import ParseError

# --- parse_devd_line -----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["MASTER", "BACKUP", "INIT"])
def test_kernel_carp_notification_sets_system_subsystem_and_type(state):
    event = parse_devd_line(f"!system=CARP subsystem=1@em0 type={state}\n")
    assert event.kind == "!"
    assert (event.system, event.subsystem, event.type) == ("CARP", "1@em0", state)
    assert event.variables == {"system": "CARP", "subsystem": "1@em0", "type": state}


def test_trailing_newlines_are_ignored_like_devd_does():
    assert parse_devd_line("!system=IFNET subsystem=em0 type=LINK_UP\n\n").type == "LINK_UP"
    assert parse_devd_line("!system=IFNET subsystem=em0 type=LINK_UP").type == "LINK_UP"


def test_quoted_values_may_hold_spaces_and_escaped_quotes():
    event = parse_devd_line('!system=USER subsystem=x type=y msg="a \\"b\\" c" n=1\n')
    assert event.variables["msg"] == 'a "b" c'
    assert event.variables["n"] == "1"


def test_quoted_value_may_be_followed_directly_by_the_next_pair():
    assert parse_devd_line('!a="x"b=2').variables == {"a": "x", "b": "2"}


def test_escaped_quote_in_an_unquoted_value_loses_its_backslash():
    assert parse_devd_line('!a=x\\"y').variables == {"a": 'x"y'}


def test_keys_may_hold_dashes_and_later_keys_win():
    assert parse_devd_line("!cdev-name=ada0 a=1 a=2").variables == {"cdev-name": "ada0", "a": "2"}


def test_text_after_the_last_key_value_pair_is_ignored_like_devd_does():
    event = parse_devd_line("!system=CARP subsystem=1@em0 type=MASTER trailing words\n")
    assert event.variables == {"system": "CARP", "subsystem": "1@em0", "type": "MASTER"}


def test_unterminated_quote_ends_the_variables():
    assert parse_devd_line('!system=X msg="open end').variables == {"system": "X"}


def test_attach_event_sets_device_name_location_and_bus():
    event = parse_devd_line('+uhub0 at bus=0 sernum="" on usbus0\n')
    assert event.kind == "+"
    assert event.variables == {"device-name": "uhub0", "bus": "usbus0", "sernum": ""}
    assert event.system is None


def test_detach_event_sets_device_name():
    event = parse_devd_line("-da0 at port=1 on umass-sim0")
    assert (event.kind, event.variables["device-name"]) == ("-", "da0")


def test_nomatch_event_has_no_device_name():
    event = parse_devd_line("? at slot=2 function=0 vendor=0x8086 on pci0\n")
    assert event.kind == "?"
    assert event.variables == {"slot": "2", "function": "0", "vendor": "0x8086", "bus": "pci0"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty event"),
        ("\n", "empty event"),
        ("system=CARP subsystem=1@em0 type=MASTER", "unknown event kind"),
        ("#system=CARP", "unknown event kind"),
        ("!", "no key=value pair"),
        ("!garbage", "no key=value pair"),
        ("! system=CARP", "no key=value pair"),
        ("!system=CARP\n!system=CARP\n", "more than one event"),
        ("+uhub0", "no space after the device name"),
    ],
)
def test_malformed_event_raises_parse_error_naming_devd(line, reason):
    with pytest.raises(ParseError) as caught:
        parse_devd_line(line)
    assert caught.value.source == "devd event"
    assert "devd event" in str(caught.value)
    assert reason in caught.value.reason


# --- carp_event_from_devd ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("!system=CARP subsystem=1@em0 type=MASTER\n", CarpEvent("MASTER", "em0", 1)),
        ("!system=CARP subsystem=255@vtnet0 type=BACKUP\n", CarpEvent("BACKUP", "vtnet0", 255)),
        ("!system=CARP subsystem=3@lagg0.100 type=INIT\n", CarpEvent("INIT", "lagg0.100", 3)),
        ("!system=carp subsystem=1@em0 type=master\n", CarpEvent("MASTER", "em0", 1)),
    ],
)
def test_carp_notification_becomes_a_carp_event(line, expected):
    assert carp_event_from_devd(parse_devd_line(line)) == expected


@pytest.mark.parametrize(
    "line",
    [
        "!system=IFNET subsystem=em0 type=LINK_UP\n",
        "!system=DEVFS subsystem=CDEV type=CREATE cdev=hast/shared\n",
        "+carp0 at on nexus0\n",
        "!subsystem=1@em0 type=MASTER\n",
    ],
)
def test_other_events_are_not_carp_events(line):
    assert carp_event_from_devd(parse_devd_line(line)) is None


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"system": "CARP", "subsystem": "1@em0", "type": "LINK_UP"}, "unknown type"),
        ({"system": "CARP", "subsystem": "1@em0"}, "unknown type"),
        ({"system": "CARP", "type": "MASTER"}, "without subsystem"),
        ({"system": "CARP", "subsystem": "em0", "type": "MASTER"}, "bad vhid"),
        ({"system": "CARP", "subsystem": "0@em0", "type": "MASTER"}, "bad vhid"),
        ({"system": "CARP", "subsystem": "256@em0", "type": "MASTER"}, "bad vhid"),
        ({"system": "CARP", "subsystem": "1@", "type": "MASTER"}, "bad interface"),
        ({"system": "CARP", "subsystem": "1@em0@x", "type": "MASTER"}, "bad interface"),
    ],
)
def test_malformed_carp_notification_raises_parse_error(variables, reason):
    with pytest.raises(ParseError) as caught:
        carp_event_from_devd(DevdEvent("!", variables))
    assert caught.value.source == "devd event"
    assert reason in caught.value.reason


# --- parse_hook_argv -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["master", "1@vtnet0"], CarpEvent("MASTER", "vtnet0", 1)),
        (["BACKUP", "12@em0"], CarpEvent("BACKUP", "em0", 12)),
        (["Master", "vtnet0"], CarpEvent("MASTER", "vtnet0", None)),
        (["backup", "carp0"], CarpEvent("BACKUP", "carp0", None)),
        (["1@vtnet0", "MASTER"], CarpEvent("MASTER", "vtnet0", 1)),
        (["255@em0.42", "BACKUP"], CarpEvent("BACKUP", "em0.42", 255)),
        (["master", "a_very_long_nm0"], CarpEvent("MASTER", "a_very_long_nm0", None)),
    ],
)
def test_hook_arguments_become_a_carp_event(argv, expected):
    assert parse_hook_argv(argv) == expected


def test_hook_accepts_a_tuple_of_arguments():
    assert parse_hook_argv(("master", "1@em0")).vhid == 1


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ([], "expected STATE and VHID@INTERFACE"),
        (["master"], "expected STATE and VHID@INTERFACE"),
        (["master", "1@em0", "extra"], "expected STATE and VHID@INTERFACE"),
        (["init", "1@em0"], "expected a state master or backup"),
        (["1@em0", "INIT"], "expected a state master or backup"),
        (["slave", "em0"], "expected a state master or backup"),
        (["master", "backup"], "two states"),
        (["master", "init"], "two states"),
        (["master", "0@em0"], "bad vhid"),
        (["master", "256@em0"], "bad vhid"),
        (["master", "1000@em0"], "bad vhid"),
        (["master", "x@em0"], "bad vhid"),
        (["master", "@em0"], "bad vhid"),
        (["master", " 1@em0"], "bad vhid"),
        (["master", "1@"], "bad interface"),
        (["master", "1@em 0"], "bad interface"),
        (["master", "1@em0;reboot"], "bad interface"),
        (["master", "$'1@em0'"], "bad vhid"),
        (["master", ""], "bad interface"),
        (["master", "em0/"], "bad interface"),
        (["master", "a_very_long_nam0"], "bad interface"),
    ],
)
def test_bad_hook_arguments_raise_parse_error_naming_the_hook(argv, reason):
    with pytest.raises(ParseError) as caught:
        parse_hook_argv(argv)
    assert caught.value.source == "devd hook arguments"
    assert "devd hook arguments" in str(caught.value)
    assert reason in caught.value.reason


def test_module_imports_neither_pydantic_nor_the_models():
    code = (
        "import sys, carpswitch.devd.events; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'sh') "
        "or m == 'carpswitch.model'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.stdout.strip() == "[]"
