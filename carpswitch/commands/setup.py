"""`carpswitch setup plan|apply|check`: this node first, then the peer over ssh.

`apply` plans both nodes before it changes anything: a transport error (no key, host key
unknown, peer unreachable), a peer that is the wrong host or has a broken carpswitch.toml,
or a read that fails on either node stops it with nothing changed anywhere. Then it
applies this node, then the peer. Killed in between, a new `apply` finds this node done
and completes the peer. Exit status: 0 done (or nothing to do; check: identical),
1 failed (check: the nodes differ), 78 config error.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from carpswitch.config import ClusterHost, Config, config_path, load_config
from carpswitch.setup.check import differences, node_facts
from carpswitch.setup.files import SetupError
from carpswitch.setup.node import apply_node, plan_node
from carpswitch.setup.receive import shared_of
from carpswitch.setup.render import cluster_of, this_host
from carpswitch.setup.report import NOTHING_TO_DO, done_text, plan_is_empty, plan_json, plan_text
from carpswitch.setup.ssh import Peer
from carpswitch.system.runner import CommandRunner, Runner


class Pair:
    """This node's config, its host and the peer (ssh through the same runner)."""

    def __init__(self, explicit: str | None, runner: CommandRunner | None = None) -> None:
        self.config_file = config_path(explicit)
        self.config: Config = load_config(explicit)
        cluster = cluster_of(self.config, self.config_file)
        self.me: ClusterHost = this_host(self.config)
        self.runner = runner if runner is not None else Runner(self.config.commands)
        self.peer = Peer(self.config, cluster.peer(self.me), self.runner)
        self.shared = shared_of(self.config)

    @property
    def peer_role(self) -> str:
        return f"peer, {self.peer.target}"

    def both(self, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """This node's plan or facts (`what`), then the peer's; the ssh master ended."""
        try:
            if what == "plan":
                plan = plan_node(self.config, self.me.name, self.config_file, self.runner)
                local = plan_json(plan)
            else:
                local = node_facts(self.config, self.me.name, self.config_file, self.runner)
            return local, self.peer.ask(what, self.shared)
        finally:
            self.peer.close()


def run_setup_plan(
    explicit: str | None,
    as_json: bool,
    out: TextIO = sys.stdout,
    runner: CommandRunner | None = None,
) -> int:
    """Print both nodes' plans; changes nothing. 0 (even with changes to make), or 1."""
    pair = Pair(explicit, runner)
    local, remote = pair.both("plan")
    if as_json:
        out.write(json.dumps({"local": local, "peer": remote}, sort_keys=True) + "\n")
    else:
        out.write(plan_text(local, "this node") + plan_text(remote, pair.peer_role))
        if plan_is_empty(local) and plan_is_empty(remote):
            out.write(NOTHING_TO_DO + "\n")
    return 0


def run_setup_apply(
    explicit: str | None, out: TextIO = sys.stdout, runner: CommandRunner | None = None
) -> int:
    """Plan both, then apply this node and the peer; print what was done."""
    pair = Pair(explicit, runner)
    try:
        plan = plan_node(pair.config, pair.me.name, pair.config_file, pair.runner)
        remote = pair.peer.ask("plan", pair.shared)
        if plan.empty and plan_is_empty(remote):
            out.write(NOTHING_TO_DO + "\n")
            return 0
        done = apply_node(pair.config, plan, pair.runner)
        out.write(done_text(pair.me.name, "this node", done))
        try:
            answer = pair.peer.ask("apply", pair.shared) if not plan_is_empty(remote) else {}
        except SetupError as exc:
            raise SetupError(
                f"{exc} (this node is set up; run carpswitch setup apply again)"
            ) from exc
        out.write(done_text(pair.peer.host.name, pair.peer_role, list(answer.get("did", []))))
    finally:
        pair.peer.close()
    return 0


def run_setup_check(
    explicit: str | None,
    as_json: bool,
    out: TextIO = sys.stdout,
    runner: CommandRunner | None = None,
) -> int:
    """Compare both nodes' facts: 0 identical and set up, 1 with one line per difference."""
    pair = Pair(explicit, runner)
    local, remote = pair.both("facts")
    found = differences(local, remote)
    if as_json:
        out.write(
            json.dumps({"local": local, "peer": remote, "differences": found}, sort_keys=True)
            + "\n"
        )
    elif found:
        out.writelines(line + "\n" for line in found)
    else:
        out.write(f"{pair.me.name} and {pair.peer.host.name} are identical and set up\n")
    return 1 if found else 0
