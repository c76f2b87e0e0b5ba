"""The peer view on the wire: one JSON line, checked field by field (pure).

A node asks its peer's daemon what the peer is before promoting (issue 12). The answer is
believed only when every field has the shape version 1 promises: a reply that is
malformed in any way is an unreachable peer, never a view the guards act on. Keys a newer
peer adds are ignored (a changed meaning bumps `carpswitch_view`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carpswitch.config_rules import GROUP_PATTERN, NODE_PATTERN, RESOURCE_PATTERN
from carpswitch.errors import CarpswitchError, one_line
from carpswitch.model import HastRole

VERSION = 1
#: The longest reply a client reads (newline included); the server never sends more.
MAX_VIEW_BYTES = 16 * 1024
#: CARP's advskew range (ifconfig(8): 0-254).
MAX_ADVSKEW = 254
_ROLES = frozenset(role.value for role in HastRole)
_NODE = re.compile(NODE_PATTERN)
_RESOURCE = re.compile(RESOURCE_PATTERN)
_GROUP = re.compile(GROUP_PATTERN)
_ONE_LINE = re.compile(r"[^\x00-\x1f\x7f]{1,300}")
#: A field check: None when the value is fine, else what was expected.
_Check = Callable[[object], "str | None"]


class ViewError(CarpswitchError):
    """A view that cannot be encoded or a reply that is not a version-1 view."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class PeerView:
    """What the peer's daemon says about itself: HAST roles, promotion terms, advskews."""

    node: str
    resources: Mapping[str, str] = field(default_factory=dict)
    terms: Mapping[str, int] = field(default_factory=dict)
    advskew: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    def primaries(self) -> tuple[str, ...]:
        """Resources the peer says are primary, sorted."""
        return tuple(sorted(n for n, role in self.resources.items() if role == "primary"))


def encode(view: PeerView) -> bytes:
    """The reply line for `view` (keys in wire order, maps sorted, ASCII, `\\n`-ended).

    Raises ViewError when the view would not decode (so a server never sends what its
    peer must refuse), e.g. when it is longer than MAX_VIEW_BYTES.
    """
    document = {
        "carpswitch_view": VERSION,
        "node": view.node,
        "resources": dict(sorted(view.resources.items())),
        "terms": dict(sorted(view.terms.items())),
        "advskew": dict(sorted(view.advskew.items())),
        "error": view.error,
    }
    data = json.dumps(document).encode("ascii") + b"\n"
    decode(data)
    return data


def decode(data: bytes) -> PeerView:
    """The view in one reply line (a trailing newline is optional); raises ViewError."""
    if len(data) > MAX_VIEW_BYTES:
        raise ViewError(f"reply too long: {len(data)} bytes (at most {MAX_VIEW_BYTES})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ViewError("reply is not UTF-8") from None
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text:
        raise ViewError("reply is more than one line")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also a 5000-digit number
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else one_line(str(exc), 80)
        raise ViewError(f"reply is not JSON: {reason}") from None
    if not isinstance(document, dict):
        raise ViewError(f"reply is a JSON {_kind(document)}, not an object")
    version = document.get("carpswitch_view")
    if version != VERSION or not isinstance(version, int) or isinstance(version, bool):
        raise ViewError(f"carpswitch_view is {_shown(version)}, expected {VERSION}")
    return PeerView(
        node=_text(document, "node", _NODE),
        resources=_mapping(document, "resources", _RESOURCE, _role),
        terms=_mapping(document, "terms", _GROUP, _term),
        advskew=_mapping(document, "advskew", _GROUP, _advskew),
        error=_error(document),
    )


def _text(document: dict[str, object], key: str, pattern: re.Pattern[str]) -> str:
    value = _field(document, key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ViewError(f"{key} is {_shown(value)}, expected a name matching {pattern.pattern}")
    return value


def _mapping(
    document: dict[str, object], key: str, names: re.Pattern[str], check: _Check
) -> dict[str, Any]:
    value = _field(document, key)
    if not isinstance(value, dict):
        raise ViewError(f"{key} is a JSON {_kind(value)}, expected an object")
    for name, item in value.items():
        if not names.fullmatch(name):
            raise ViewError(f"{key}: {_shown(name)} is not a valid name")
        problem = check(item)
        if problem:
            raise ViewError(f"{key}.{name} is {_shown(item)}, expected {problem}")
    return dict(value)


def _role(value: object) -> str | None:
    return None if isinstance(value, str) and value in _ROLES else "a HAST role"


def _term(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "a whole number >= 0"


def _advskew(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ADVSKEW
    return None if ok else f"a whole number 0-{MAX_ADVSKEW}"


def _error(document: dict[str, object]) -> str | None:
    value = _field(document, "error")
    if value is None or (isinstance(value, str) and _ONE_LINE.fullmatch(value)):
        return value
    raise ViewError(f"error is {_shown(value)}, expected null or one line of text")


def _field(document: dict[str, object], key: str) -> object:
    if key not in document:
        raise ViewError(f"reply has no {key}")
    return document[key]


def _kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _shown(value: object) -> str:
    return one_line(json.dumps(value), 60)
