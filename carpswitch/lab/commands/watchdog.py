"""watchdog(8): FreeBSD's `watchdog [-d] [-t timeout]`, the one-shot pat of watchdog(4).

What the controller's watchdog guard runs every second (`watchdog -t N`; `-t 0` disarms).
Texts and exit statuses from usr.sbin/watchdogd/watchdogd.c (watchdog(8) is watchdogd
run under another name: parseargs' getopt_long "dt:?", fetchtimeout,
parse_timeout_to_sbt, usage, `errx(EX_USAGE, "extra arguments.")`, main's one-shot
watchdog_patpat) and lib/libc/stdlib/getopt_long.c (GNU_COMPATIBLE texts).

The node's watchdog(4) is WatchdogState: `-t N` sets its deadline to now + N seconds
(time.monotonic(), see WatchdogState), `-t 0` disarms it. Nothing here fires it: a cluster
host's "hardware" does (carpswitch.lab.cluster.watchdog); a stand-alone node only records.
Not simulated: the `not super user` check (a lab node's commands are all root's) and a
node without a watchdog device.
"""

from __future__ import annotations

import getopt
import time
from dataclasses import dataclass

from carpswitch.lab.commands import CommandExit
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import WatchdogState

EX_USAGE = 64
USAGE = "usage: watchdog [-d] [-t timeout]\n"
#: watchdogd.c `timeout = 128 * SBT_1S`: what a bare `watchdog` arms.
DEFAULT_TIMEOUT = 128
#: FreeBSD's default kern.hz (sys/kern/subr_param.c HZ): what -d's tick count uses.
HZ = 1000
_TICK = 1_000_000 // HZ
_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
#: watchdogd.c longopts (watchdog(8) takes them too; only --debug acts without -d's daemon).
_LONG_OPTIONS = ["debug", "pretimeout=", "pretimeout-action=", "softtimeout", "softtimeout-action="]
_DIGITS = "0123456789abcdef"


@dataclass(frozen=True)
class Request:
    """What the arguments ask for: arm for `timeout` seconds (0: disarm)."""

    timeout: int = DEFAULT_TIMEOUT
    #: what -d printed while the options were read (stdout)
    debug: str = ""


def run(ctx: ShimContext, args: list[str]) -> int:
    """watchdog with `args`."""
    printed: list[str] = []
    try:
        request = parse_args(args, printed)
    except CommandExit as stop:
        ctx.out.write("".join(printed))
        ctx.out.flush()
        if stop.message is not None:
            ctx.warn(f"watchdog: {stop.message}")
        if stop.usage:
            ctx.err.write(USAGE)
        return stop.code
    ctx.out.write(request.debug)
    pat(ctx, request.timeout)
    return 0


def pat(ctx: ShimContext, timeout: int) -> None:
    """ioctl(WDIOC_SETTIMEOUT): arm (or re-pat) for `timeout` seconds; 0 disarms."""
    with ctx.store.update(WatchdogState) as dog:
        dog.timeout = timeout
        dog.deadline = time.monotonic() + timeout if timeout else None


def parse_args(args: list[str], printed: list[str] | None = None) -> Request:
    """parseargs for watchdog(8); -d's lines go to `printed` as they are printed."""
    out = [] if printed is None else printed
    try:
        options, operands = getopt.gnu_getopt(args, "dt:?", _LONG_OPTIONS)
    except getopt.GetoptError as exc:
        raise CommandExit(EX_USAGE, _getopt_text(exc), usage=True) from None
    debugging, timeout = False, DEFAULT_TIMEOUT
    for option, value in options:
        if option in ("-d", "--debug"):
            debugging = True
        elif option == "-t":
            timeout = _fetchtimeout(value)
            if debugging:
                ticks = min((timeout * 1_000_000 + _TICK - 1) // _TICK + 1, _INT_MAX)  # tvtohz
                out.append(
                    f"Timeout for -t is (in: {value} sec -> out: {timeout} sec 0 us"
                    f" -> {ticks} ticks)\n"
                )
                out.append(f"Timeout is {timeout}\n")
        elif option == "-?":
            raise CommandExit(EX_USAGE, usage=True)
    if operands:
        raise CommandExit(EX_USAGE, "extra arguments.")
    return Request(timeout=timeout, debug="".join(out))


def _fetchtimeout(text: str) -> int:
    """watchdogd.c fetchtimeout(zero_ok): strtol(3) base 0 of the whole argument, >= 0."""
    value, whole = strtol(text)
    why = None if whole else "is not a number"
    if value < 0:
        why = "must be greater than zero"
    if why is not None:
        raise CommandExit(EX_USAGE, f"-t argument {why}")
    return value


def strtol(text: str) -> tuple[int, bool]:
    """(strtol(text, &p, 0), whether it took all of `text` and set no ERANGE)."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    negative = i < n and text[i] == "-"
    if i < n and text[i] in "+-":
        i += 1
    base = 10
    if text[i : i + 2] in ("0x", "0X") and n > i + 2 and text[i + 2].lower() in _DIGITS:
        base, i = 16, i + 2
    elif text[i : i + 1] == "0":
        base = 8
    start = i
    while i < n and text[i].lower() in _DIGITS[:base]:
        i += 1
    if i == start:  # no conversion: p is the text itself
        return 0, text == ""
    value = int(text[start:i], base)
    value = -value if negative else value
    if not -_LONG_MAX - 1 <= value <= _LONG_MAX:
        return (-_LONG_MAX - 1 if negative else _LONG_MAX), False
    return value, i == n


def _getopt_text(exc: getopt.GetoptError) -> str:
    """FreeBSD getopt_long's complaint (GNU_COMPATIBLE) for Python getopt's."""
    if exc.msg.startswith("option --"):
        name = f"--{exc.opt}"
        if exc.msg.endswith("requires argument"):
            return f"option `{name}' requires an argument"
        if exc.msg.endswith("must not have an argument"):
            return f"option `{name}' doesn't allow an argument"
        if exc.msg.endswith("not a unique prefix"):
            return f"option `{name}' is ambiguous"
        return f"unrecognized option `{name}'"
    if exc.msg.endswith("requires argument"):
        return f"option requires an argument -- {exc.opt}"
    return f"invalid option -- {exc.opt}"
