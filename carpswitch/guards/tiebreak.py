"""Two primaries found: which side steps down. Pure; both sides reach the same answer.

1. The lower promotion term steps down (carpswitch.guards.terms): the higher term took
   over while the other side could not be reached, so the clients' writes since are there.
   advskew alone would keep CARP's favourite, which after a freeze or a cut cable is the
   stale side, and lose those writes.
2. Equal terms (both promoted without hearing of each other): the higher advskew steps
   down, as CARP itself would decide between two masters.
3. Equal advskew: the greater node name steps down; a fixed order, so never both or none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Side:
    """One primary as the tie-break sees it."""

    name: str
    term: int
    advskew: int | None  # None: not known (the side loses a tie on advskew)


def steps_down(me: Side, peer: Side) -> tuple[bool, str]:
    """Whether `me` steps down, and why in one line (the same words on both sides)."""
    if me.term != peer.term:
        older, newer = (me, peer) if me.term < peer.term else (peer, me)
        why = f"{older.name}'s term {older.term} is older than {newer.name}'s {newer.term}"
        return me.term < peer.term, why
    mine, theirs = _skew(me), _skew(peer)
    if mine != theirs:
        worse = me if mine > theirs else peer
        return mine > theirs, f"equal terms ({me.term}); {worse.name} has the higher advskew"
    greater = max(me.name, peer.name)
    return me.name == greater, f"equal terms and advskew; {greater} has the greater name"


def _skew(side: Side) -> int:
    """An unknown advskew counts as worse than any (256 > CARP's 255)."""
    return 256 if side.advskew is None else side.advskew
