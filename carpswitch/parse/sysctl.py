"""Parse sysctl(8) output for integer variables such as `net.inet.carp.demotion`.

sbin/sysctl/sysctl.c: `sysctl -n NAME` prints the value and a newline; `sysctl NAME=VALUE`
prints `NAME: OLD -> NEW` and a newline (show_var before and after the write, joined by
" -> "). Integers are printed with %jd (signed) or %ju. `sysctl -n kern.boottime` is a
struct timeval, printed by S_timeval: `{ sec = %jd, usec = %ld } ` and ctime(3) without
its newline, then a newline.
"""

from __future__ import annotations

import re

from carpswitch.errors import ParseError

_INTEGER = r"-?[0-9]+"
_VALUE = re.compile(rf"(?P<value>{_INTEGER})\n")


def parse_sysctl_int(text: str, name: str) -> int:
    """The integer printed by `sysctl -n NAME`."""
    match = _VALUE.fullmatch(text)
    if match is None:
        raise ParseError(f"sysctl -n {name}", f"expected one integer and a newline, got {text!r}")
    return int(match["value"])


def parse_sysctl_set(text: str, name: str) -> tuple[int, int]:
    """(old, new) from `sysctl NAME=VALUE` output `NAME: OLD -> NEW`."""
    pattern = rf"{re.escape(name)}: (?P<old>{_INTEGER}) -> (?P<new>{_INTEGER})\n"
    match = re.fullmatch(pattern, text)
    if match is None:
        raise ParseError(f"sysctl {name}", f"expected '{name}: OLD -> NEW', got {text!r}")
    return int(match["old"]), int(match["new"])


_BOOTTIME = re.compile(r"\{ sec = (?P<sec>[0-9]+), usec = (?P<usec>[0-9]+) \} [^\n]*\n")


def parse_boottime(text: str) -> tuple[int, int]:
    """(sec, usec) from `sysctl -n kern.boottime`."""
    match = _BOOTTIME.fullmatch(text)
    if match is None:
        raise ParseError(
            "sysctl -n kern.boottime", f"expected '{{ sec = N, usec = N }} DATE', got {text!r}"
        )
    return int(match["sec"]), int(match["usec"])
