"""The argparse side of the `carpswitch` command line (everything but the devd hook)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import NoReturn

from carpswitch import __version__
from carpswitch.cli_words import COMMANDS, EPILOG, HOOK_WORDS, SETUP_EPILOG
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


#: A command, its modules imported, ready to run (what a handler returns).
Call = Callable[[], int]

GROUP_HELP = "a [[group]] name of carpswitch.toml (none: every group)"


def build_parser(command: str | None = None) -> UsageParser:
    """The argument parser with one subcommand per entry of COMMANDS.

    With `command` (a word of COMMANDS), only that subcommand is built: what the command
    line will parse, without the ~10 ms of CPU that building every subcommand's arguments
    takes (each is an argparse parser with its help formatter and translated messages).
    The full parser is for a missing or unknown command word and for the command list.
    """
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
    for name in [command] if command in COMMANDS else COMMANDS:
        text = COMMANDS[name]
        add_arguments = _SUBCOMMAND_ARGUMENTS.get(name, _no_arguments)
        add_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def _no_arguments(_parser: UsageParser) -> None:
    """A command without arguments of its own."""


def _hook_arguments(parser: UsageParser) -> None:
    parser.add_argument(
        "subsystem",
        metavar="VHID@IFACE|IFACE",
        help="the CARP vhid and interface devd names (subsystem=), e.g. 1@vtnet0",
    )


def _transition_arguments(parser: UsageParser) -> None:
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=GROUP_HELP)
    parser.add_argument(
        "--force", action="store_true", help="even when CARP disagrees (risks two primaries)"
    )


def _reconcile_arguments(parser: UsageParser) -> None:
    parser.add_argument(
        "--boot",
        action="store_true",
        help="as at boot: never promote while a remote primary is connected",
    )


def _pause_arguments(parser: UsageParser) -> None:
    parser.add_argument("reason", nargs="*", help="why (shown by status)")


def _plan_arguments(parser: UsageParser) -> None:
    parser.add_argument(
        "target",
        choices=HOOK_WORDS,
        metavar="master|backup",
        help="the CARP state to plan for: master (promote) or backup (demote)",
    )
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=GROUP_HELP)


def _status_arguments(parser: UsageParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable")


def _history_arguments(parser: UsageParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON lines")
    parser.add_argument("-n", type=_positive, default=20, metavar="N", help="last N (at least 1)")
    parser.add_argument("id", nargs="?", metavar="ID", help="one transition (a unique prefix)")


SETUP_COMMANDS = {
    "init": "write carpswitch.toml from hastconf.sh's values (asks in a terminal)",
    "plan": "show, per node, the diff of every file and every command apply would run",
    "apply": "plan both nodes, then set up this node and the peer (over ssh)",
    "check": "compare both nodes: hast.conf, provider sizes, version, config, CARP, hastd",
    "receive": "the peer's side of plan|apply|check (run over ssh; reads TOML on stdin)",
}


def _setup_arguments(parser: UsageParser) -> None:
    parser.epilog = SETUP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="setup_command", metavar="SETUP", parser_class=UsageParser)
    sub.required = True
    for name, text in SETUP_COMMANDS.items():
        child = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=SETUP_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "init":
            from carpswitch.setup.init import add_init_arguments

            add_init_arguments(child)
        elif name in ("plan", "check"):
            child.add_argument("--json", action="store_true", help="machine-readable")
        elif name == "receive":
            child.add_argument("what", choices=("plan", "apply", "facts"))
            child.add_argument(
                "--as", dest="as_host", required=True, metavar="HOST", help="who this node is"
            )


def _hast_event_arguments(parser: UsageParser) -> None:
    parser.add_argument(
        "event", metavar="EVENT", help="hastd's event: role, connect, split-brain..."
    )
    parser.add_argument(
        "words", nargs=argparse.REMAINDER, metavar="RESOURCE [ARGS]", help="as hastd passes them"
    )


def _split_brain_arguments(parser: UsageParser) -> None:
    from carpswitch.cli_words import SPLIT_BRAIN_EPILOG

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = SPLIT_BRAIN_EPILOG
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=UsageParser)
    actions.required = True
    status = actions.add_parser(
        "status", help="both nodes: roles, dirty bytes, marks, who was primary last, what to run"
    )
    status.add_argument("--json", action="store_true", help="machine-readable")
    facts = actions.add_parser("facts", help="this node's part of status (read only; for ssh)")
    facts.add_argument("--json", action="store_true", required=True, help="JSON (the only form)")
    resolve = actions.add_parser(
        "resolve",
        help="HAST's fix: the discarded side becomes init, create, secondary, and resyncs",
        epilog=SPLIT_BRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    resolve.add_argument("resource", metavar="RESOURCE", help="the HAST resource in split-brain")
    side = resolve.add_mutually_exclusive_group(required=True)
    side.add_argument(
        "--keep-this", action="store_true", help="keep this node's data; the peer's is discarded"
    )
    side.add_argument(
        "--discard-this", action="store_true", help="discard this node's data; the peer's is kept"
    )
    resolve.add_argument("--yes", action="store_true", help="do not ask for the resource name")
    resolve.add_argument(
        "--force",
        action="store_true",
        help="even against the journals' verdict, without a mark, or (--discard-this) peer down",
    )
    resolve.add_argument("--checked-by", metavar="HOST", help=argparse.SUPPRESS)
    clear = actions.add_parser("clear", help="drop the marks: automatic promotion again")
    clear.add_argument("resources", nargs="*", metavar="RESOURCE", help="a marked HAST resource")
    clear.add_argument("--all", action="store_true", help="every mark (also unreadable ones)")


def _lab_arguments(parser: UsageParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="see `carpswitch lab -h`")


_SUBCOMMAND_ARGUMENTS: dict[str, Callable[[UsageParser], None]] = {
    "master": _hook_arguments,
    "backup": _hook_arguments,
    "promote": _transition_arguments,
    "demote": _transition_arguments,
    "reconcile": _reconcile_arguments,
    "pause": _pause_arguments,
    "plan": _plan_arguments,
    "status": _status_arguments,
    "history": _history_arguments,
    "lab": _lab_arguments,
    "setup": _setup_arguments,
    "hast-event": _hast_event_arguments,
    "split-brain": _split_brain_arguments,
}


def _positive(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text[:40]!r}")
    return value


def run_command(
    args: argparse.Namespace, parser: UsageParser | None = None, own_process: bool = False
) -> int:
    """Run the parsed command; map carpswitch's errors to sysexits statuses.

    Every error is one line per problem on stderr: `carpswitch: FILE: key: what was
    expected`. No command: the command list, exit 64. `own_process`: the process is this
    command's (the `carpswitch` script), so its imports run with the garbage collector
    paused (carpswitch.startup); a caller's process (tests) keeps its collector as it is.
    """
    from carpswitch.engine.lock import LockBusy
    from carpswitch.errors import CarpswitchError, ConfigError
    from carpswitch.logsetup import setup_logging
    from carpswitch.startup import collector_paused

    if args.command is None:
        (parser or build_parser()).print_help(sys.stderr)
        return ExitCode.USAGE
    setup_logging(args.verbose)
    handler = _HANDLERS[args.command]
    start = (
        collector_paused(long_lived=args.command == "daemon")
        if own_process
        else contextlib.nullcontext()
    )
    try:
        with start:
            call = handler(args)  # imports what the command needs; runs nothing yet
        return call()
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


def _status(args: argparse.Namespace) -> Call:
    from carpswitch.commands.status import run_status

    return lambda: run_status(args.config, as_json=args.json)


def _check(args: argparse.Namespace) -> Call:
    from carpswitch.commands.check import run_check

    return lambda: run_check(args.config)


def _promote(args: argparse.Namespace) -> Call:
    from carpswitch.commands.transition import run_transition
    from carpswitch.model import TransitionKind

    return lambda: run_transition(args.config, TransitionKind.PROMOTE, args.groups, args.force)


def _demote(args: argparse.Namespace) -> Call:
    from carpswitch.commands.transition import run_transition
    from carpswitch.model import TransitionKind

    return lambda: run_transition(args.config, TransitionKind.DEMOTE, args.groups, args.force)


def _plan(args: argparse.Namespace) -> Call:
    from carpswitch.commands.transition import run_plan

    return lambda: run_plan(args.config, args.target, args.groups)


def _history(args: argparse.Namespace) -> Call:
    from carpswitch.commands.history import run_history

    return lambda: run_history(args.config, args.n, args.json, args.id)


def _clear(args: argparse.Namespace) -> Call:
    from carpswitch.commands.clear import run_clear

    return lambda: run_clear(args.config)


def _hast_event(args: argparse.Namespace) -> Call:
    from carpswitch.commands.hast_event import run_hast_event

    return lambda: run_hast_event([args.event, *args.words], args.config, args.verbose)


def _split_brain(args: argparse.Namespace) -> Call:
    from carpswitch.commands.split_brain import run_split_brain_clear

    if args.action in ("status", "facts"):
        from carpswitch.commands.split_brain_status import (
            run_split_brain_facts,
            run_split_brain_status,
        )

        if args.action == "facts":
            return lambda: run_split_brain_facts(args.config)
        return lambda: run_split_brain_status(args.config, as_json=args.json)
    if args.action == "resolve":
        from carpswitch.commands.split_brain_resolve import run_split_brain_resolve

        return lambda: run_split_brain_resolve(
            args.config, args.resource, args.keep_this, args.yes, args.force, args.checked_by
        )
    if bool(args.resources) == args.all:
        return lambda: _usage("split-brain clear: name RESOURCEs or give --all (not both)")
    return lambda: run_split_brain_clear(args.config, args.resources, args.all)


def _usage(message: str) -> int:
    print(f"carpswitch: {message}", file=sys.stderr)
    return ExitCode.USAGE


def _hook(args: argparse.Namespace) -> Call:
    from carpswitch.devd.hook import run_hook

    return lambda: run_hook([args.command, args.subsystem], args.config, args.verbose)


def _reconcile(args: argparse.Namespace) -> Call:
    from carpswitch.commands import intake

    return lambda: intake.run_reconcile(args.config, boot=args.boot)


def _daemon(args: argparse.Namespace) -> Call:
    from carpswitch.commands import intake

    return lambda: intake.run_daemon(args.config)


def _pause(args: argparse.Namespace) -> Call:
    from carpswitch.commands import intake

    return lambda: intake.run_pause(args.config, " ".join(args.reason))


def _resume(args: argparse.Namespace) -> Call:
    from carpswitch.commands import intake

    return lambda: intake.run_resume(args.config)


def _setup(args: argparse.Namespace) -> Call:
    what = args.setup_command
    if what == "init":
        from carpswitch.config import config_path
        from carpswitch.setup.init import run_init

        return lambda: run_init(
            args,
            config_file=config_path(args.config),
            interactive=sys.stdin.isatty() and sys.stdout.isatty(),
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    if what == "receive":
        from carpswitch.setup.receive import run_receive

        return lambda: run_receive(args.what, args.as_host, args.config, sys.stdin, sys.stdout)
    from carpswitch.commands import setup

    if what == "plan":
        return lambda: setup.run_setup_plan(args.config, args.json)
    if what == "apply":
        return lambda: setup.run_setup_apply(args.config)
    return lambda: setup.run_setup_check(args.config, args.json)


_HANDLERS: dict[str, Callable[[argparse.Namespace], Call]] = {
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
    "setup": _setup,
    "hast-event": _hast_event,
    "split-brain": _split_brain,
}
