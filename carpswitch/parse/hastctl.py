"""Parse `hastctl status` (terse table) and `hastctl list` (verbose form).

Both formats are printed by sbin/hastctl/hastctl.c (`control_status`, `control_list`);
docs/freebsd/parsers.md lists the exact printf formats. Every line hastctl prints ends
in a newline, so output that ends mid-line is reported as truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.model import (
    HastLocalErrors,
    HastQueues,
    HastReplication,
    HastResource,
    HastRole,
    HastStatistics,
    HastStatus,
)
from carpswitch.parse.lines import complete_lines

STATUS_SOURCE = "hastctl status"
LIST_SOURCE = "hastctl list"

#: printf("Name\tStatus\t Role\t\tComponents\n"), once, before the first resource.
STATUS_HEADER = "Name\tStatus\t Role\t\tComponents"
_STATUS_WIDTH = 9  # printf("%-9s", status or "-")
_ROLE_WIDTH = 15  # printf("%-15s", role)
_NO_STATUS = "-"

_ERROR_CODE = re.compile(r"-?[0-9]+")
_COUNT = re.compile(r"[0-9]+")
_HUMANIZED = re.compile(r"(?P<value>[0-9]+) \([0-9]+(?:\.[0-9])?[KMGTPE]?B\)")  # "%u (%NB)"
_LOCAL_ERRORS = re.compile(
    r"read: (?P<read>[0-9]+), write: (?P<write>[0-9]+), "
    r"delete: (?P<delete>[0-9]+), flush: (?P<flush>[0-9]+)"
)
_QUEUES = re.compile(
    r"local: (?P<local>[0-9]+), send: (?P<send>[0-9]+), recv: (?P<recv>[0-9]+), "
    r"done: (?P<done>[0-9]+), idle: (?P<idle>[0-9]+)"
)

_ROLES: Mapping[str, HastRole] = {role.value: role for role in HastRole}
_STATUSES: Mapping[str, HastStatus] = {status.value: status for status in HastStatus}
_REPLICATIONS: Mapping[str, HastReplication] = {mode.value: mode for mode in HastReplication}


def parse_hastctl_status(text: str) -> list[HastResource]:
    """Resources of the `hastctl status` table; [] when hastctl printed nothing."""
    lines = complete_lines(text, STATUS_SOURCE)
    if not lines:
        return []
    if lines[0] != STATUS_HEADER:
        raise ParseError(STATUS_SOURCE, f"expected header {STATUS_HEADER!r}, got {lines[0]!r}", 1)
    if len(lines) == 1:
        raise ParseError(STATUS_SOURCE, "header without any resource row (truncated?)", 1)
    return [_status_row(row, number) for number, row in enumerate(lines[1:], start=2)]


def parse_hastctl_list(text: str) -> list[HastResource]:
    """Resources of `hastctl list` (verbose form); [] when hastctl printed nothing."""
    lines = complete_lines(text, LIST_SOURCE)
    resources: list[HastResource] = []
    start = 0
    while start < len(lines):
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        resources.append(_list_block(lines[start:end], start + 1))
        start = end
    return resources


# --- hastctl role --------------------------------------------------------------------------

#: control_set_role: pjdlog_prefix_set("[%s] ", name); pjdlog_warning("Received error %d
#: from hastd.") for each resource hastd answered an error for (stderr, pjdlog STD mode).
_ROLE_ERROR = re.compile(
    r"\[WARNING\] \[(?P<name>[^]\s]+)\] Received error (?P<code>[0-9]+) from hastd\."
)


def parse_role_errors(stderr: str) -> dict[str, int]:
    """Per-resource errors of `hastctl role ROLE name...`: resource -> hastd's error code.

    hastd handles every name of the call and answers each (`error<N>`); hastctl reports
    the failed ones and exits with the first error. Lines of another shape are ignored:
    the caller attributes a failure it cannot find here to every resource of the call.
    """
    return {
        match["name"]: int(match["code"])
        for line in stderr.splitlines()
        if (match := _ROLE_ERROR.fullmatch(line.strip()))
    }


# --- hastctl status ------------------------------------------------------------------------


def _status_row(row: str, number: int) -> HastResource:
    name, tab, rest = row.partition("\t")
    if not tab or not _is_token(name):
        raise ParseError(STATUS_SOURCE, f"row does not start with NAME<TAB>: {row!r}", number)
    if rest.startswith("ERR"):
        return _error_resource(STATUS_SOURCE, name, rest[3:], number)
    fixed = _STATUS_WIDTH + _ROLE_WIDTH
    status_text = rest[:_STATUS_WIDTH].rstrip(" ")
    role_text = rest[_STATUS_WIDTH:fixed].rstrip(" ")
    padded = f"{status_text:<{_STATUS_WIDTH}}{role_text:<{_ROLE_WIDTH}}"
    if rest[:fixed] != padded or not _is_token(status_text) or not _is_token(role_text):
        raise ParseError(
            STATUS_SOURCE, f"status and role are not in 9 + 15 columns: {row!r}", number
        )
    local_path, tab, remote_address = rest[fixed:].partition("\t")
    if not tab or not _is_token(local_path) or not _is_token(remote_address):
        raise ParseError(STATUS_SOURCE, f"expected LOCALPATH<TAB>REMOTEADDR in {row!r}", number)
    try:
        status = None if status_text == _NO_STATUS else _lookup(_STATUSES, status_text, "status")
        role = _lookup(_ROLES, role_text, "role")
    except ValueError as exc:
        raise ParseError(STATUS_SOURCE, f"{name}: {exc}", number) from exc
    return _resource(
        STATUS_SOURCE,
        number,
        name=name,
        status=status,
        role=role,
        local_path=local_path,
        remote_address=remote_address,
    )


# --- hastctl list --------------------------------------------------------------------------

#: One `key: value` line of a resource block: its key as printed (with indentation), whether
#: every hastctl version prints it, and how its value becomes model fields.
_Field = tuple[str, bool, Callable[[str], Mapping[str, Any]]]


def _text(field: str) -> Callable[[str], Mapping[str, Any]]:
    def convert(value: str) -> Mapping[str, Any]:
        if not _is_token(value):
            raise ValueError(f"expected one word, got {value!r}")
        return {field: value}

    return convert


def _enum(field: str, values: Mapping[str, Any]) -> Callable[[str], Mapping[str, Any]]:
    return lambda value: {field: _lookup(values, value, field)}


def _count(field: str) -> Callable[[str], Mapping[str, Any]]:
    return lambda value: {field: _integer(_COUNT, value)}


def _humanized(field: str) -> Callable[[str], Mapping[str, Any]]:
    return lambda value: {field: int(_matched(_HUMANIZED, value)["value"])}


def _empty(value: str) -> Mapping[str, Any]:
    if value:
        raise ValueError(f"expected nothing after the colon, got {value!r}")
    return {}


def _counters(field: str, pattern: re.Pattern[str]) -> Callable[[str], Mapping[str, Any]]:
    return lambda value: {field: {k: int(v) for k, v in _matched(pattern, value).items()}}


_STATISTICS = ("reads", "writes", "deletes", "flushes", "activemap_updates")

_LIST_FIELDS: tuple[_Field, ...] = (
    ("  role", True, _enum("role", _ROLES)),
    ("  provname", True, _text("provider_name")),
    ("  localpath", True, _text("local_path")),
    ("  extentsize", True, _humanized("extent_size")),
    ("  keepdirty", True, _count("keepdirty")),
    ("  remoteaddr", True, _text("remote_address")),
    ("  sourceaddr", False, _text("source_address")),
    ("  replication", True, _enum("replication", _REPLICATIONS)),
    ("  status", False, _enum("status", _STATUSES)),
    ("  workerpid", False, _count("worker_pid")),
    ("  dirty", True, _humanized("dirty")),
    ("  statistics", True, _empty),
    ("    reads", True, _count("reads")),
    ("    writes", True, _count("writes")),
    ("    deletes", True, _count("deletes")),
    ("    flushes", True, _count("flushes")),
    ("    activemap updates", True, _count("activemap_updates")),
    ("    local errors", False, _counters("local_errors", _LOCAL_ERRORS)),  # since 2013
    ("    queues", False, _counters("queues", _QUEUES)),  # since 2013
)


def _list_block(block: list[str], first: int) -> HastResource:
    header = block[0]
    name = header[:-1]
    if not header.endswith(":") or not _is_token(name):
        raise ParseError(LIST_SOURCE, f"expected a resource header NAME:, got {header!r}", first)
    body = block[1:]
    if len(body) == 1 and body[0].startswith("  error: "):
        return _error_resource(LIST_SOURCE, name, body[0].removeprefix("  error: "), first + 1)
    fields: dict[str, Any] = {"name": name}
    expected = iter(_LIST_FIELDS)
    for number, line in enumerate(body, start=first + 1):
        key, value = _key_value(line)
        convert = _next_field(expected, key, line, number)
        try:
            fields.update(convert(value))
        except ValueError as exc:
            raise ParseError(LIST_SOURCE, f"{key.strip()}: {exc}", number) from exc
    missing = [key.strip() for key, required, _ in expected if required]
    if missing:
        where = first + len(body)
        raise ParseError(LIST_SOURCE, f"{name}: missing {', '.join(missing)} (truncated?)", where)
    statistics = {
        key: fields.pop(key) for key in (*_STATISTICS, "local_errors", "queues") if key in fields
    }
    return _resource(LIST_SOURCE, first, statistics=_statistics(statistics, first), **fields)


def _next_field(
    expected: Iterator[_Field], key: str, line: str, number: int
) -> Callable[[str], Mapping[str, Any]]:
    """The converter for `key`, skipping the optional fields hastctl did not print."""
    for wanted, required, convert in expected:
        if wanted == key:
            return convert
        if required:
            raise ParseError(LIST_SOURCE, f"expected {wanted.strip()!r}, got {line!r}", number)
    raise ParseError(LIST_SOURCE, f"unexpected line {line!r}", number)


def _statistics(values: dict[str, Any], number: int) -> HastStatistics:
    try:
        local_errors = values.pop("local_errors", None)
        queues = values.pop("queues", None)
        return HastStatistics(
            **values,
            local_errors=None if local_errors is None else HastLocalErrors(**local_errors),
            queues=None if queues is None else HastQueues(**queues),
        )
    except ValidationError as exc:
        raise ParseError(LIST_SOURCE, f"statistics: {exc}", number) from exc


def _key_value(line: str) -> tuple[str, str]:
    """`  key: value` -> (`  key`, `value`); a bare `  key:` has an empty value."""
    if line.endswith(":") and ": " not in line:
        return line[:-1], ""
    key, separator, value = line.partition(": ")
    return (key, value) if separator else (line, "")


# --- shared --------------------------------------------------------------------------------


def _error_resource(source: str, name: str, code_text: str, number: int) -> HastResource:
    if not _ERROR_CODE.fullmatch(code_text) or int(code_text) == 0:
        raise ParseError(source, f"{name}: bad per-resource error code {code_text!r}", number)
    return _resource(source, number, name=name, error=int(code_text))


def _resource(source: str, number: int, **fields: Any) -> HastResource:
    try:
        return HastResource(**fields)
    except ValidationError as exc:
        raise ParseError(source, str(exc), number) from exc


def _is_token(text: str) -> bool:
    """hastctl prints names, paths and addresses as single words (hast.conf STR tokens)."""
    return bool(text) and not any(char.isspace() for char in text)


def _lookup(values: Mapping[str, Any], text: str, what: str) -> Any:
    if text not in values:
        raise ValueError(f"unknown {what} {text!r} (expected one of {', '.join(values)})")
    return values[text]


def _integer(pattern: re.Pattern[str], text: str) -> int:
    if not pattern.fullmatch(text):
        raise ValueError(f"expected a number, got {text!r}")
    return int(text)


def _matched(pattern: re.Pattern[str], text: str) -> dict[str, str]:
    match = pattern.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} does not match {pattern.pattern!r}")
    return match.groupdict()
