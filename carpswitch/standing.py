"""Where the node stands, for `status`: one word, and why it is not primary when it could be.

The word is the first that holds, in this order: promoting or demoting (a running file
names a live transition), paused (the admin said so), held (max_failures: only `clear`
helps), settling (events wait out `[intake] settle`, or sit in the inbox), failed (the
last transition failed, or a crash interrupted it, and nothing finished since), idle.
Pure: `status` gathers the facts from small files and its own look at the node; nothing
here reads the journal.

A group "could be primary" when its CARP vhid is MASTER here; the reasons say, in the
admin's words and with what to run, why some of its resources are not primary yet. The
guards of issue 12 add their verdicts through `vetoes`: so far the split-brain marks
(`split-brain on tank: run carpswitch split-brain status`, split_brain_vetoes).
"""

from __future__ import annotations

from enum import StrEnum

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
