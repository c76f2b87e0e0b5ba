"""Where the node stands, for `status`: one word, and why it is not primary when it could be.

The word is the first that holds, in this order: promoting or demoting (a running file
names a live transition), paused (the admin said so), held (max_failures: only `clear`
helps), settling (events wait out `[intake] settle`, or sit in the inbox), failed (the
last transition failed, or a crash interrupted it, and nothing finished since), idle.
Pure: `status` gathers the facts from small files and its own look at the node; nothing
here reads the journal.

A group "could be primary" when its CARP vhid is MASTER here; the reasons say, in the
admin's words and with what to run, why some of its resources are not primary yet. The
guards of issue 12 add their verdicts through `vetoes`: the split-brain marks
(`split-brain on tank: resolve it, then run carpswitch split-brain clear`, split_brain_vetoes)
and the last look at the witnesses and the peer (run_dir/guards.json, guard_vetoes).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from carpswitch.engine.splitbrain import Marks
from carpswitch.model import (
    CarpState,
    HastRole,
    NodeState,
    StepOutcome,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.report import ControllerStatus
from carpswitch.topology import Group, Topology

FAILED_STEP = (StepOutcome.FAILED, StepOutcome.TIMED_OUT)
#: A transition a crash interrupted ended no better than one that failed.
ENDED_BADLY = (TransitionOutcome.FAILED, TransitionOutcome.INTERRUPTED)


class Standing(StrEnum):
    """The state in one word."""

    IDLE = "idle"
    SETTLING = "settling"
    PROMOTING = "promoting"
    DEMOTING = "demoting"
    FAILED = "failed"
    HELD = "held"
    PAUSED = "paused"


def standing(facts: ControllerStatus) -> Standing:
    """The first word that holds (see the module's docstring for the order)."""
    if facts.running:
        promoting = facts.running[0].kind is TransitionKind.PROMOTE
        return Standing.PROMOTING if promoting else Standing.DEMOTING
    if facts.paused is not None:
        return Standing.PAUSED
    if facts.held:
        return Standing.HELD
    if facts.settling:
        return Standing.SETTLING
    last = facts.last
    if last is not None and last.outcome in ENDED_BADLY:
        return Standing.FAILED
    return Standing.IDLE


def failed_step(record: TransitionRecord) -> StepResult | None:
    """The step that made `record` fail (the first that failed or timed out)."""
    return next((r for r in record.steps if r.outcome in FAILED_STEP), None)


def why_failed(record: TransitionRecord) -> str:
    """What the failed step said (`/dev/hast/tank did not appear within 10 s`), or the
    reason when no step failed (a journal write, say)."""
    step = failed_step(record)
    if step is None:
        return record.reason
    return " ".join(step.detail.split()) or f"{step.step.description}: {step.outcome}"


def not_primary_reasons(topology: Topology, state: NodeState, facts: ControllerStatus) -> list[str]:
    """One line per group that could be primary here and is not, saying why."""
    reasons = []
    for group in topology.groups:
        vhid = state.vhid(group.vhid, group.interface)
        if vhid is None or vhid.state is not CarpState.MASTER:
            continue
        behind = [name for name in group.resources if _role(state, name) is not HastRole.PRIMARY]
        if not behind:
            continue
        roles = ", ".join(f"{name} {_role(state, name) or 'unreadable'}" for name in behind)
        why = _why(topology, group, facts)
        reasons.append(f"group {group.name}: CARP MASTER but {roles}: {why}")
    return reasons


def split_brain_vetoes(
    topology: Topology, marks: Marks, vetoes: dict[str, list[str]]
) -> dict[str, list[str]]:
    """`vetoes` with one line for each group a split-brain mark keeps from promotion."""
    merged = {name: list(lines) for name, lines in vetoes.items()}
    for group in topology.groups:
        reason = marks.reason(group.resources)
        if reason is not None:
            merged.setdefault(group.name, []).insert(0, reason)
    return merged


def guard_vetoes(
    topology: Topology, look: Mapping[str, Any] | None, vetoes: dict[str, list[str]]
) -> dict[str, list[str]]:
    """`vetoes` with the last guard look's: no witness answered, the peer said primary."""
    merged = {name: list(lines) for name, lines in vetoes.items()}
    if look is None:
        return merged
    witness = _table(look, "witness")
    lost = None
    if "reachable" in witness and not witness["reachable"]:
        listed = _table(witness, "lost")
        lost = "no witness reachable (" + "; ".join(f"{a}: {w}" for a, w in listed.items()) + ")"
    peer = _table(look, "peer")
    roles = _table(peer, "roles")
    for group in topology.groups:
        primary = [r for r in group.resources if roles.get(r) == "primary"]
        if primary:
            who = peer.get("name") or peer.get("address")
            line = f"peer still primary ({who}: {', '.join(primary)} primary)"
            merged.setdefault(group.name, []).append(line)
        if lost:
            merged.setdefault(group.name, []).append(lost)
    return merged


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """data[key] when it is a table, else an empty one (the look's file is only ours, but
    a status must never fail on it)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def guards_line(look: Mapping[str, Any] | None, now: float) -> str | None:
    """`guards: witness 198.18.0.10 answers; peer hastb: tank secondary (2 s ago)`."""
    if look is None:
        return None
    parts = []
    witness = look.get("witness")
    if isinstance(witness, dict):
        reachable = witness.get("reachable") or []
        parts.append(
            f"witness {', '.join(reachable)} answers"
            if reachable
            else f"no witness answers (for {witness.get('lost_for', 0):.0f} s)"
        )
    peer = look.get("peer")
    if isinstance(peer, dict):
        who = peer.get("name") or peer.get("address")
        roles = peer.get("roles")
        if isinstance(roles, dict):
            listed = ", ".join(f"{r} {role}" for r, role in sorted(roles.items()))
            parts.append(f"peer {who}: {listed or 'no resource'}")
        else:
            parts.append(f"peer {who}: {peer.get('problem') or 'no answer'}")
    at = look.get("at")
    age = f" ({max(0.0, now - at):.0f} s ago)" if isinstance(at, int | float) else ""
    return f"guards: {'; '.join(parts)}{age}" if parts else None


def _role(state: NodeState, name: str) -> HastRole | None:
    resource = next((r for r in state.resources if r.name == name), None)
    return resource.role if resource is not None and not resource.error else None


def _why(topology: Topology, group: Group, facts: ControllerStatus) -> str:
    """The first cause that explains it, with what to run."""
    if any(r.group == group.name for r in facts.running):
        return "a transition is running"
    if facts.paused is not None:
        return f"paused ({facts.paused or 'no reason given'}): run `carpswitch resume`"
    if facts.held:
        return f"{_held(facts)}: run `carpswitch clear`"
    problems = topology.problems_of(group)
    if problems:
        return f"configuration: {problems[0]}: run `carpswitch check`"
    if facts.vetoes.get(group.name):
        return "; ".join(facts.vetoes[group.name])
    if facts.settling:
        return "events wait out [intake] settle"
    last = facts.group_last.get(group.name)
    if last is None:
        return "no transition recorded yet: `carpswitch reconcile` (or the daemon's timer) acts"
    if last.outcome is TransitionOutcome.FAILED and last.kind is TransitionKind.PROMOTE:
        record = facts.last
        detail = why_failed(record) if record is not None and record.id == last.id else last.reason
        return f"the last promotion failed ({detail}): see `carpswitch history {last.id}`"
    if last.outcome in (TransitionOutcome.REFUSED, TransitionOutcome.UNREAD):
        return f"the last {last.kind} was {last.outcome}: {last.reason}"
    return (
        f"the last transition was a {last.kind} ({last.outcome}); "
        "`carpswitch reconcile` (or the daemon's timer) acts"
    )


def _held(facts: ControllerStatus) -> str:
    """The recorded reason of the hold: the book's note, or the failures and the last one."""
    if facts.held_because:
        return f"held: {facts.held_because}"
    last = facts.last
    if last is not None and last.kind is TransitionKind.PROMOTE and failed_step(last):
        return f"{facts.failures} failed promotions, the last: {why_failed(last)}"
    return f"held after {facts.failures} failed promotions"
