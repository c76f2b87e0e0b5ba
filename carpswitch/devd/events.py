"""Parse devd(8) event lines and the arguments devd passes to the carpswitch hook.

The devd hook imports this module and must start in a few milliseconds: it uses only the
standard library and carpswitch.errors (no pydantic, no carpswitch.model), and NamedTuple
rather than dataclasses (whose import alone costs the hook ~8 ms).

Event text (sys/kern/subr_bus.c devctl_notify; sbin/devd/devd.cc process_event):
`!system=CARP subsystem=1@vtnet0 type=MASTER` for notifications, `+NAME at k=v ... on BUS`
for attach, `-NAME at ...` for detach and `? at ...` for nomatch. Variables are split the
way devd's chop_var/set_vars split them; see docs/freebsd/parsers.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from carpswitch.errors import ParseError

EVENT_SOURCE = "devd event"
HOOK_SOURCE = "devd hook arguments"

NOTIFY, ATTACH, DETACH, NOMATCH = "!", "+", "-", "?"
#: ip_carp.c carp_states, as sent in type=...
CARP_STATES = ("INIT", "BACKUP", "MASTER")
#: States the hook accepts on its command line (`carpswitch master|backup ARG`).
HOOK_STATES = ("MASTER", "BACKUP")
MAX_VHID = 255  # CARP_MAXVHID

_C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale
_KEY = re.compile(r"[A-Za-z0-9_-]*")  # devd.cc is_id_char
_VHID = re.compile(r"[0-9]{1,3}")
_INTERFACE = re.compile(r"[A-Za-z0-9_.]{1,15}")  # ifnet name, IFNAMSIZ 16 incl. NUL


class DevdEvent(NamedTuple):
    """One devd event: its kind (`!`, `+`, `-`, `?`) and the variables devd sets from it."""

    kind: str
    variables: dict[str, str]

    @property
    def system(self) -> str | None:
        """`system=` of a notification (e.g. CARP, IFNET)."""
        return self.variables.get("system")

    @property
    def subsystem(self) -> str | None:
        """`subsystem=` (for CARP: `VHID@INTERFACE`)."""
        return self.variables.get("subsystem")

    @property
    def type(self) -> str | None:
        """`type=` (for CARP: INIT, BACKUP or MASTER)."""
        return self.variables.get("type")


class CarpEvent(NamedTuple):
    """A CARP state change: vhid `vhid` on `interface` became `state` (upper case).

    `vhid` is None when the hook was called Handbook style with a bare interface name.
    """

    state: str
    interface: str
    vhid: int | None


def parse_devd_line(line: str) -> DevdEvent:
    """The event in one line read from devd's socket (trailing newlines are ignored)."""
    text = line.rstrip("\n")
    if not text:
        raise ParseError(EVENT_SOURCE, "empty event")
    if "\n" in text:
        raise ParseError(EVENT_SOURCE, f"more than one event in {line!r}")
    kind, body = text[0], text[1:]
    if kind == NOTIFY:
        variables, _ignored = _chop_vars(body)
        if not variables:
            raise ParseError(EVENT_SOURCE, f"no key=value pair in {text!r}")
        return DevdEvent(kind, variables)
    if kind in (ATTACH, DETACH, NOMATCH):
        return DevdEvent(kind, _device_vars(kind, body, text))
    raise ParseError(EVENT_SOURCE, f"unknown event kind {kind!r} (expected ! + - ?) in {text!r}")


def carp_event_from_devd(event: DevdEvent) -> CarpEvent | None:
    """The CARP state change an event reports; None for any other event."""
    if event.kind != NOTIFY or (event.system or "").upper() != "CARP":
        return None
    state = (event.type or "").upper()
    if state not in CARP_STATES:
        raise ParseError(EVENT_SOURCE, f"CARP event with unknown type {event.type!r}")
    if event.subsystem is None:
        raise ParseError(EVENT_SOURCE, "CARP event without subsystem=VHID@INTERFACE")
    vhid, interface = _vhid_at_interface(event.subsystem, EVENT_SOURCE)
    return CarpEvent(state=state, interface=interface, vhid=vhid)


def parse_hook_argv(argv: Sequence[str]) -> CarpEvent:
    """The event of `carpswitch master|backup VHID@IFACE|IFACE` (or `VHID@IFACE STATE`).

    devd expands `$subsystem` shell-quoted, so the arguments arrive unquoted.
    """
    args = list(argv)
    if len(args) != 2:
        raise ParseError(HOOK_SOURCE, f"expected STATE and VHID@INTERFACE, got {args!r}")
    first, second = args
    if first.upper() in HOOK_STATES:
        state, target = first.upper(), second
    elif second.upper() in HOOK_STATES:
        state, target = second.upper(), first
    else:
        raise ParseError(HOOK_SOURCE, f"expected a state master or backup in {args!r}")
    if target.upper() in CARP_STATES:
        raise ParseError(HOOK_SOURCE, f"two states and no interface in {args!r}")
    if "@" in target:
        vhid, interface = _vhid_at_interface(target, HOOK_SOURCE)
        return CarpEvent(state=state, interface=interface, vhid=vhid)
    return CarpEvent(state=state, interface=_interface(target, HOOK_SOURCE), vhid=None)


def _vhid_at_interface(text: str, source: str) -> tuple[int, str]:
    """`1@vtnet0` (ip_carp.c: "%u@%s") -> (1, "vtnet0")."""
    vhid_text, _at, interface = text.partition("@")
    if not _VHID.fullmatch(vhid_text) or not 1 <= int(vhid_text) <= MAX_VHID:
        raise ParseError(source, f"bad vhid in {text!r} (expected 1..{MAX_VHID}@INTERFACE)")
    return int(vhid_text), _interface(interface, source)


def _interface(name: str, source: str) -> str:
    if not _INTERFACE.fullmatch(name):
        raise ParseError(source, f"bad interface name {name!r} (letters, digits, _ . ; <= 15)")
    return name


def _device_vars(kind: str, body: str, text: str) -> dict[str, str]:
    """Variables of `+NAME at k=v ... on BUS` / `-NAME ...` / `? at k=v ... on BUS`."""
    device, space, rest = body.partition(" ")
    if not space:
        raise ParseError(EVENT_SOURCE, f"no space after the device name in {text!r}")
    rest = rest.lstrip(_C_SPACE)
    variables, rest = _chop_vars(rest.removeprefix("at "))
    if kind != NOMATCH:
        variables["device-name"] = device
    rest = rest.lstrip(_C_SPACE)
    if rest.startswith("on "):
        variables["bus"] = rest[3:]
    return variables


def _chop_vars(text: str) -> tuple[dict[str, str], str]:
    """devd's set_vars: consume `key=value` tokens; return them and the unparsed rest.

    A value is either a run of non-space characters or a double-quoted string in which
    `\\"` stands for `"`. Parsing stops at the first token that is not key=value, as devd's
    does (devd ignores the rest of the line).
    """
    variables: dict[str, str] = {}
    position = 0
    while position < len(text):
        key = _KEY.match(text, position)
        equals = key.end() if key else position
        name = text[position:equals]
        if equals >= len(text) or text[equals] != "=":
            break
        start = equals + 1
        if text.startswith('"', start):
            end = _closing_quote(text, start + 1)
            if end is None:
                break
            value, position = text[start + 1 : end], end + 1
        else:
            end = start
            while end < len(text) and text[end] not in _C_SPACE:
                end += 1
            value, position = text[start:end], end
        variables[name] = value.replace('\\"', '"')  # var_list::fix_value
        while position < len(text) and text[position] in _C_SPACE:
            position += 1
    return variables, text[position:]


def _closing_quote(text: str, position: int) -> int | None:
    while position < len(text) and text[position] != '"':
        position += 2 if text.startswith('\\"', position) else 1
    return position if position < len(text) else None
