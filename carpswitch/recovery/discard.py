"""The discarding side of HAST's split-brain fix (hastd(8), freebsd-interfaces.md §2.6).

In order, stopping at the first failure: the resource's groups demoted if it is primary
here (carpswitch's own demotion: services, unmount or export, `role secondary`,
journaled), then `hastctl role init`, `hastctl create` (new metadata: the peer's primary
sees a virgin resource and synchronises it fully), `hastctl role secondary`. Each command
goes through the runner, bounded by [timeouts] role, and is logged before and after. A
failure names the step it stopped at and the commands still to run by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TextIO

from carpswitch.config import Config
from carpswitch.context import NodeContext
from carpswitch.errors import CommandError, CommandFailed, CommandTimedOut, ParseError, one_line
from carpswitch.system import commands
from carpswitch.system.runner import CommandRunner

log = logging.getLogger(__name__)

#: demote(group) -> None when the group is secondary now, else why not (one line).
Demote = Callable[[str], str | None]


class Stopped(Exception):
    """The discard stopped; the message says where and how to go on (one line)."""


def hast_steps(config: Config, resource: str) -> list[tuple[str, tuple[str, ...]]]:
    """(what, argv) of the three hastctl commands, in order."""
    conf = config.paths.hast_conf
    return [
        ("role init", commands.hastctl_role(conf, "init", [resource])),
        ("create", commands.hastctl_create(conf, [resource])),
        ("role secondary", commands.hastctl_role(conf, "secondary", [resource])),
    ]


def _role_now(config: Config, runner: CommandRunner, resource: str) -> str | None:
    """`resource`'s role as hastctl says now; None when it cannot be read (the steps then
    run: hastctl itself answers for a resource it does not know)."""
    from carpswitch.system.observe import Observer

    try:
        found = Observer(runner, config).hast([resource])
    except (CommandError, ParseError):
        return None
    role = found[0].role if found else None
    return None if role is None else str(role)


def _why(exc: CommandError) -> str:
    """What went wrong in a few words: hastctl's own message, not the whole argv."""
    if isinstance(exc, CommandTimedOut):
        return f"timed out after {exc.timeout:g} s"
    if isinstance(exc, CommandFailed):
        return f"exit {exc.exit_status}: {one_line(exc.stderr or exc.stdout or 'no message', 160)}"
    return one_line(str(exc), 160)


def _by_hand(steps: Sequence[tuple[str, tuple[str, ...]]], resource: str) -> str:
    rest = "; ".join(f"hastctl {what} {resource}" for what, _ in steps)
    return f"{rest}; then carpswitch split-brain clear {resource} on both nodes"


def discard(
    config: Config,
    runner: CommandRunner,
    resource: str,
    role: str | None,
    groups: Sequence[str],
    demote: Demote,
    out: TextIO,
) -> None:
    """Make this node's copy of `resource` a fresh secondary; Stopped on a failure.

    The role is read again just before `role init`: only an admin's `promote --force` can
    make a marked resource primary, but one in between the checks and here must not have
    its device pulled from under it."""
    steps = hast_steps(config, resource)
    if role == "primary":
        for group in groups:
            out.write(f"demoting group {group} (carpswitch demote {group})\n")
            log.warning("split-brain resolve %s: demoting group %s", resource, group)
            why = demote(group)
            if why is not None:
                raise Stopped(
                    f"stopped at the demotion of group {group} ({why}): nothing of {resource} "
                    f"discarded; fix it, then run the resolve again"
                )
    now = _role_now(config, runner, resource)
    if now == "primary":
        raise Stopped(
            f"{resource} is primary here again (after the checks): nothing discarded; "
            "run the resolve again"
        )
    for number, (what, argv) in enumerate(steps):
        shown = f"hastctl {what} {resource}"
        out.write(f"running {' '.join(argv)}\n")
        out.flush()
        log.warning("split-brain resolve %s: running %s", resource, " ".join(argv))
        try:
            runner.run(*argv, timeout=config.timeouts.role)
        except CommandError as exc:
            log.error("split-brain resolve %s: %s failed: %s", resource, shown, exc)
            raise Stopped(
                f"stopped at `{shown}` ({_why(exc)}); to go on run by hand: "
                + _by_hand(steps[number:], resource)
            ) from exc
        log.warning("split-brain resolve %s: %s done", resource, shown)


def controller_demote(ctx: NodeContext) -> Demote:
    """carpswitch's own demotion of one group (journaled, steps printed as `demote` does)."""

    def demote(group: str) -> str | None:
        from carpswitch.commands.transition import _print_step
        from carpswitch.controller import Controller, Refused
        from carpswitch.engine.lock import LockBusy
        from carpswitch.model import TransitionKind, TransitionOutcome

        controller = Controller(ctx, on_step=_print_step)
        try:
            records = controller.transition(
                TransitionKind.DEMOTE, [group], trigger="admin split-brain resolve"
            )
        except (Refused, LockBusy) as exc:
            return one_line(str(exc))
        finally:
            controller.wait_for_notifications()
        fine = (TransitionOutcome.SUCCEEDED, TransitionOutcome.NOOP)
        bad = [r for r in records if r.outcome not in fine]
        return None if not bad else f"demotion {bad[0].outcome}: {one_line(bad[0].reason)}"

    return demote
