"""`carpswitch` command line: the entry point.

Kept light on purpose: the devd hook (`carpswitch master|backup IFACE`) is recognised here
without argparse and handed to carpswitch.devd.hook, which imports only the standard
library; every other command goes through the argparse parser in carpswitch.cli_parser,
and each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from carpswitch.cli_words import HOOK_WORDS


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `carpswitch` console script (`argv` None: this process's own
    command line, so the command may tune the process, see carpswitch.startup)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    at = _first_positional(args_list)
    if at is not None and args_list[at] == "lab":
        from carpswitch.lab.cli import main as lab_main

        return int(lab_main(args_list[at + 1 :]))
    if at is not None and args_list[at] == "hast-event" and len(args_list) > at + 1:
        hook = _hook_options(args_list[:at], args_list[at:])
        if hook is not None:  # hastd's exec hook: no argparse, no pydantic (see devd's)
            from carpswitch.commands.hast_event import run_hast_event

            return run_hast_event(args_list[at + 1 :], *hook)
    if at is not None and args_list[at].lower() in HOOK_WORDS:
        hook = _hook_options(args_list[:at], args_list[at:])
        if hook is not None:
            from carpswitch.devd.hook import run_hook

            return run_hook(args_list[at:], *hook)
        args_list[at] = args_list[at].lower()  # devd may pass MASTER/BACKUP
    from carpswitch.cli_parser import build_parser, run_command

    command = args_list[at] if at is not None else None
    if any(word in ("-h", "--help") for word in args_list[:at]):
        command = None  # `carpswitch -h status`: the command list
    parser = build_parser(command)
    return run_command(parser.parse_args(args_list), parser, own_process=argv is None)


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


def _hook_options(before: list[str], words: list[str]) -> tuple[str | None, int] | None:
    """(config, verbosity) of a devd hook call, read without argparse (it must start fast).

    None sends the call through argparse instead: a help request, or an option the fast
    path does not know.
    """
    if any(word in ("-h", "--help") for word in words):
        return None
    config: str | None = None
    verbose = 0
    i = 0
    while i < len(before):
        word = before[i]
        if word in ("-c", "--config") and i + 1 < len(before):
            config = before[i + 1]
            i += 2
            continue
        if word.startswith("--config="):
            config = word.removeprefix("--config=")
        elif word == "--verbose":
            verbose += 1
        elif len(word) > 1 and word.startswith("-") and set(word[1:]) == {"v"}:
            verbose += len(word) - 1
        else:
            return None
        i += 1
    return config, verbose
