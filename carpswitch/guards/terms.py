"""Promotion terms: which of two primaries is the newer one, without trusting clocks.

Every promotion that passes the peer guard takes the group's term one past the highest
term this node has heard of (its own, the peer's last answer, the peer's answer now),
durably before `hastctl role primary`. So when two primaries meet (a frozen host thaws, a
cut cable is mended), the one with the higher term is the one that took over while the
other could not be reached: the clients have written to it since, and it keeps the role.
A Raft/Patroni habit: a counter both sides see, where wall clocks may disagree.

state_dir/terms.json: {"own": {GROUP: N}, "seen": {GROUP: N}}. An unreadable file reads
as no terms (logged): this node then loses every tie-break, which is the safe side.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

from carpswitch.statefiles import make_private_dir, read_state_file, replace_file

log = logging.getLogger(__name__)

TERMS_NAME = "terms.json"


@dataclass(frozen=True)
class TermBook:
    """Own terms per group, and the highest term of the peer seen per group."""

    own: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    def of(self, group: str) -> int:
        """This node's term for `group` (0: never promoted it through the peer guard)."""
        return self.own.get(group, 0)


class Terms:
    """Reads and writes state_dir/terms.json (atomic replace, fsynced)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, TERMS_NAME)

    def read(self) -> TermBook:
        """The saved terms; none when the file is absent or unreadable (logged)."""
        try:
            data = json.loads(read_state_file(self.path))
            return TermBook(_counts(data["own"]), _counts(data["seen"]))
        except FileNotFoundError:
            return TermBook()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s): as no terms", self.path, exc)
            return TermBook()

    def bump(self, group: str, peer_term: int | None = None) -> int:
        """Take `group`'s term past every term known (and `peer_term`); durable on return.

        Raises OSError when it cannot be written: a promotion must not go on without it.
        """
        book = self.read()
        term = max(book.of(group), book.seen.get(group, 0), peer_term or 0) + 1
        self._save(TermBook({**book.own, group: term}, _raised(book.seen, group, peer_term)))
        return term

    def saw(self, group: str, peer_term: int) -> None:
        """Remember the peer's term for `group` when it is higher than any seen (best effort:
        a failed write is logged, the next answer brings it again)."""
        book = self.read()
        if peer_term <= book.seen.get(group, 0):
            return
        try:
            self._save(TermBook(book.own, _raised(book.seen, group, peer_term)))
        except OSError as exc:
            log.warning("cannot remember the peer's term in %s: %s", self.path, exc)

    def _save(self, book: TermBook) -> None:
        make_private_dir(self.state_dir)
        data = json.dumps({"own": book.own, "seen": book.seen}, sort_keys=True) + "\n"
        replace_file(self.path, data.encode())


def _raised(seen: dict[str, int], group: str, term: int | None) -> dict[str, int]:
    if term is None or term <= seen.get(group, 0):
        return dict(seen)
    return {**seen, group: term}


def _counts(value: object) -> dict[str, int]:
    """{group: term} from JSON; TypeError for anything else."""
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, not {type(value).__name__}")
    counts = {}
    for key, term in value.items():
        if not isinstance(term, int) or isinstance(term, bool) or term < 0:
            raise TypeError(f"term of {key!r} is not a count: {term!r}")
        counts[str(key)] = term
    return counts
