"""Promotions and demotions: carpswitch next to the Handbook, its overhead, its scaling.

Every carpswitch run is `carpswitch -vv -c CONFIG promote|demote` on a lab node; every
Handbook run is bench/baseline/carp-hast-switch with the node's shims on PATH. What the
commands cost comes from the node's command log (timed inside each shim), else from the
runner's debug lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.clirun import Timed
from bench.cmdlog import (
    Command,
    busy_time,
    changes_node,
    counts,
    pair_up,
    parse_runner_lines,
    within,
)
from bench.nodes import BenchNode, MakeNode
from bench.stats import Figure, at_most, median


@dataclass
class Runs:
    """Repeated timed runs of one kind (e.g. carpswitch promote of 16 ufs)."""

    walls: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)  # wall minus busy (command log)
    spawn_overheads: list[float] = field(default_factory=list)  # wall minus busy (runner)
    spawn_gaps: list[float] = field(default_factory=list)  # runner's time minus shim's, each
    commands: list[list[Command]] = field(default_factory=list)

    def add(self, timed: Timed, node: BenchNode, runner: bool) -> None:
        self.walls.append(timed.wall)
        logged = within(node.commands(), timed.started, timed.ended)
        if runner:
            seen = parse_runner_lines(timed.stderr)
            self.spawn_overheads.append(timed.wall - busy(seen, timed))
            self.spawn_gaps += [r.elapsed - s.elapsed for r, s in pair_up(seen, logged)]
        else:
            seen = []
        source = logged if node.logged else seen
        self.overheads.append(timed.wall - busy(source, timed))
        self.commands.append([c for c in source if c.name != "hastd"])

    def median_wall(self) -> float:
        return median(self.walls)

    def median_commands(self) -> float:
        return median([len(c) for c in self.commands])


def first_error(text: str) -> str:
    """The first `[ERROR] ...` a command printed (as FreeBSD's tools word it), else the end."""
    found = re.search(r"\[ERROR\][^;\n]*", text)
    return found[0][:160] if found else text.strip().splitlines()[-1][-160:]


def busy(commands: Sequence[Command], timed: Timed) -> float:
    return busy_time(commands, timed.started, timed.ended)


def changing(commands: Sequence[Command]) -> int:
    """How many of `commands` change the node."""
    return sum(1 for c in commands if changes_node(c))


def breakdown(commands: Sequence[Command]) -> str:
    """`hastctl list 6, mount -p 5, ...`, most frequent first."""
    return ", ".join(f"{key} {n}" for key, n in counts(commands).most_common())


def handbook_comparison(
    make: MakeNode,
    sizes: Sequence[int],
    reps: Callable[[int], int],
    cost: float | None,
    label: str,
    with_commands: bool = True,
) -> list[Figure]:
    """Handbook vs carpswitch promote and demote of `sizes` ufs resources; command counts."""
    figures = []
    for count in sizes:
        node = make(count, "ufs", cost)
        hb_up, hb_down, cs_up, cs_down = Runs(), Runs(), Runs(), Runs()
        try:
            for _ in range(reps(count)):
                hb_up.add(node.handbook("master"), node, runner=False)
                hb_down.add(node.handbook("slave"), node, runner=False)
                cs_up.add(node.promote(), node, runner=True)
                cs_down.add(node.demote(), node, runner=True)
        finally:
            node.stop()
        goal = 0.2 if count == 1 else 0.1
        target = at_most(goal, f"<= x{goal:.2f} ({round(1 / goal)}x faster)", on="ratio")
        n = f"{count} ufs"
        for verb, hb, cs in (("promote", hb_up, cs_up), ("demote", hb_down, cs_down)):
            figures.append(
                Figure(
                    f"{verb} {n} ({label})",
                    "Handbook",
                    hb.median_wall(),
                    cs.median_wall(),
                    "s",
                    target,
                    note=f"{len(cs.walls)} runs",
                )
            )
        if node.logged and with_commands:
            figures += command_figures(n, count, hb_up, cs_up)
    return figures


def command_figures(n: str, count: int, hb: Runs, cs: Runs) -> list[Figure]:
    """Commands per promotion and per resource, next to the Handbook's (last run of each)."""
    hb_counts, cs_counts = hb.commands[-1], cs.commands[-1]
    total = Figure(
        f"commands / resource, promote {n}",
        "Handbook",
        len(hb_counts) / count,
        len(cs_counts) / count,
        "",
        note=breakdown(cs_counts),
    )
    acting = Figure(
        f"changing commands / resource, promote {n}",
        "Handbook",
        changing(hb_counts) / count,
        changing(cs_counts) / count,
        "",
        at_most(1.0, "<= x1.00", on="ratio"),
    )
    looks = Figure(
        f"look-ups / promotion, promote {n}",
        "Handbook",
        len(hb_counts) - changing(hb_counts),
        len(cs_counts) - changing(cs_counts),
        "",
    )
    return [total, acting, looks]


def overhead(
    make: MakeNode, kinds: Sequence[str], reps: int, cost: float | None, python_ms: float
) -> list[Figure]:
    """Promotion wall time minus the time its commands ran, 1 resource, fixed-cost node.

    The figure held against the target times each command as the runner does (spawn to
    reaped), as issue 9 asks; the shim-timed one also charges carpswitch with each shim's
    interpreter start-up. The spawn gap per command (runner's time minus the shim's own)
    next to bare `python -c pass` shows what the runner adds beyond that start-up.
    """
    figures = []
    for kind in kinds:
        node = make(1, kind, cost)
        up = Runs()
        try:
            for rep in range(reps):
                up.add(node.promote(), node, runner=True)
                if rep < reps - 1:  # the node is stopped after the last
                    node.demote()
        finally:
            node.stop()
        runs = f"{len(up.walls)} runs"
        figures.append(
            Figure(
                f"controller overhead, promote 1 {kind} (runner-timed)",
                "its commands (busy)",
                median(_busy(up.walls, up.spawn_overheads)),
                median(up.spawn_overheads),
                "s",
                at_most(0.050, "<= 50 ms"),
                note=runs,
            )
        )
        if not node.logged:
            continue
        figures.append(
            Figure(
                f"overhead incl. shims' start-up, promote 1 {kind} (shim-timed)",
                "its commands (busy)",
                median(_busy(up.walls, up.overheads)),
                median(up.overheads),
                "s",
                note=runs,
            )
        )
        if up.spawn_gaps:
            figures.append(
                Figure(
                    f"spawn gap a command (runner minus shim), promote 1 {kind}",
                    "python -c pass",
                    python_ms,
                    median(up.spawn_gaps) * 1000,
                    "ms",
                    note=f"{len(up.spawn_gaps)} commands",
                )
            )
    return figures


def _busy(walls: Sequence[float], overheads: Sequence[float]) -> list[float]:
    return [w - o for w, o in zip(walls, overheads, strict=True)]


def scaling(
    make: MakeNode,
    kinds: Sequence[str],
    sizes: Sequence[int],
    reps: Callable[[int], int],
    cost: float | None,
    label: str,
) -> list[Figure]:
    """Promotion wall time of N resources in one group against one resource."""
    figures = []
    for kind in kinds:
        walls: dict[int, float] = {}
        for count in sizes:
            runs = Runs()
            try:
                node = make(count, kind, cost)
                try:
                    for rep in range(reps(count)):
                        runs.add(node.promote(), node, runner=True)
                        if rep < reps(count) - 1:  # the node is stopped after the last
                            node.demote()
                finally:
                    node.stop()
            except RuntimeError as exc:  # a failed promotion is a figure too
                failure = f"failed: {first_error(str(exc))}"
            else:
                failure = ""
            walls[count] = runs.median_wall() if runs.walls else math.nan
            if count == sizes[0]:
                continue
            target = at_most(3.0, "<= x3", on="ratio") if count == 64 else None
            done = (
                f"{len(runs.walls)} runs, {runs.median_commands():.0f} commands"
                if runs.walls
                else ""
            )
            figures.append(
                Figure(
                    f"scaling, promote {count} {kind} ({label})",
                    f"{sizes[0]} {kind}",
                    walls[sizes[0]],
                    walls[count],
                    "s",
                    target,
                    note=failure or done,
                )
            )
    return figures
