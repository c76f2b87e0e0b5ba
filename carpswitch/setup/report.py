"""Plans and results as JSON (what a peer sends back) and as text (what an admin reads).

Both nodes' plans go through the same JSON shape, so `setup plan` prints the local node's
plan and the peer's answer with one function.
"""

from __future__ import annotations

from typing import Any

from carpswitch.setup.node import NodePlan

NOTHING_TO_DO = "both nodes are set up as carpswitch.toml says"


def plan_json(plan: NodePlan) -> dict[str, Any]:
    """The plan of one node, JSON-ready."""
    return {
        "host": plan.host,
        "files": [
            {"path": c.file.path, "why": c.file.why, "mode": c.file.mode, "diff": c.diff}
            for c in plan.files
        ],
        "commands": [{"argv": list(c.argv), "why": c.why} for c in plan.commands],
    }


def plan_is_empty(plan: dict[str, Any]) -> bool:
    return not plan.get("files") and not plan.get("commands")


def plan_text(plan: dict[str, Any], role: str) -> str:
    """`== HOST (ROLE): N files, M commands`, each diff, then each command with its why."""
    files, commands = list(plan.get("files", [])), list(plan.get("commands", []))
    head = f"== {plan.get('host')} ({role}): "
    if not files and not commands:
        return head + "nothing to change\n"
    out = [head + f"{len(files)} file(s) to write, {len(commands)} command(s) to run\n"]
    for file in files:
        out.append(f"# {file['path']}: {file['why']}\n")
        out.append(str(file["diff"]))
    for command in commands:
        out.append(f"run: {' '.join(command['argv'])}    # {command['why']}\n")
    return "".join(out)


def done_text(host: str, role: str, done: list[str]) -> str:
    """What apply did on one node, one line each."""
    if not done:
        return f"== {host} ({role}): nothing to change\n"
    return f"== {host} ({role}):\n" + "".join(f"  {line}\n" for line in done)
