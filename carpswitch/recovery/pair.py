"""This node and its peer for the split-brain commands: facts here, facts there over ssh.

The peer is the set-up's Peer (carpswitch/setup/ssh.py): key-based ssh through the one
runner, bounded. Without `[cluster]` in carpswitch.toml, or when ssh fails, times out or
answers something that is not the peer's facts, `peer_facts` is the one-line reason and
never an exception: `status` shows it, `resolve` refuses on it.
"""

from __future__ import annotations

import json
from typing import Any

from carpswitch.config import Config
from carpswitch.context import NodeContext
from carpswitch.errors import CarpswitchError
from carpswitch.recovery.facts import node_facts
from carpswitch.recovery.verdict import check_facts
from carpswitch.setup.ssh import REMOTE_SECONDS, Peer
from carpswitch.system.runner import CommandRunner


class RecoveryPair:
    """This node's context and name; its peer when [cluster] names one."""

    def __init__(self, config: Config, runner: CommandRunner | None = None) -> None:
        self.config = config
        self.ctx = NodeContext(config, runner)
        self.runner = self.ctx.runner
        self.peer: Peer | None = None
        self.no_peer: str | None = None
        cluster = config.cluster
        if cluster is None:
            self.name = self.ctx.node_names()[0]
            self.no_peer = "no [cluster] in carpswitch.toml (carpswitch setup init writes it)"
            return
        from carpswitch.setup.render import this_host

        me = this_host(config)
        self.name = me.name
        self.peer = Peer(config, cluster.peer(me), self.runner)

    @property
    def peer_name(self) -> str:
        return "the peer" if self.peer is None else self.peer.host.name

    def facts(self) -> dict[str, Any]:
        return node_facts(self.ctx, self.name)

    def peer_facts(self) -> dict[str, Any] | str:
        """The peer's facts, or why there are none (one line)."""
        if self.peer is None:
            return self.no_peer or "no peer"
        limit = self.config.cluster.ssh.connect_timeout if self.config.cluster else 0
        try:
            result = self.peer.carpswitch(
                ["split-brain", "facts", "--json"], limit + REMOTE_SECONDS["facts"]
            )
            if result.exit_status != 0:
                raise CarpswitchError(f"exit status {result.exit_status}: {result.stderr}")
            try:
                answer = json.loads(result.stdout)
            except ValueError:
                answer = result.stdout[:120]
            return check_facts(answer, self.peer.host.name)
        except CarpswitchError as exc:
            text = " ".join(str(exc).split())
            prefix = f"peer {self.peer.host.name}"
            return text if text.startswith(prefix) else f"{prefix}: {text}"

    def close(self) -> None:
        if self.peer is not None:
            self.peer.close()
