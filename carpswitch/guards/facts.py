"""What one look at the guards found: plain data for decide(), status and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carpswitch.guards.tiebreak import Side
from carpswitch.model import HastRole


@dataclass(frozen=True)
class PeerFacts:
    """The peer's answer, or why there is none (`roles` None: unreachable or unreadable)."""

    address: str
    name: str | None = None
    roles: Mapping[str, str] | None = None  # resource -> HAST role, as the peer's hastd says
    terms: Mapping[str, int] = field(default_factory=dict)
    advskew: Mapping[str, int] = field(default_factory=dict)
    problem: str | None = None  # one line: unreachable, malformed, its hastctl failed
    #: False when no view came back at all (no connection, or no answer in time): a hung
    #: peer is silent, one whose hastd cannot be read is not
    heard: bool = True

    def primary_of(self, resources: tuple[str, ...] | list[str]) -> list[str]:
        """The resources among `resources` the peer says it is primary for."""
        roles = self.roles or {}
        return [r for r in resources if roles.get(r) == HastRole.PRIMARY]

    def side(self, group: str) -> Side:
        """The peer as the tie-break sees it for `group` (its own term and advskew)."""
        return Side(self.name or self.address, self.terms.get(group, 0), self.advskew.get(group))

    def describe(self) -> str:
        """`hastb (198.18.0.2): tank primary` or `198.18.0.2: unreachable (...)`."""
        who = f"{self.name} ({self.address})" if self.name else self.address
        if self.roles is None:
            return f"{who}: {self.problem or 'no answer'}"
        listed = ", ".join(f"{r} {role}" for r, role in sorted(self.roles.items()))
        return f"{who}: {listed or 'no resource'}"


@dataclass(frozen=True)
class WitnessFacts:
    """The witnesses' verdict: reachable ones, lost ones with why, and since when."""

    reachable: tuple[str, ...]
    lost: Mapping[str, str]
    lost_for: float = 0.0  # seconds every witness has been lost (0 while one answers)

    @property
    def any_reachable(self) -> bool:
        return bool(self.reachable)

    def describe(self) -> str:
        """`198.18.0.10 answers` or `198.18.0.10: no reply; 192.0.2.1: no reply`."""
        if self.reachable:
            verb = "answers" if len(self.reachable) == 1 else "answer"
            return f"{', '.join(self.reachable)} {verb}"
        return "; ".join(f"{a}: {why}" for a, why in self.lost.items()) or "no witness"


@dataclass(frozen=True)
class GuardFacts:
    """One look at the guards. `witness` None: none configured; `peer` None: view off."""

    node: str
    witness: WitnessFacts | None = None
    peer: PeerFacts | None = None
    self_fence: bool = False
    grace: float = 6.0
    terms: Mapping[str, int] = field(default_factory=dict)  # this node's, per group

    def witness_lost(self) -> bool:
        """Witnesses are configured and none answered."""
        return self.witness is not None and not self.witness.any_reachable

    def fence_due(self) -> bool:
        """Self-fencing is on and every witness has been lost for the grace time."""
        witness = self.witness
        return (
            self.self_fence
            and witness is not None
            and not witness.any_reachable
            and witness.lost_for >= self.grace
        )

    def as_json(self) -> dict[str, Any]:
        """For status --json and run_dir/guards.json."""
        data: dict[str, Any] = {"node": self.node, "terms": dict(self.terms)}
        if self.witness is not None:
            data["witness"] = {
                "reachable": list(self.witness.reachable),
                "lost": dict(self.witness.lost),
                "lost_for": round(self.witness.lost_for, 1),
                "self_fence": self.self_fence,
            }
        if self.peer is not None:
            data["peer"] = {
                "address": self.peer.address,
                "name": self.peer.name,
                "roles": None if self.peer.roles is None else dict(self.peer.roles),
                "terms": dict(self.peer.terms),
                "problem": self.peer.problem,
            }
        return data
