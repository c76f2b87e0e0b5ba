"""`carpswitch split-brain status [--json]` and `split-brain facts --json`.

`facts` is this node's part only, read only (the peer runs it over ssh). `status` joins
this node's facts and the peer's: every resource in split-brain on either node (marked,
or reported by hastd and not since connected or synchronised), both nodes' role, HAST
status, dirty bytes, mark, hastd's report, last successful promotion of its group, which
side holds the acknowledged data (carpswitch.recovery.verdict) and what to run. An
unreachable peer is one line saying why. Exit status: 0 nothing in split-brain, 1 some
resource is, 69 the peer could not be asked (and nothing is in split-brain here).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from carpswitch.config import load_config
from carpswitch.exitcodes import ExitCode
from carpswitch.recovery.pair import RecoveryPair
from carpswitch.recovery.verdict import holder, in_split_brain, to_run
from carpswitch.report import human_bytes
from carpswitch.system.runner import CommandRunner


def run_split_brain_facts(
    config_path: str | None, out: TextIO = sys.stdout, runner: CommandRunner | None = None
) -> int:
    """Print this node's facts as one JSON object."""
    pair = RecoveryPair(load_config(config_path), runner)
    out.write(json.dumps(pair.facts(), sort_keys=True) + "\n")
    return ExitCode.OK


def summary(pair: RecoveryPair) -> dict[str, Any]:
    """Both nodes' facts and, per resource in split-brain, the holder and what to run."""
    try:
        this = pair.facts()
        peer = pair.peer_facts()
    finally:
        pair.close()
    other: dict[str, Any] = peer if isinstance(peer, dict) else {"node": pair.peer_name}
    names = sorted(
        name
        for name in {*this["resources"], *other.get("resources", {})}
        if in_split_brain(this, name) or in_split_brain(other, name)
    )
    resources = {}
    for name in names:
        if isinstance(peer, dict):
            keep = holder(this, peer, name)
            node, why = keep.node, keep.reason
        else:
            node, why = None, f"unknown: {peer}"
        resources[name] = {
            "holder": node,
            "why": why,
            "to_run": to_run(name, pair.name, pair.peer_name, node),
            "note": _keeper_note(name, node, this, other),
        }
    return {
        "this": this,
        "peer": peer if isinstance(peer, dict) else {"node": pair.peer_name, "error": peer},
        "split_brain": resources,
    }


def _keeper_note(
    name: str, keeper: str | None, this: dict[str, Any], peer: dict[str, Any]
) -> str | None:
    """What to do first when the side to keep is not primary (resolve refuses then)."""
    facts = this if keeper == this["node"] else peer if keeper is not None else None
    if facts is None:
        return None
    role = facts.get("resources", {}).get(name, {}).get("role")
    if role == "primary":
        return None
    return (
        f"{keeper} is {role or 'unknown'}, not primary: make it primary first "
        "(carpswitch promote --force GROUP there): hastd synchronises from the primary"
    )


def _side(facts: dict[str, Any], name: str, label: str) -> str:
    if "error" in facts:
        return f"  {label}: {facts['error']}"
    found = facts.get("resources", {}).get(name)
    if found is None:
        return f"  {label}: hastd does not know {name}"
    words = [
        f"role {found.get('role') or 'unknown'}",
        f"status {found.get('status') or 'unknown'}",
        f"dirty {human_bytes(found.get('dirty'))}",
        f"marked since {found['mark']}" if found.get("mark") else "not marked",
    ]
    if found.get("reported"):
        words.append(f"hastd reported split-brain at {found['reported']}")
    last = found.get("last_promotion")
    if isinstance(last, dict):
        words.append(f"last promoted {last.get('ended_at')} ({last.get('id')})")
    else:
        words.append("never promoted by carpswitch")
    return f"  {label}: " + ", ".join(words)


def render(result: dict[str, Any]) -> str:
    this, peer = result["this"], result["peer"]
    lines = [f"carpswitch: {p} ({this['node']})" for p in this.get("problems", [])]
    lines += [f"carpswitch: {p} ({peer['node']})" for p in peer.get("problems", [])]
    if "error" in peer:
        lines.append(f"peer: {peer['error']}")
    if not result["split_brain"]:
        lines.append("no resource in split-brain")
    for name, verdict in result["split_brain"].items():
        lines.append(f"split-brain on {name}:")
        lines.append(_side(this, name, f"{this['node']} (this node)"))
        lines.append(_side(peer, name, f"{peer['node']} (peer)"))
        keeper = verdict["holder"] or "unknown"
        lines.append(f"  acknowledged data: {keeper} ({verdict['why']})")
        if verdict["note"]:
            lines.append(f"  first: {verdict['note']}")
        lines += [f"  run here: {command}" for command in verdict["to_run"]]
    return "\n".join(lines) + "\n"


def run_split_brain_status(
    config_path: str | None,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    runner: CommandRunner | None = None,
) -> int:
    """Print the split-brain picture of both nodes (see module doc for the exit status)."""
    result = summary(RecoveryPair(load_config(config_path), runner))
    out.write(json.dumps(result, sort_keys=True) + "\n" if as_json else render(result))
    if result["split_brain"]:
        return ExitCode.FAILED
    return ExitCode.UNAVAILABLE if "error" in result["peer"] else ExitCode.OK
