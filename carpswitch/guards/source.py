"""What this node's daemon tells a peer that asks: its view (carpswitch.guards.view).

The HAST roles come from a fresh `hastctl list` (a peer deciding whether to promote must
see a demotion that just happened); the server (carpswitch.guards.server) looks at most
once a second and never twice at a time, so a flood of connections cannot fork a flood of
hastctl. The advskews are those the daemon's last reconcile observed (they change only
with the admin's ifconfig or a demotion, and only break ties of equal terms).
"""

from __future__ import annotations

from collections.abc import Callable

from carpswitch.config import Config
from carpswitch.errors import CommandError, ParseError, one_line
from carpswitch.guards.look import node_name
from carpswitch.guards.terms import Terms
from carpswitch.guards.view import PeerView
from carpswitch.model import NodeState
from carpswitch.system.observe import Observer


class ViewSource:
    """`source()` -> this node's PeerView now; never raises for hastd's trouble."""

    def __init__(
        self,
        config: Config,
        observer: Observer,
        last_state: Callable[[], NodeState | None] = lambda: None,
    ) -> None:
        self.config = config
        self.observer = observer
        self.last_state = last_state
        self.terms = Terms(config.paths.state_dir)

    def __call__(self) -> PeerView:
        name = node_name(self.config)
        terms = self.terms.read().own
        advskew = self._advskews()
        try:
            roles = {r.name: str(r.role) for r in self.observer.hast()}
        except (CommandError, ParseError) as exc:
            return PeerView(name, {}, terms, advskew, error=one_line(str(exc))[:300])
        return PeerView(name, roles, terms, advskew)

    def _advskews(self) -> dict[str, int]:
        state = self.last_state()
        if state is None:
            return {}
        found = {}
        for group in self.config.group:
            vhid = state.vhid(group.vhid, group.interface)
            if vhid is not None:
                found[group.name] = vhid.advskew
        return found
