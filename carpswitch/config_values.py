"""Checks of single carpswitch.toml values, standard library only: names, paths, seconds.

Each check takes a value as tomllib decoded it and returns None when it is fine, else
what was expected, in words (`expected an integer from 1 to 255, not true`). The rules of
carpswitch.config_rules are built from them, and carpswitch.config's pydantic models use
the same limits; see there why there are two readers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

#: The longest duration any setting may have: finite, and short enough for every timer.
MAX_SECONDS = 86400.0
PATH_MAX = 1024  # sys/syslimits.h, the terminating NUL included
SUN_PATH_SIZE = 104  # sys/un.h sockaddr_un.sun_path, the terminating NUL included
#: zfs_namecheck.c pool_namecheck: ZFS_MAX_DATASET_NAME_LEN - 2 - 2 * strlen("$ORIGIN").
POOL_NAME_MAX = 256 - 2 - 2 * len("$ORIGIN") - 1
#: libzfs zpool_name_valid: names zpool create and import refuse (exact, or as a prefix).
POOL_RESERVED_NAMES = ("mirror", "raidz", "draid", "log")
POOL_RESERVED_PREFIXES = ("mirror", "raidz", "draid", "spare")
POOL_CHARS = r"[A-Za-z0-9_.: \-]"

#: value -> None when it is fine, else what was expected (`expected ..., not ...`).
Check = Callable[[object], str | None]


class Key(NamedTuple):
    """One key of a table: its check, whether it must be there, and (arrays) each item's."""

    check: Check
    required: bool = False
    item: Check | None = None


def shown(value: object) -> str:
    """A value as the TOML file wrote it, short: `true`, `"ext4"`, `1e+308`, `an array`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # TOML dates and times


def key_name(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (never a line break)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key):
        return key
    return shown(key)


def expected(what: str, value: object) -> str:
    """`expected WHAT, not VALUE`."""
    return f"expected {what}, not {shown(value)}"


def text(pattern: str, what: str) -> Check:
    """A string matching `pattern` in full; `what` says it in words.

    Compiled when first used (re caches it), not when the rules are made: a command reads
    a few of the ~40 patterns, and compiling all of them cost every start ~10 ms.
    """

    def check(value: object) -> str | None:
        if isinstance(value, str) and re.fullmatch(pattern, value):
            return None
        return expected(what, value)

    return check


def absolute_path(value: object) -> str | None:
    """An absolute path that fits PATH_MAX (never empty, never relative)."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and "\0" not in value
        and len(value.encode("utf-8", "surrogateescape")) < PATH_MAX
    ):
        return None
    return expected(f"an absolute path (at most {PATH_MAX - 1} bytes)", value)


def socket_path(value: object) -> str | None:
    """An absolute path short enough to bind or connect a UNIX socket to."""
    problem = absolute_path(value)
    if problem is None and isinstance(value, str) and len(value.encode()) >= SUN_PATH_SIZE:
        return expected(f"a socket path of at most {SUN_PATH_SIZE - 1} bytes", value)
    return problem


def seconds(minimum: float, inclusive: bool) -> Check:
    """A finite number of seconds above (or from) `minimum`, at most MAX_SECONDS."""
    if inclusive:
        what = f"seconds from {minimum:g} to {MAX_SECONDS:g}"
    else:
        what = f"seconds, more than {minimum:g} and at most {MAX_SECONDS:g}"

    def check(value: object) -> str | None:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value >= minimum if inclusive else value > minimum)
            and value <= MAX_SECONDS
        ):
            return None
        return expected(what, value)

    return check


def integer(minimum: int, maximum: int) -> Check:
    """An integer from `minimum` to `maximum` (true is not 1)."""

    def check(value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum:
            return None
        return expected(f"an integer from {minimum} to {maximum}", value)

    return check


def boolean(value: object) -> str | None:
    """true or false."""
    return None if isinstance(value, bool) else expected("true or false", value)


def choice(values: Sequence[str]) -> Check:
    """One of a few words."""

    def check(value: object) -> str | None:
        if isinstance(value, str) and value in values:
            return None
        return expected("one of " + ", ".join(values), value)

    return check


def pool_name(value: object) -> str | None:
    """A name zpool accepts for a pool (zfs_namecheck.c pool_namecheck, zpool_name_valid)."""
    if not isinstance(value, str) or not value:
        return expected("a pool name", value)
    if len(value) > POOL_NAME_MAX:
        return expected(f"a pool name of at most {POOL_NAME_MAX} characters", value)
    if not re.fullmatch(POOL_CHARS + "+", value):
        return expected("a pool name of letters, digits and '_', '.', ':', ' ', '-'", value)
    if not value[0].isascii() or not value[0].isalpha():
        return expected("a pool name that begins with a letter", value)
    if value in POOL_RESERVED_NAMES or value.startswith(POOL_RESERVED_PREFIXES):
        return expected("a pool name zpool does not reserve (mirror, raidz, ...)", value)
    return None


def array(at_least: int = 0, at_most: int | None = None) -> Check:
    """An array (its items are checked one by one: Key.item)."""

    def check(value: object) -> str | None:
        if not isinstance(value, list):
            return expected("an array", value)
        if len(value) < at_least:
            return f"expected at least {at_least} item{'s' * (at_least > 1)}, not an empty array"
        if at_most is not None and len(value) > at_most:
            return f"expected at most {at_most} items, not {len(value)}"
        return None

    return check


def table_problems(
    where: str, form: str, value: object, keys: Mapping[str, Key], problems: list[str]
) -> dict[str, object]:
    """The keys of one table that passed; the problems of the others go to `problems`.

    `where` prefixes every problem (`resource[1]`), `form` names the table as TOML writes
    it (`[[resource]]`), for a value that is not a table at all.
    """
    if not isinstance(value, dict):
        problems.append(f"{where}: {expected(f'a table ({form})', value)}")
        return {}
    passed: dict[str, object] = {}
    for key, item in value.items():
        rule = keys.get(key)
        if rule is None:
            known = ", ".join(keys)
            problems.append(f"{where}.{key_name(key)}: unknown key (expected one of {known})")
            continue
        found = key_problems(f"{where}.{key}", item, rule)
        if found:
            problems += found
        else:
            passed[key] = item
    problems += [
        f"{where}.{key}: required key is missing"
        for key, rule in keys.items()
        if rule.required and key not in value
    ]
    return passed


def key_problems(where: str, value: object, rule: Key) -> list[str]:
    problem = rule.check(value)
    if problem is not None:
        return [f"{where}: {problem}"]
    if rule.item is None or not isinstance(value, list):
        return []
    return [
        f"{where}[{index}]: {found}"
        for index, element in enumerate(value)
        if (found := rule.item(element)) is not None
    ]


#: (where, entry as written, its keys that passed) -> problems across that entry's keys.
EntryCheck = Callable[[str, Mapping[str, object], Mapping[str, object]], list[str]]


def array_of_tables(
    where: str,
    value: object,
    keys: Mapping[str, Key],
    problems: list[str],
    entry_check: EntryCheck | None = None,
) -> list[dict[str, object]]:
    """`[[where]]`: the keys of each entry that passed (one dict per entry, in order);
    `entry_check` adds each entry's own cross-key problems right after its key problems."""
    if not isinstance(value, list):
        problems.append(f"{where}: {expected(f'an array of tables ([[{where}]])', value)}")
        return []
    entries = []
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        passed = table_problems(at, f"[[{where}]]", entry, keys, problems)
        if entry_check is not None and isinstance(entry, dict):
            problems += entry_check(at, entry, passed)
        entries.append(passed)
    return entries
