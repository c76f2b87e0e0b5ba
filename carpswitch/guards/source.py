"""What this node's daemon tells a peer that asks: its view (carpswitch.guards.view).

The HAST roles come from a fresh `hastctl list` (a peer deciding whether to promote must
see a demotion that just happened); the server (carpswitch.guards.server) looks at most
once a second and never twice at a time, so a flood of connections cannot fork a flood of
hastctl. The advskews come from a fresh `ifconfig` too: both sides of a tie-break must
compare the same numbers (review F9).
"""

from __future__ import annotations

from carpswitch.config import Config
from carpswitch.errors import CommandError, ParseError, one_line
from carpswitch.guards.look import node_name
from carpswitch.guards.terms import Terms
from carpswitch.guards.view import PeerView
from carpswitch.system.observe import Observer


class ViewSource:
    """`source()` -> this node's PeerView now; never raises for hastd's trouble."""

    def __init__(
        self,
        config: Config,
        observer: Observer,
    ) -> None:
        self.config = config
        self.observer = observer
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
        """advskew per configured group, as ifconfig shows it now (net.inet.carp.demotion
        is not in it: CARP adds it to the adverts, not to the vhid); unreadable: none."""
        interfaces = sorted({g.interface for g in self.config.group if g.interface})
        vhids, _unreadable = self.observer.carp_state(interfaces or None)
        found = {}
        for group in self.config.group:
            vhid = next(
                (
                    v
                    for v in vhids
                    if v.vhid == group.vhid and group.interface in (None, v.interface)
                ),
                None,
            )
            if vhid is not None:
                found[group.name] = vhid.advskew
        return found
