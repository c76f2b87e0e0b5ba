"""carpswitch.toml written back: canonical TOML of a whole Config, standard library only.

A hand-written writer for exactly what the config holds (strings, integers, finite floats,
booleans, arrays of those, tables and arrays of tables): tomllib reads, nothing writes,
and a dependency for ~60 lines is not worth its weight.

Only values that differ from their defaults are written (`exclude_defaults`), so the text
is a function of the Config's values alone: two equal Configs render the same bytes (the
digest `setup check` compares), however they were built, and the file says what the admin
chose, not every default of this version. Defaults are documented (man page) and a later
version's better default applies to both nodes alike (check compares versions too).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from carpswitch.config import Config
from carpswitch.config_rules import NODE_LOCAL
from carpswitch.config_section import as_toml

HEADER = (
    "# carpswitch.toml, written by `carpswitch setup`. [node], [paths] and [commands] are\n"
    "# this node's own; every other section is identical on both nodes (setup check).\n"
)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def render_config(config: Config) -> str:
    """The whole of `config` as canonical TOML: parse_config(tomllib.loads(x)) == config."""
    return HEADER + "\n" + _document(_values(config))


def render_shared(config: Config) -> str:
    """Only the shared sections, canonical (what both nodes must agree on)."""
    values = {k: v for k, v in _values(config).items() if k not in NODE_LOCAL}
    return _document(values)


def shared_digest(config: Config) -> str:
    """sha256 (hex) of the shared sections' canonical text."""
    return hashlib.sha256(render_shared(config).encode()).hexdigest()


def _values(config: Config) -> dict[str, Any]:
    return as_toml(config, with_defaults=False)


def _document(values: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _body((), values, lines)
    return "\n".join(lines).lstrip("\n") + "\n" if lines else ""


def _body(path: tuple[str, ...], table: Mapping[str, Any], lines: list[str]) -> None:
    """A table's plain keys, then its tables, then its arrays of tables."""
    for key, value in table.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines += ["", f"[{_dotted((*path, key))}]"]
            _body((*path, key), value, lines)
    for key, value in table.items():
        if _is_table_array(value):
            for entry in value:
                lines += ["", f"[[{_dotted((*path, key))}]]"]
                _body((*path, key), entry, lines)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite: the config refuses inf and nan
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"carpswitch.toml holds no {type(value).__name__}")


def _string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
