"""`carpswitch promote|demote [GROUP...]` and `carpswitch plan master|backup [GROUP...]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.controller import Controller, Refused, UnknownGroup
from carpswitch.engine.step import Step, StepContext
from carpswitch.errors import CarpswitchError
from carpswitch.exitcodes import ExitCode
from carpswitch.guards.look import GuardLook
from carpswitch.model import StepResult, TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.standing import guards_line


def format_step(result: StepResult, undo: bool = False) -> str:
    """One line per finished step: time, outcome, duration, resource, what ran, why."""
    when = result.started_at.strftime("%H:%M:%S.%f")[:-3]
    who = result.step.resource or "-"
    tag = "undo " if undo else ""
    line = (
        f"  {when} {tag}{result.outcome:<9} {result.duration:6.2f}s  {who:<10} "
        f"{result.step.description}"
    )
    return f"{line}\n      {result.detail}" if result.detail and result.outcome != "noop" else line


def _print_step(record: TransitionRecord, result: StepResult) -> None:
    print(format_step(result, undo=result in record.undo), flush=True)


def run_transition(
    config_path: str | None, kind: TransitionKind, groups: Sequence[str], force: bool
) -> int:
    """Run synchronously, printing each step; exit 0 on success, 1 on a failed or refused
    transition, 64 for an unknown group."""
    controller = Controller(NodeContext(load_config(config_path)), on_step=_print_step)
    try:
        records = controller.transition(kind, groups, trigger=f"admin {kind}", force=force)
    except UnknownGroup as exc:
        print(f"carpswitch: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except Refused as exc:
        print(f"carpswitch: refused: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        controller.wait_for_notifications()
    for record in records:
        why = f" ({record.reason})" if record.outcome is TransitionOutcome.REFUSED else ""
        print(f"{record.kind} {record.group}: {record.outcome}{why}")
    return ExitCode.FAILED if any(_went_wrong(r) for r in records) else ExitCode.OK


def _went_wrong(record: TransitionRecord) -> bool:
    return record.outcome in (
        TransitionOutcome.FAILED,
        TransitionOutcome.REFUSED,
        TransitionOutcome.UNREAD,
    )


def run_plan(config_path: str | None, target: str, groups: Sequence[str]) -> int:
    """Print what `master` (promote) or `backup` (demote) would run; run nothing.

    The topology's problems go to stderr; any of them makes the exit status 1 (a refused
    group's plan is not printed: it would not run). 64 for an unknown group.
    """
    kind = TransitionKind.PROMOTE if target == "master" else TransitionKind.DEMOTE
    controller = Controller(NodeContext(load_config(config_path)))
    try:
        ctx, plans, refusals = controller.plans(kind, groups)
    except UnknownGroup as exc:
        print(f"carpswitch: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except Refused as exc:
        print(f"carpswitch: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    problems = ctx.topology.problems
    for line in [*problems, *refusals]:
        print(f"carpswitch: {line}", file=sys.stderr)
    looked = GuardLook(controller.config, ctx.runner).look() if plans else None
    seen = guards_line(looked.as_json(), None) if looked else None
    for plan in plans:
        print(f"{kind} group {plan.group.name} (vhid {plan.group.vhid}):")
        if seen and kind is TransitionKind.PROMOTE:
            print(f"  {seen} (now)")
        sections = [("", plan.before)]
        sections += [(f"[{name}] ", chain) for name, chain in plan.chains.items()]
        sections += [("", plan.after)]
        for prefix, steps in sections:
            for step in steps:
                state = "done" if _safe_is_done(step, ctx) else "todo"
                timeout = ctx.timeout(step.timeout_key)
                print(f"  {state}  {prefix}{step.describe()}  (timeout {timeout:g}s)")
        if plan.give_away:
            print("  if it fails: demote the group (services, storage, role secondary), then:")
            for step in plan.give_away:
                print(f"        {step.describe()}")
    return ExitCode.FAILED if problems or refusals else ExitCode.OK


def _safe_is_done(step: Step, ctx: StepContext) -> bool:
    try:
        return step.is_done(ctx)
    except CarpswitchError:
        return False
