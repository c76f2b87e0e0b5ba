"""Entry point of every simulated command under DIR/bin.

`DIR/bin/hastctl` is a short Python script that notes its start time and calls
`main("hastctl", DIR, started=...)`: load the node, apply the fault plan, run the
command's module, then (fixed-cost mode, command log: carpswitch.lab.meter) pad its time
and log the call.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from pydantic import ValidationError

from carpswitch.lab.commands import command_function
from carpswitch.lab.context import ShimContext
from carpswitch.lab.facts import NodeFacts, load_facts
from carpswitch.lab.faults import FaultPlanError, apply_fault, load_plan, take_fault
from carpswitch.lab.meter import finish

EX_SOFTWARE = 70


def main(
    command: str,
    node_dir: str,
    argv: list[str] | None = None,
    *,
    started: tuple[float, float] | None = None,
) -> int:
    """Run the simulated `command` of the node at `node_dir`; return its exit status.

    `started` is (time.time(), time.monotonic()) at the script's first line.
    """
    wall, monotonic = started if started is not None else (time.time(), time.monotonic())
    args = sys.argv[1:] if argv is None else argv
    try:
        facts = load_facts(Path(node_dir))
    except (OSError, ValidationError) as exc:
        sys.stderr.write(f"carpswitch lab: {command}: cannot load node {node_dir}: {exc}\n")
        return EX_SOFTWARE
    try:
        return _run(command, facts, args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        finish(
            command=command,
            args=args,
            started_wall=wall,
            started_monotonic=monotonic,
            cost=facts.command_cost,
            log=str(facts.node_paths.command_log) if facts.command_log else None,
        )


def _run(command: str, facts: NodeFacts, args: list[str]) -> int:
    context = ShimContext(facts)
    try:
        plan = load_plan(context.paths.faults)
    except FaultPlanError as exc:
        sys.stderr.write(f"carpswitch lab: {command}: {exc}\n")
        return EX_SOFTWARE
    fault = take_fault(context.store, plan, command, " ".join(args))
    if fault is not None:
        outcome = apply_fault(fault, context.out, context.err)
        if outcome.exit_code is not None:
            return outcome.exit_code
    try:
        return command_function(command)(context, args)
    except Exception:
        sys.stderr.write(f"carpswitch lab: {command}: internal error\n")
        traceback.print_exc()
        return EX_SOFTWARE
