"""One look at the guards: ping the witnesses and ask the peer, together, each bounded.

What it found is plain data (carpswitch.guards.facts) for decide(); it is also left in
run_dir/guards.json for `status` (guards.lastlook reads it: status must not ping or ask).
How long every witness has been lost is kept in run_dir/witness-lost (CLOCK_MONOTONIC,
which every process shares and a reboot resets, as run_dir is emptied at boot).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from carpswitch.config import Config
from carpswitch.guards.facts import GuardFacts, PeerFacts, WitnessFacts
from carpswitch.guards.lastlook import GUARDS_NAME
from carpswitch.guards.peer import ask_peer
from carpswitch.guards.terms import Terms
from carpswitch.guards.witness import probe
from carpswitch.statefiles import make_private_dir, read_state_file, replace_file
from carpswitch.system.runner import CommandRunner

log = logging.getLogger(__name__)


LOST_NAME = "witness-lost"


def node_name(config: Config) -> str:
    """This node's name: [node].name, else the first label of the host name (as hastd)."""
    return config.node.name or socket.gethostname().split(".", 1)[0]


def peer_address(config: Config) -> str | None:
    """Where the peer's view is: [node].peer, else the other [cluster] host's address."""
    if config.node.peer is not None:
        return config.node.peer
    others = _cluster_hosts(config, mine=False)
    return others[0] if others else None


def view_address(config: Config) -> str | None:
    """Where this node serves its view: [node].view_listen, else its [cluster] address."""
    if config.node.view_listen is not None:
        return config.node.view_listen
    mine = _cluster_hosts(config, mine=True)
    return mine[0] if mine else None


def _cluster_hosts(config: Config, mine: bool) -> list[str]:
    if config.cluster is None:
        return []
    me = node_name(config)
    return [h.address for h in config.cluster.host if (h.name == me) is mine]


class GuardLook:
    """Looks at the guards of one node (the daemon keeps one; a reconcile makes one)."""

    def __init__(
        self,
        config: Config,
        runner: CommandRunner,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.runner = runner
        self.clock = clock
        self.terms = Terms(config.paths.state_dir)

    def look(self) -> GuardFacts | None:
        """The guards now (None when none is configured); never raises for their trouble."""
        guards = self.config.guards
        if not guards.enabled:
            return None
        found: dict[str, object] = {}
        threads = [
            threading.Thread(target=_logged(lambda: found.update(witness=self.witness()))),
            threading.Thread(target=_logged(lambda: found.update(peer=self.peer()))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()  # each is bounded: ping by the runner, the peer by view_timeout
        witness, peer = found.get("witness"), found.get("peer")
        if guards.witnesses and not isinstance(witness, WitnessFacts):  # a bug: not promoting
            witness = WitnessFacts((), {"witnesses": "the look failed (see the log)"})
        if guards.peer_view and not isinstance(peer, PeerFacts):
            peer = PeerFacts(peer_address(self.config) or "?", problem="the look failed")
        facts = GuardFacts(
            node=node_name(self.config),
            witness=witness if isinstance(witness, WitnessFacts) else None,
            peer=peer if isinstance(peer, PeerFacts) else None,
            self_fence=guards.self_fence,
            grace=guards.witness_grace,
            terms=self.terms.read().own,
        )
        self._leave_for_status(facts)
        return facts

    def witness(self) -> WitnessFacts | None:
        guards = self.config.guards
        if not guards.witnesses:
            return None
        verdict = probe(self.runner, guards.witnesses, guards.witness_timeout)
        lost_for = self._lost_for(verdict.any_reachable)
        return WitnessFacts(verdict.reachable, dict(verdict.lost), lost_for)

    def peer(self) -> PeerFacts | None:
        guards = self.config.guards
        if not guards.peer_view:
            return None
        address = peer_address(self.config)
        if address is None:
            return PeerFacts("?", problem="no peer address: set [node] peer (or [cluster])")
        answer = ask_peer(address, guards.view_port, guards.view_timeout)
        view = answer.view
        if view is None:
            return PeerFacts(address, problem=answer.unreachable, heard=False)
        for group, term in view.terms.items():
            self.terms.saw(group, term)
        if view.error is not None:
            return PeerFacts(address, view.node, problem=f"its hastd cannot be read: {view.error}")
        return PeerFacts(address, view.node, dict(view.resources), view.terms, view.advskew)

    def _lost_for(self, reachable: bool) -> float:
        """Seconds every witness has been lost (0 while one answers); best effort: a note
        that cannot be read starts the count again, one that cannot be written keeps it 0."""
        path = os.path.join(self.config.paths.run_dir, LOST_NAME)
        now = self.clock()
        try:
            if reachable:
                if os.path.lexists(path):
                    os.unlink(path)
                return 0.0
            try:
                since = float(read_state_file(path))
                if since > now:  # from before a reboot (run_dir survived it): start again
                    raise ValueError(since)
                return now - since
            except (FileNotFoundError, ValueError):
                make_private_dir(self.config.paths.run_dir)
                replace_file(path, f"{now}\n".encode(), durable=False)
                return 0.0
        except OSError as exc:
            log.warning("%s: %s: the witnesses count as lost just now", path, exc)
            return 0.0

    def _leave_for_status(self, facts: GuardFacts) -> None:
        path = os.path.join(self.config.paths.run_dir, GUARDS_NAME)
        record = {"at": time.time(), **facts.as_json()}
        try:
            make_private_dir(self.config.paths.run_dir)
            replace_file(path, (json.dumps(record, sort_keys=True) + "\n").encode(), durable=False)
        except OSError as exc:
            log.debug("cannot leave the guards' verdict in %s: %s", path, exc)


def _logged(look: Callable[[], None]) -> Callable[[], None]:
    """A thread's target that logs what escapes it (the caller sees the result missing)."""

    def run() -> None:
        try:
            look()
        except Exception:
            log.exception("looking at the guards failed")

    return run
