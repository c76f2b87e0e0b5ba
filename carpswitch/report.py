"""Human and JSON renderings of what `status` observed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from carpswitch.config import ResourceKind
from carpswitch.engine.running import GroupLast
from carpswitch.model import NodeState, TransitionKind, TransitionRecord, empty_list
from carpswitch.topology import Resource, Topology

#: Problems with state files listed one by one in `status`; the rest are counted.
STATE_PROBLEMS_SHOWN = 3


class ControllerStatus(BaseModel):
    """carpswitch's own state: transitions in progress, guard rails, maintenance."""

    running: list[TransitionRecord] = Field(default_factory=empty_list)
    failures: int = 0  # failed promotions within the window
    held: bool = False  # staying BACKUP until `carpswitch clear`
    held_because: str | None = None  # when not by counted failures (an unreadable book)
    demotion_added: int = 0  # what carpswitch added to net.inet.carp.demotion in this boot
    paused: str | None = None  # why and since when, when paused
    last: TransitionRecord | None = None
    intake: list[str] = Field(default_factory=empty_list)  # pause, daemon/worker, events waiting
    state_problems: list[str] = Field(default_factory=empty_list)  # journal lines skipped, ...
    set_aside: list[str] = Field(default_factory=empty_list)  # unreadable state files kept aside
    settling: bool = False  # events wait out [intake] settle (or sit in the inbox)
    group_last: dict[str, GroupLast] = Field(default_factory=dict)  # from last.json
    #: Group -> guard verdicts against promoting it (issue 12's guards; none until then).
    vetoes: dict[str, list[str]] = Field(default_factory=dict)
    guards: dict[str, Any] | None = None  # the guards' last look (run_dir/guards.json)
    guards_line: str | None = None  # that look in one line, for the text
    state: str = "idle"  # the state in one word (carpswitch.standing)
    reasons: list[str] = Field(default_factory=empty_list)  # why not primary where it could be


def status_document(
    topology: Topology, state: NodeState, controller: ControllerStatus
) -> dict[str, Any]:
    """`status --json`: the observed NodeState, the groups, and carpswitch's own state."""
    document = state.model_dump(mode="json")
    document["groups"] = [g.model_dump(mode="json") for g in topology.groups]
    document["managed_resources"] = [r.model_dump(mode="json") for r in topology.resources.values()]
    hidden = {"running", "last", "group_last", "vetoes", "state", "reasons", "guards_line"}
    document["carpswitch"] = controller.model_dump(mode="json", exclude=hidden) | {
        "running": [_brief(r) for r in controller.running],
        "last": _brief(controller.last) if controller.last else None,
    }
    document["state"] = controller.state
    document["reasons"] = controller.reasons
    last = controller.last
    document["last_transition"] = (
        {"id": last.id, "kind": last.kind, "outcome": last.outcome, "duration": duration(last)}
        if last
        else None
    )
    return document


def duration(record: TransitionRecord) -> float | None:
    """Seconds a finished transition took (None while it runs)."""
    return (record.ended_at - record.started_at).total_seconds() if record.ended_at else None


def standing_text(controller: ControllerStatus) -> list[str]:
    """The first lines of `status`: the state in one word, the reasons, the last transition."""
    lines = [controller.state]
    lines += [f"  not primary: {reason}" for reason in controller.reasons]
    if controller.guards_line:
        lines.append(f"  {controller.guards_line}")
    last = controller.last
    if last is not None:
        took = duration(last)
        lines.append(
            f"  last transition: {last.kind} {last.group} {last.outcome}"
            + (f" in {took:.2f}s" if took is not None else "")
            + f" (`carpswitch history {last.id}`)"
        )
    return lines


def _brief(record: TransitionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "group": record.group,
        "outcome": record.outcome,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "pid": record.pid,
        "steps": len(record.steps),
    }


def controller_text(controller: ControllerStatus) -> list[str]:
    """The CARPSWITCH section of `status`."""
    lines = ["CARPSWITCH"]
    for record in controller.running:
        since = record.started_at.strftime("%H:%M:%S")
        current = record.steps[-1].step.description if record.steps else "starting"
        lines.append(
            f"  in progress: {record.kind} {record.group} since {since} "
            f"(pid {record.pid}, last step: {current})"
        )
    if controller.last:
        when = controller.last.started_at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"  last transition: {controller.last.kind} {controller.last.group} "
            f"{controller.last.outcome} at {when}"
        )
    lines.append(
        f"  failed promotions (window): {controller.failures}"
        + ("; HELD BACKUP until `carpswitch clear`" if controller.held else "")
    )
    if controller.held_because:
        lines.append(f"  held because {controller.held_because}")
    if controller.demotion_added:
        lines.append(f"  CARP demotion added by carpswitch: {controller.demotion_added}")
    lines += [f"  {line}" for line in controller.intake]
    shown = controller.state_problems[:STATE_PROBLEMS_SHOWN]
    lines += [f"  state file: {problem}" for problem in shown]
    if len(controller.state_problems) > len(shown):
        lines.append(f"  state file: ... and {len(controller.state_problems) - len(shown)} more")
    if controller.set_aside:
        lines.append(f"  unreadable state files set aside: {', '.join(controller.set_aside)}")
    return lines


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned columns, two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(indent + line.rstrip() for line in lines)


def human_bytes(value: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> '-'."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def status_text(topology: Topology, state: NodeState, controller: ControllerStatus) -> str:
    """`status` for a person: CARP, HAST, what sits on each resource, services, problems."""
    when = state.observed_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    out = [*standing_text(controller), "", f"node {state.node} (observed {when})", ""]
    group_of = {(g.vhid, g.interface): g.name for g in topology.groups}
    carp_rows = [["INTERFACE", "VHID", "STATE", "ADVBASE", "ADVSKEW", "GROUP"]]
    for v in state.carp:
        group = group_of.get((v.vhid, v.interface)) or group_of.get((v.vhid, None), "-")
        carp_rows.append([v.interface, str(v.vhid), v.state, str(v.advbase), str(v.advskew), group])
    out.append("CARP" + ("" if state.carp else ": no vhid configured"))
    if state.carp:
        out.append(table(carp_rows))
    demotion = "unknown" if state.demotion is None else str(state.demotion)
    out += [f"  demotion (net.inet.carp.demotion): {demotion}", ""]
    res_rows = [["RESOURCE", "ROLE", "STATUS", "DIRTY", "DEVICE", "KIND", "ON IT"]]
    for r in state.resources:
        managed = topology.resources.get(r.name)
        res_rows.append(
            [
                r.name,
                f"ERR{r.error}" if r.error else (r.role or "-"),
                r.status or "-",
                human_bytes(r.dirty),
                {True: "present", False: "absent", None: "-"}[r.device_present],
                managed.kind if managed else "-",
                _attachment(managed, state) if managed else "not managed",
            ]
        )
    out.append("HAST" + ("" if state.resources else ": no resource reported by hastctl"))
    if state.resources:
        out.append(table(res_rows))
    if state.services:
        out += ["", "SERVICES"]
        out.append(
            table(
                [["SERVICE", "STATE"]]
                + [
                    [
                        s.name,
                        f"running (pid {' '.join(map(str, s.pids))})" if s.running else "stopped",
                    ]
                    for s in state.services
                ]
            )
        )
    out += ["", *controller_text(controller)]
    out += [
        f"  group {g.name}: no {'transition' if ambiguous else 'promotion'} starts until its "
        "configuration is fixed"
        for g in topology.groups
        if topology.problems_of(g)
        for ambiguous in [bool(topology.problems_of(g, TransitionKind.DEMOTE))]
    ]
    if state.problems:
        out += ["", "PROBLEMS"] + [f"  {p}" for p in state.problems]
    return "\n".join(out)


def _attachment(resource: Resource, state: NodeState) -> str:
    if resource.kind is ResourceKind.UFS:
        mounted = any(m.mountpoint == resource.mountpoint for m in state.mounts)
        return f"{'mounted' if mounted else 'not mounted'} on {resource.mountpoint}"
    if resource.kind is ResourceKind.ZFS:
        pool = next((p for p in state.pools if p.name == resource.pool), None)
        return f"pool {resource.pool} {pool.health if pool else 'not imported'}"
    return "-"
