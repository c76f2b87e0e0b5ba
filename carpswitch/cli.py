"""`carpswitch` command line.

Kept light on purpose: only the standard library is imported here; each command imports
what it needs when it runs, so the devd hook (`carpswitch master|backup IFACE`) starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from carpswitch import __version__
from carpswitch.exitcodes import ExitCode

HOOK_WORDS = ("master", "backup")

COMMANDS: dict[str, str] = {
    "master": "devd hook: CARP vhid became MASTER (argument: VHID@IFACE or IFACE)",
    "backup": "devd hook: CARP vhid became BACKUP (argument: VHID@IFACE or IFACE)",
    "promote": "make this node primary for GROUPs now: HAST role, check, mount, services",
    "demote": "make this node secondary for GROUPs now: services, unmount, HAST role",
    "status": "show CARP, HAST, mounts, pools and services as carpswitch sees them",
    "plan": "print the steps a MASTER or BACKUP transition would run; runs nothing",
    "check": "validate carpswitch.toml against hast.conf and this node; list every problem",
    "history": "show past transitions with per-step timings and outcome",
    "clear": "forget failed promotions, lift the hold and take back carpswitch's demotion",
    "reconcile": "act once on what CARP says now (what the rc.d script does at boot)",
    "daemon": "run as the rc.d service: take devd events, reconcile on a timer",
    "setup": "render hast.conf, the devd rule and rc.conf lines for both nodes",
    "lab": "simulated FreeBSD node, for tests and for trying carpswitch by hand",
}

# Commands whose issue has not landed yet: they say so instead of pretending to work.
PLANNED: dict[str, str] = {
    "reconcile": "event intake (issue #5)",
    "daemon": "event intake (issue #5)",
    "setup": "the set-up issue",
    "master": "event intake (issue #5)",
    "backup": "event intake (issue #5)",
}

EPILOG = """\
devd runs `carpswitch master|backup VHID@IFACE` on CARP events (conf/devd-carp.conf).
Config: -c PATH, else $CARPSWITCH_CONFIG, else /usr/local/etc/carpswitch.toml; without a
config file carpswitch works from hast.conf alone (every resource raw, one group per vhid).
Exit status: 0 ok, 1 failed, 64 usage, 69 unavailable, 78 config error. See carpswitch(8).
"""


class UsageParser(argparse.ArgumentParser):
    """ArgumentParser that exits 64 (EX_USAGE) on bad arguments, as sysexits(3) says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> UsageParser:
    """The argument parser with one subcommand per entry of COMMANDS."""
    parser = UsageParser(
        prog="carpswitch",
        description="Failover controller for two-node HAST + CARP storage on FreeBSD.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-c", "--config", metavar="PATH", help="config file (carpswitch.toml)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    parser.add_argument("--version", action="version", version=f"carpswitch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)
    sub.required = True
    parsers = {
        name: sub.add_parser(name, help=text, description=text) for name, text in COMMANDS.items()
    }
    for word in HOOK_WORDS:
        parsers[word].add_argument("subsystem", metavar="VHID@IFACE|IFACE")
    for name in ("promote", "demote"):
        parsers[name].add_argument("groups", nargs="*", metavar="GROUP")
        parsers[name].add_argument(
            "--force", action="store_true", help="even when CARP disagrees (risks two primaries)"
        )
    parsers["plan"].add_argument("target", choices=HOOK_WORDS)
    parsers["plan"].add_argument("groups", nargs="*", metavar="GROUP")
    parsers["status"].add_argument("--json", action="store_true", help="machine-readable")
    parsers["history"].add_argument("--json", action="store_true", help="JSON lines")
    parsers["history"].add_argument("-n", type=int, default=20, metavar="N", help="last N")
    parsers["lab"].add_argument("args", nargs=argparse.REMAINDER, help="see `carpswitch lab -h`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `carpswitch` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    lab_at = _first_positional(args_list)
    if lab_at is not None and args_list[lab_at] == "lab":
        from carpswitch.lab.cli import main as lab_main

        return int(lab_main(args_list[lab_at + 1 :]))
    if lab_at is not None and args_list[lab_at].lower() in HOOK_WORDS:
        args_list[lab_at] = args_list[lab_at].lower()  # devd may pass MASTER/BACKUP
    args = build_parser().parse_args(args_list)
    return _run(args)


def _first_positional(argv: list[str]) -> int | None:
    """Index of the command word, skipping global options (-c PATH, -v)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-c", "--config"):
            i += 2
            continue
        if not word.startswith("-"):
            return i
        i += 1
    return None


def _run(args: argparse.Namespace) -> int:
    from carpswitch.errors import CarpswitchError, ConfigError
    from carpswitch.logsetup import setup_logging

    setup_logging(args.verbose)
    if args.command in PLANNED:
        print(
            f"carpswitch: {args.command} is not available yet: it comes with "
            f"{PLANNED[args.command]}",
            file=sys.stderr,
        )
        return ExitCode.UNAVAILABLE
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"carpswitch: configuration error:\n{exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except CarpswitchError as exc:
        print(f"carpswitch: {exc}", file=sys.stderr)
        return ExitCode.FAILED


def _status(args: argparse.Namespace) -> int:
    from carpswitch.commands.status import run_status

    return run_status(args.config, as_json=args.json)


def _check(args: argparse.Namespace) -> int:
    from carpswitch.commands.check import run_check

    return run_check(args.config)


def _promote(args: argparse.Namespace) -> int:
    from carpswitch.commands.transition import run_transition
    from carpswitch.model import TransitionKind

    return run_transition(args.config, TransitionKind.PROMOTE, args.groups, args.force)


def _demote(args: argparse.Namespace) -> int:
    from carpswitch.commands.transition import run_transition
    from carpswitch.model import TransitionKind

    return run_transition(args.config, TransitionKind.DEMOTE, args.groups, args.force)


def _plan(args: argparse.Namespace) -> int:
    from carpswitch.commands.transition import run_plan

    return run_plan(args.config, args.target, args.groups)


def _history(args: argparse.Namespace) -> int:
    from carpswitch.commands.history import run_history

    return run_history(args.config, args.n, args.json)


def _clear(args: argparse.Namespace) -> int:
    from carpswitch.commands.clear import run_clear

    return run_clear(args.config)


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "status": _status,
    "check": _check,
    "promote": _promote,
    "demote": _demote,
    "plan": _plan,
    "history": _history,
    "clear": _clear,
}
