"""`carpswitch split-brain resolve RES --keep-this|--discard-this [--yes] [--force]`.

HAST's documented fix (hastd(8)): the side whose data goes becomes init, gets new
metadata (`hastctl create`) and becomes secondary; the kept primary then synchronises it
fully. `--discard-this` does that here (carpswitch.recovery.discard) and clears the peer's
mark over ssh; `--keep-this` checks and shows the plan here, then runs `split-brain
resolve RES --discard-this --yes --checked-by THIS` on the peer over ssh (`--checked-by`,
not in --help: the caller has checked both nodes and asked, so the peer neither asks again
nor needs ssh back) and clears this node's mark when it succeeded.

Every check comes before any change: the resource is known and readable on the
discarding side, a primary there belongs to a group carpswitch can demote, the kept side
is primary (hastd synchronises from the primary), the peer answers, the resource is in
split-brain on a node, and the choice does not discard the side holding the acknowledged
data (carpswitch.recovery.verdict: the side promoted last, or unknown). --force overrides
all but the first two (an unreachable peer only for --discard-this: with --keep-this the
work is the peer's). Then the typed resource name,
unless --yes. Exit status: 0 resolved, 1 refused, not confirmed or stopped (the message
says where and how to go on), 64 usage, 69 the peer unreachable, 75 busy, 78 config.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from carpswitch.config import load_config
from carpswitch.engine.lock import ActorLock, LockBusy
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.errors import CarpswitchError, one_line
from carpswitch.exitcodes import ExitCode
from carpswitch.recovery.discard import Demote, Stopped, controller_demote, discard
from carpswitch.recovery.pair import RecoveryPair
from carpswitch.recovery.verdict import holder, in_split_brain
from carpswitch.setup.ssh import REMOTE_SECONDS
from carpswitch.system.runner import CommandRunner

log = logging.getLogger(__name__)

#: Any exit status of the remote carpswitch is its answer; ssh's own 255 is not.
_REMOTE_STATUSES = tuple(range(255))
CLEAR_SECONDS = 60.0


class Refusal(Exception):
    """A check failed: nothing changed. `status` is the exit status."""

    def __init__(self, message: str, status: int = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Resolve:
    """One `split-brain resolve` run (see module doc)."""

    pair: RecoveryPair
    resource: str
    keep: bool
    yes: bool = False
    force: bool = False
    checked_by: str | None = None
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    demote: Demote | None = None
    notes: list[str] = field(default_factory=list)

    def run(self) -> int:
        try:
            return self._run()
        except (Refusal, Stopped) as exc:
            status = exc.status if isinstance(exc, Refusal) else ExitCode.FAILED
            self.err.write(f"carpswitch: split-brain resolve {self.resource}: {exc}\n")
            return status

    def _run(self) -> int:
        this = self.pair.facts()
        if self.checked_by is not None:
            return self._discard_for_peer(this)
        peer = self.pair.peer_facts()
        if isinstance(peer, str):
            if self.keep or not self.force:
                why = "its copy is the one to discard" if self.keep else "use --force to go on"
                raise Refusal(f"{peer}: nothing changed ({why})", ExitCode.UNAVAILABLE)
            self.notes.append(f"{peer}: its mark is not cleared")
        discarding = peer if self.keep else this
        kept = this if self.keep else peer
        if isinstance(discarding, dict):
            self._check_discardable(discarding)
        if isinstance(kept, dict):
            self._check_keeper(kept)
        self._check_choice(this, peer if isinstance(peer, dict) else None)
        self._show_plan(discarding if isinstance(discarding, dict) else this)
        self._confirm()
        if self.keep:
            return self._discard_there()
        return self._discard_here(this, clear_peer=isinstance(peer, dict))

    # -- checks (nothing changes) -----------------------------------------------------

    @property
    def keeper(self) -> str:
        return self.pair.name if self.keep else self.pair.peer_name

    @property
    def loser(self) -> str:
        return self.pair.peer_name if self.keep else self.pair.name

    def _resource_of(self, facts: dict[str, Any]) -> dict[str, Any]:
        found = facts["resources"].get(self.resource)
        node = facts["node"]
        if not isinstance(found, dict) or found.get("role") is None:
            problems = "; ".join(facts.get("problems", [])) or "hastd there does not know it"
            raise Refusal(f"cannot read {self.resource}'s role on {node} ({problems})")
        return found

    def _check_discardable(self, facts: dict[str, Any]) -> None:
        found = self._resource_of(facts)
        if found["role"] == "primary" and not found.get("groups"):
            raise Refusal(
                f"{self.resource} is primary on {facts['node']} and in no group carpswitch "
                "demotes: demote it there by hand first"
            )

    def _check_keeper(self, facts: dict[str, Any]) -> None:
        """The kept side must be primary: hastd synchronises from the primary, and a
        recreated (virgin) copy promoted later would be synchronised over the kept one."""
        found = facts["resources"].get(self.resource)
        role = found.get("role") if isinstance(found, dict) else None
        if role != "primary" and not self.force:
            raise Refusal(
                f"{self.resource} is {role or 'unknown'} on {facts['node']}, the side to keep: "
                "hastd synchronises from the primary; make it primary there first "
                "(carpswitch promote --force GROUP), then resolve: nothing changed"
            )

    def _check_choice(self, this: dict[str, Any], peer: dict[str, Any] | None) -> None:
        marked = in_split_brain(this, self.resource) or (
            peer is not None and in_split_brain(peer, self.resource)
        )
        if not marked and not self.force:
            raise Refusal(
                f"{self.resource} is not in split-brain on either node (no mark, no hastd "
                "report): nothing changed (--force recreates it anyway)"
            )
        if peer is None:
            return
        verdict = holder(this, peer, self.resource)
        if self.force:
            return
        if verdict.node == self.loser:
            raise Refusal(
                f"this would discard {self.loser}, which holds the acknowledged data "
                f"({verdict.reason}): nothing changed (--force if you know better)"
            )
        if verdict.node is None:
            raise Refusal(
                f"cannot tell which side holds the acknowledged data ({verdict.reason}): "
                "nothing changed (--force to choose anyway)"
            )

    def _show_plan(self, discarding: dict[str, Any]) -> None:
        found = discarding["resources"].get(self.resource, {})
        lines = [f"plan: keep {self.keeper}'s copy of {self.resource}, discard {self.loser}'s"]
        if found.get("role") == "primary":
            for group in found.get("groups", []):
                lines.append(f"  on {self.loser}: carpswitch demote {group}")
        for what in ("role init", "create", "role secondary"):
            lines.append(f"  on {self.loser}: hastctl {what} {self.resource}")
        lines.append(
            f"  then clear the split-brain marks on both nodes; {self.keeper}'s primary "
            f"synchronises {self.loser} fully"
        )
        lines += [f"  note: {note}" for note in self.notes]
        self.out.write("\n".join(lines) + "\n")

    def _confirm(self) -> None:
        if self.yes:
            return
        self.out.write(f"type {self.resource} to discard {self.loser}'s copy: ")
        self.out.flush()
        answer = self.stdin.readline().strip()
        if answer != self.resource:
            raise Refusal("not confirmed: nothing changed")

    # -- changes ------------------------------------------------------------------------

    def _discard_for_peer(self, this: dict[str, Any]) -> int:
        if self.keep or self.checked_by != self.pair.peer_name:
            raise Refusal(
                f"--checked-by {one_line(self.checked_by or '', 40)}: only the peer "
                f"{self.pair.peer_name} passes it, with --discard-this",
                ExitCode.USAGE,
            )
        self._check_discardable(this)
        return self._discard_here(this, clear_peer=False)

    def _discard_here(self, this: dict[str, Any], clear_peer: bool) -> int:
        found = self._resource_of(this)
        demote = self.demote or controller_demote(self.pair.ctx)
        discard(
            self.pair.config,
            self.pair.runner,
            self.resource,
            found["role"],
            found.get("groups", []),
            demote,
            self.out,
        )
        status = self._clear_here()
        if self.checked_by is None:  # the keeping peer clears its own mark
            why = self._clear_peer() if clear_peer else "was not reached"
            if why is not None:
                self.err.write(
                    f"carpswitch: {self.pair.peer_name} {why}: its mark stays; run `carpswitch "
                    f"split-brain clear {self.resource}` on {self.pair.peer_name}\n"
                )
                status = ExitCode.FAILED
        self.out.write(
            f"{self.resource} on {self.pair.name} is secondary with new metadata; "
            f"{self.pair.peer_name}'s primary synchronises it fully\n"
        )
        return status

    def _clear_peer(self) -> str | None:
        """Drop the peer's mark over ssh; None when done (or it had none), else why not."""
        if self.pair.peer is None:
            return "unknown"
        try:
            words = ["split-brain", "clear", "--", self.resource]
            self.pair.peer.carpswitch(words, CLEAR_SECONDS)
        except CarpswitchError as exc:  # exit 1 is fine: the peer had no mark
            return f"({one_line(str(exc))})"
        return None

    def _discard_there(self) -> int:
        peer = self.pair.peer
        assert peer is not None  # the peer's facts were read
        words = ["split-brain", "resolve", "--discard-this", "--yes"]
        words += ["--checked-by", self.pair.name, "--", self.resource]
        limit = REMOTE_SECONDS["resolve"]
        log.warning(
            "split-brain resolve %s: discarding %s's copy over ssh", self.resource, self.loser
        )
        try:
            result = peer.carpswitch(words, limit, ok_codes=_REMOTE_STATUSES)
        except CarpswitchError as exc:
            raise Refusal(
                f"{one_line(str(exc))}: the discard on {self.loser} may be half done: "
                "run carpswitch split-brain status",
                ExitCode.UNAVAILABLE,
            ) from exc
        for line in (result.stdout + result.stderr).splitlines():
            self.out.write(f"  {self.loser}: {line}\n")
        if result.exit_status != 0:
            raise Refusal(
                f"the discard on {self.loser} stopped (exit {result.exit_status}, see above); "
                f"this node's mark stays"
            )
        status = self._clear_here()
        self.out.write(f"{self.resource}: {self.keeper}'s copy kept; {self.loser} resyncs\n")
        return status

    def _clear_here(self) -> int:
        marks = SplitBrainMarks(self.pair.config.paths.state_dir)
        try:
            with ActorLock(self.pair.config.paths.run_dir):
                if marks.clear(self.resource):
                    log.warning("split-brain mark on %s cleared by resolve", self.resource)
        except (LockBusy, OSError) as exc:
            self.err.write(
                f"carpswitch: mark on {self.resource} not cleared ({one_line(str(exc))}): "
                f"run carpswitch split-brain clear {self.resource}\n"
            )
            return ExitCode.FAILED
        return ExitCode.OK


def run_split_brain_resolve(
    config_path: str | None,
    resource: str,
    keep: bool,
    yes: bool = False,
    force: bool = False,
    checked_by: str | None = None,
    runner: CommandRunner | None = None,
    demote: Callable[[str], str | None] | None = None,
) -> int:
    """Resolve `resource`'s split-brain (see module doc)."""
    pair = RecoveryPair(load_config(config_path), runner)
    try:
        return Resolve(pair, resource, keep, yes, force, checked_by, demote=demote).run()
    finally:
        pair.close()
