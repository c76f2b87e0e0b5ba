"""Parse the CARP lines of `ifconfig IFACE` / `ifconfig` output.

Formats from sbin/ifconfig/carp.c `carp_status` (see docs/freebsd/parsers.md): per vhid
`\\tcarp: STATE vhid N advbase N advskew N` (+ ` key "..."` with -k) and, since FreeBSD 14,
a second line `\\t      peer ADDR peer6 ADDR6`. Interface blocks start at column 0 with
`NAME: flags=...`; every other line is indented with a tab. Lines that are not CARP's
(inet, ether, media, nd6, vrrp, ...) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.model import CarpState, CarpVhid
from carpswitch.parse.lines import complete_lines

_HEADER = re.compile(r"(?P<interface>[^\s:]+): flags=\S")
_CARP = re.compile(
    r"\tcarp: (?P<state>\S+) vhid (?P<vhid>[0-9]+) advbase (?P<advbase>[0-9]+)"
    r" advskew (?P<advskew>[0-9]+)(?: key \"[^\n]*\")?"
)
_PEER = re.compile(r"\t      peer (?P<peer>\S+) peer6 (?P<peer6>\S+)")
_STATES: Mapping[str, CarpState] = {state.value: state for state in CarpState}


def parse_ifconfig_carp(text: str, interface: str | None = None) -> list[CarpVhid]:
    """Every CARP vhid in `text`, in output order.

    The interface of a vhid is the one named by its block header. With `interface` given,
    only that interface's vhids are returned. "No vhid" must be a positive reading: text
    without a block for `interface` (or, without `interface`, without any block: FreeBSD
    always prints lo0) is a ParseError, never an empty list — an empty or cut output from
    a lying ifconfig would otherwise read as "every vhid gone" and demote (review F1).
    """
    source = "ifconfig" if interface is None else f"ifconfig {interface}"
    lines = complete_lines(text, source)
    headers = {match["interface"] for line in lines if (match := _HEADER.match(line))}
    if not headers:
        raise ParseError(source, "no interface header (NAME: flags=...)")
    if interface is not None and interface not in headers:
        raise ParseError(source, f"no block for interface {interface} (NAME: flags=...)")
    current: str | None = None
    vhids: list[tuple[int, dict[str, Any]]] = []
    previous_was_carp = False
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            current = header["interface"]
        elif not line.startswith("\t"):
            raise ParseError(source, f"neither an interface header nor indented: {line!r}", number)
        elif current is None:
            raise ParseError(source, f"line before the first interface header: {line!r}", number)
        elif line.lstrip().startswith("carp:"):
            vhids.append((number, _carp_fields(source, line, number, current)))
            previous_was_carp = True
            continue
        elif line.lstrip().startswith("peer "):
            if not previous_was_carp:
                raise ParseError(
                    source, f"peer line without a carp line above it: {line!r}", number
                )
            vhids[-1][1].update(_peer_fields(source, line, number))
        previous_was_carp = False
    return [
        _vhid(source, number, fields)
        for number, fields in vhids
        if interface is None or fields["interface"] == interface
    ]


def _carp_fields(source: str, line: str, number: int, interface: str) -> dict[str, Any]:
    match = _CARP.fullmatch(line)
    if match is None:
        raise ParseError(source, f"carp line not in the ifconfig format: {line!r}", number)
    state = _STATES.get(match["state"])
    if state is None:
        raise ParseError(source, f"unknown CARP state {match['state']!r}", number)
    return {
        "interface": interface,
        "state": state,
        "vhid": int(match["vhid"]),
        "advbase": int(match["advbase"]),
        "advskew": int(match["advskew"]),
    }


def _peer_fields(source: str, line: str, number: int) -> dict[str, str]:
    match = _PEER.fullmatch(line)
    if match is None:
        raise ParseError(source, f"peer line not in the ifconfig format: {line!r}", number)
    return {"peer": match["peer"], "peer6": match["peer6"]}


def _vhid(source: str, number: int, fields: dict[str, Any]) -> CarpVhid:
    try:
        return CarpVhid(**fields)
    except ValidationError as exc:
        raise ParseError(source, str(exc), number) from exc
