"""`carpswitch setup receive plan|apply|facts --as HOST`: the peer's side of set-up.

The node that runs `setup apply` sends the shared sections of its carpswitch.toml on stdin
(over ssh). This node checks that it IS host HOST (a wrong ssh target changes nothing),
keeps its own node-local sections ([node], [paths], [commands]: its own files and
programs), renders its own files, plans or applies, and prints one JSON object on stdout:
the plan, what it did, or its facts; `{"error": "..."}` and exit 1 when it cannot.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any, TextIO

from carpswitch.config import Config, config_path, load_config, parse_config
from carpswitch.errors import CarpswitchError
from carpswitch.setup.check import node_facts
from carpswitch.setup.node import apply_node, plan_node
from carpswitch.setup.render import this_host, with_node_part
from carpswitch.setup.report import plan_json
from carpswitch.system.runner import CommandRunner, Runner

WHATS = ("plan", "apply", "facts")
SENT = "carpswitch.toml sent by the peer"


def receive(
    what: str,
    as_host: str,
    explicit_config: str | None,
    shared_text: str,
    runner: CommandRunner | None = None,
) -> dict[str, Any]:
    """The JSON answer for `what`; raises CarpswitchError (shown as `{"error": ...}`)."""
    try:
        shared = parse_config(tomllib.loads(shared_text), SENT)
    except tomllib.TOMLDecodeError as exc:
        raise CarpswitchError(f"{SENT}: not TOML: {exc}") from exc
    config_file = config_path(explicit_config)
    local = load_config(explicit_config)
    config = with_node_part(shared, local)
    me = this_host(config)
    if me.name != as_host:
        raise CarpswitchError(f"this node is {me.name}, not {as_host}: nothing changed")
    run = runner if runner is not None else Runner(config.commands)
    if what == "facts":
        return node_facts(config, me.name, config_file, run)
    plan = plan_node(config, me.name, config_file, run)
    if what == "plan":
        return plan_json(plan)
    return {"host": me.name, "did": apply_node(config, plan, run)}


def run_receive(
    what: str,
    as_host: str,
    explicit_config: str | None,
    stdin: TextIO,
    stdout: TextIO,
    runner: CommandRunner | None = None,
) -> int:
    """Print the answer as one JSON object; 0, or 1 with `{"error": ...}`."""
    try:
        answer = receive(what, as_host, explicit_config, stdin.read(), runner)
        status = 0
    except CarpswitchError as exc:
        answer, status = {"error": " ".join(str(exc).split("\n"))}, 1
    stdout.write(json.dumps(answer, sort_keys=True) + "\n")
    return status


def shared_of(config: Config) -> str:
    """What is sent to the peer: the shared sections only, canonical."""
    from carpswitch.setup.render_toml import render_shared

    return render_shared(config)
