"""One node's split-brain facts: `carpswitch split-brain facts --json` prints them, and
`status`/`resolve` read this node's directly and the peer's over ssh (same shape).

Read only, and never raises for what cannot be read: hastctl failing, an unreadable marks
directory or journal become `problems` (one line each) and the facts that are left. A
resource is listed when hastd knows it, it is marked, or hastd reported it: a
`split-brain` event is "still reported" while it is the resource's last event among
split-brain, connect and syncdone (a resolved resource connects and synchronises again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from carpswitch.context import NodeContext
from carpswitch.engine.hastevents import HastEventLog
from carpswitch.engine.journal import Journal
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.errors import CommandError, ParseError, one_line
from carpswitch.model import HastResource, TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.topology import Topology

#: hastd events that end a split-brain report (hooks.c): the pair talks again.
HEALED_BY = ("connect", "syncdone")
FACTS_VERSION = 1


def reported(events: list[tuple[str, str, str]]) -> dict[str, str]:
    """Resource -> time of hastd's split-brain report still standing, from (resource,
    event, at) oldest first."""
    standing: dict[str, str] = {}
    for resource, event, at in events:
        if event == "split-brain":
            standing[resource] = at
        elif event in HEALED_BY:
            standing.pop(resource, None)
    return standing


def last_promotion(records: list[TransitionRecord], groups: set[str]) -> dict[str, str] | None:
    """The last promotion of one of `groups` that succeeded: its id, group and end time.
    A `noop` promotion found the node primary already and is no new start of service."""
    done = [
        r
        for r in records
        if r.kind is TransitionKind.PROMOTE
        and r.outcome is TransitionOutcome.SUCCEEDED
        and r.group in groups
        and r.ended_at is not None
    ]
    if not done:
        return None
    last = max(done, key=lambda r: r.ended_at or datetime.min.replace(tzinfo=UTC))
    ended = last.ended_at or datetime.min.replace(tzinfo=UTC)
    return {"id": last.id, "group": last.group, "ended_at": ended.isoformat()}


def node_facts(ctx: NodeContext, name: str) -> dict[str, Any]:
    """This node's facts as one JSON-able dict (see module doc)."""
    state_dir = ctx.config.paths.state_dir
    problems: list[str] = []
    hast: dict[str, HastResource] = {}
    try:
        hast = {r.name: r for r in ctx.observer.hast()}
    except (CommandError, ParseError) as exc:
        problems.append(f"hast: {one_line(str(exc))}")
    marks = SplitBrainMarks(state_dir).read()
    if marks.unreadable is not None:
        problems.append(f"split-brain marks unreadable ({marks.unreadable}): every resource")
    events = [(e.resource, e.event, e.at) for e in HastEventLog(state_dir).events() if e.resource]
    standing = reported(events)
    journal = Journal(state_dir)
    records = journal.records()
    problems += journal.problems
    topology = _topology(ctx, problems)
    names = sorted({*hast, *topology.resources, *marks.resources, *standing})
    resources = {}
    for resource in names:
        groups = {g.name for g in topology.groups if resource in g.resources}
        mark = marks.details.get(resource) if resource in marks.resources else None
        if mark is None and marks.unreadable is not None:
            mark = "unknown (marks unreadable)"
        observed = hast.get(resource)
        resources[resource] = {
            "role": None if observed is None or observed.role is None else str(observed.role),
            "status": None if observed is None or observed.status is None else str(observed.status),
            "dirty": None if observed is None else observed.dirty,
            "groups": sorted(groups),
            "mark": mark,
            "reported": standing.get(resource),
            "last_promotion": last_promotion(records, groups),
            "in_split_brain": mark is not None or resource in standing,
        }
    return {
        "version": FACTS_VERSION,
        "node": name,
        "at": datetime.now(UTC).isoformat(),
        "problems": problems,
        "resources": resources,
    }


def _topology(ctx: NodeContext, problems: list[str]) -> Topology:
    carp, unreadable = ctx.observer.carp_state(ctx.carp_interfaces())
    problems += [f"{fact}: {why}" for fact, why in unreadable.items()]
    return ctx.topology(carp)
