"""Which side of a split-brain holds the acknowledged data, and what to run (pure).

The rule: acknowledged data is on the side that was primary last, i.e. whose journal has
the later successful promotion of the resource's group (its end time). A client writes to
the node that holds the CARP address; in a split-brain both became primary, and the one
promoted later took the address last, so the writes the client saw acknowledged last went
there. Neither journal with such a promotion, or both ending within CLOCK_SLACK of each
other, is "unknown": nothing says which side to keep, so `resolve` refuses either choice
without --force. The two nodes' clocks are compared: keep them synchronised (ntpd).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from carpswitch.errors import CarpswitchError, one_line

#: Promotions ending closer than this on the two nodes are too close to call.
CLOCK_SLACK = 2.0


class Holder(NamedTuple):
    """The node that holds the acknowledged data (None: unknown) and why, in one line."""

    node: str | None
    reason: str


def _ended(facts: dict[str, Any], resource: str) -> datetime | None:
    last = facts.get("resources", {}).get(resource, {}).get("last_promotion")
    if not isinstance(last, dict):
        return None
    try:
        return datetime.fromisoformat(str(last["ended_at"]))
    except (KeyError, ValueError):
        return None


def holder(this: dict[str, Any], peer: dict[str, Any], resource: str) -> Holder:
    """Who was primary last for `resource`, by both journals (see module doc)."""
    mine, theirs = _ended(this, resource), _ended(peer, resource)
    a, b = str(this["node"]), str(peer["node"])
    if mine is None and theirs is None:
        return Holder(None, "neither journal has a successful promotion of its group")
    if mine is None or theirs is None:
        node, when = (b, theirs) if mine is None else (a, mine)
        return Holder(node, f"only {node} was promoted (ended {when:%Y-%m-%d %H:%M:%S}Z)")
    if abs((mine - theirs).total_seconds()) < CLOCK_SLACK:
        return Holder(None, f"both promotions ended within {CLOCK_SLACK:g} s")
    node, when = (a, mine) if mine > theirs else (b, theirs)
    return Holder(node, f"{node} was primary last (promotion ended {when:%Y-%m-%d %H:%M:%S}Z)")


def check_facts(answer: object, expected: str) -> dict[str, Any]:
    """The peer's answer if it is facts of host `expected`; CarpswitchError otherwise (an
    ssh to the wrong host, or to this one, must not count as the peer)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("resources"), dict):
        said = one_line(str(answer), 120)
        raise CarpswitchError(f"not an answer of carpswitch split-brain facts: {said}")
    resources = answer["resources"]
    if not all(isinstance(v, dict) and _well_formed(v) for v in resources.values()):
        raise CarpswitchError("split-brain facts with a resource of another shape")
    if answer.get("node") != expected:
        said = one_line(str(answer.get("node")), 40)
        raise CarpswitchError(f"answered as node {said}, expected {expected}")
    return answer


def _well_formed(resource: dict[str, Any]) -> bool:
    """The fields resolve acts on have the types `facts` gives them."""
    groups = resource.get("groups", [])
    last = resource.get("last_promotion")
    return (
        resource.get("role") in (None, "init", "primary", "secondary")
        and isinstance(groups, list)
        and all(isinstance(g, str) for g in groups)
        and (last is None or isinstance(last, dict))
    )


def in_split_brain(facts: dict[str, Any], resource: str) -> bool:
    """Whether `facts` have `resource` marked or reported in split-brain."""
    return bool(facts.get("resources", {}).get(resource, {}).get("in_split_brain"))


def to_run(resource: str, this: str, peer: str, keep: str | None) -> list[str]:
    """What the admin runs: keep `keep`'s data (on this node's command line); both choices
    when the holder is unknown (one of them needs --force)."""
    if keep == this:
        return [f"carpswitch split-brain resolve {resource} --keep-this"]
    if keep == peer:
        return [f"carpswitch split-brain resolve {resource} --discard-this"]
    return [
        f"carpswitch split-brain resolve {resource} --keep-this --force   (keeps {this})",
        f"carpswitch split-brain resolve {resource} --discard-this --force   (keeps {peer})",
    ]
