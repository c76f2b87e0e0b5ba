"""The argparse side of the `carpswitch` command line (everything but the devd hook)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from carpswitch import __version__
from carpswitch.cli_words import COMMANDS, EPILOG, HOOK_WORDS
from carpswitch.exitcodes import ExitCode


class UsageParser(argparse.ArgumentParser):
    """ArgumentParser that exits 64 (EX_USAGE) on bad arguments, as sysexits(3) says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def config_argument(text: str) -> str:
    """`-c PATH`: an empty path is a usage error, not "the default file"."""
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    return text


GROUP_HELP = "a [[group]] name of carpswitch.toml (none: every group)"


def build_parser() -> UsageParser:
    """The argument parser with one subcommand per entry of COMMANDS."""
    parser = UsageParser(
        prog="carpswitch",
        description="Failover controller for two-node HAST + CARP storage on FreeBSD.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        type=config_argument,
        help="config file (default: $CARPSWITCH_CONFIG, else /usr/local/etc/carpswitch.toml)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    parser.add_argument("--version", action="version", version=f"carpswitch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)
    parsers = {
        name: sub.add_parser(name, help=text, description=text) for name, text in COMMANDS.items()
    }
    for word in HOOK_WORDS:
        parsers[word].add_argument(
            "subsystem",
            metavar="VHID@IFACE|IFACE",
            help="the CARP vhid and interface devd names (subsystem=), e.g. 1@vtnet0",
        )
    for name in ("promote", "demote"):
        parsers[name].add_argument("groups", nargs="*", metavar="GROUP", help=GROUP_HELP)
        parsers[name].add_argument(
            "--force", action="store_true", help="even when CARP disagrees (risks two primaries)"
        )
    parsers["reconcile"].add_argument(
        "--boot",
        action="store_true",
        help="as at boot: never promote while a remote primary is connected",
    )
    parsers["pause"].add_argument("reason", nargs="*", help="why (shown by status)")
    parsers["plan"].add_argument(
        "target",
        choices=HOOK_WORDS,
        metavar="master|backup",
        help="the CARP state to plan for: master (promote) or backup (demote)",
    )
    parsers["plan"].add_argument("groups", nargs="*", metavar="GROUP", help=GROUP_HELP)
    parsers["status"].add_argument("--json", action="store_true", help="machine-readable")
    parsers["history"].add_argument("--json", action="store_true", help="JSON lines")
    parsers["history"].add_argument(
        "-n", type=_positive, default=20, metavar="N", help="last N (at least 1)"
    )
    parsers["lab"].add_argument("args", nargs=argparse.REMAINDER, help="see `carpswitch lab -h`")
    return parser


def _positive(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text[:40]!r}")
    return value


def run_command(args: argparse.Namespace, parser: UsageParser | None = None) -> int:
    """Run the parsed command; map carpswitch's errors to sysexits statuses.

    Every error is one line per problem on stderr: `carpswitch: FILE: key: what was
    expected`. No command: the command list, exit 64.
    """
    from carpswitch.engine.lock import LockBusy
    from carpswitch.errors import CarpswitchError, ConfigError
    from carpswitch.logsetup import setup_logging

    if args.command is None:
        (parser or build_parser()).print_help(sys.stderr)
        return ExitCode.USAGE
    setup_logging(args.verbose)
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"carpswitch: {line}", file=sys.stderr)
        return ExitCode.CONFIG
    except LockBusy as exc:
        print(f"carpswitch: {exc}", file=sys.stderr)
        return ExitCode.TEMPFAIL
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


def _hook(args: argparse.Namespace) -> int:
    from carpswitch.devd.hook import run_hook

    return run_hook([args.command, args.subsystem], args.config, args.verbose)


def _reconcile(args: argparse.Namespace) -> int:
    from carpswitch.commands import intake

    return intake.run_reconcile(args.config, boot=args.boot)


def _daemon(args: argparse.Namespace) -> int:
    from carpswitch.commands import intake

    return intake.run_daemon(args.config)


def _pause(args: argparse.Namespace) -> int:
    from carpswitch.commands import intake

    return intake.run_pause(args.config, " ".join(args.reason))


def _resume(args: argparse.Namespace) -> int:
    from carpswitch.commands import intake

    return intake.run_resume(args.config)


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "master": _hook,
    "backup": _hook,
    "reconcile": _reconcile,
    "daemon": _daemon,
    "pause": _pause,
    "resume": _resume,
    "status": _status,
    "check": _check,
    "promote": _promote,
    "demote": _demote,
    "plan": _plan,
    "history": _history,
    "clear": _clear,
}
