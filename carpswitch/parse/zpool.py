"""Parse `zpool list -H -o name,health`.

-H (OpenZFS zpool_main.c, "scripted mode"): no header, one line per pool, fields separated
by a single tab. Pool names may contain spaces but never tabs.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.model import Pool, PoolHealth
from carpswitch.parse.lines import complete_lines

SOURCE = "zpool list -H -o name,health"
_HEALTH: Mapping[str, PoolHealth] = {health.value: health for health in PoolHealth}


def parse_zpool_list(text: str) -> list[Pool]:
    """Imported pools; [] when zpool printed nothing (no pools imported)."""
    lines = complete_lines(text, SOURCE)
    return [_pool(line, number) for number, line in enumerate(lines, start=1)]


def _pool(line: str, number: int) -> Pool:
    fields = line.split("\t")
    if len(fields) != 2 or not fields[0] or fields[0] != fields[0].strip():
        raise ParseError(SOURCE, f"expected NAME<TAB>HEALTH, got {line!r}", number)
    name, health_text = fields
    health = _HEALTH.get(health_text)
    if health is None:
        expected = ", ".join(_HEALTH)
        raise ParseError(SOURCE, f"{name}: unknown health {health_text!r} ({expected})", number)
    try:
        return Pool(name=name, health=health)
    except ValidationError as exc:
        raise ParseError(SOURCE, str(exc), number) from exc
