"""Entry point of every simulated command under DIR/bin.

`DIR/bin/hastctl` is a two-line Python script calling `main("hastctl", DIR, argv)`: load
the node, apply the fault plan, then run the command's module.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from pydantic import ValidationError

from carpswitch.lab.commands import command_function
from carpswitch.lab.context import ShimContext
from carpswitch.lab.facts import load_facts
from carpswitch.lab.faults import FaultPlanError, apply_fault, load_plan, take_fault

EX_SOFTWARE = 70


def main(command: str, node_dir: str, argv: list[str] | None = None) -> int:
    """Run the simulated `command` of the node at `node_dir`; return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        facts = load_facts(Path(node_dir))
    except (OSError, ValidationError) as exc:
        sys.stderr.write(f"carpswitch lab: {command}: cannot load node {node_dir}: {exc}\n")
        return EX_SOFTWARE
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
    finally:
        sys.stdout.flush()
