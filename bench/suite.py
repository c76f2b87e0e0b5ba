"""`bench/run`: every figure of issue 9 item 7, printed and written to bench/RESULTS.md.

    bench/run [--quick] [--only SECTION,...] [--no-write]

Each figure is a ratio against a baseline measured in the same run; values are medians
over repetitions. Sections: hook, overhead, scaling, handbook, daemon, cli.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import commands_cost, daemon_rss, hook_latency, transitions
from bench.cmdlog import Command
from bench.machine import compile_bytecode, description
from bench.nodes import FIXED_COST_SUPPORTED, BenchNode, MakeNode, bench_nodes
from bench.stats import Figure, markdown_table, median, text_table

RESULTS = Path(__file__).parent / "RESULTS.md"
#: In the order they run: the slowest (scaling to 64 resources) last.
SECTIONS = ("hook", "overhead", "cli", "daemon", "handbook", "scaling")


@dataclass(frozen=True)
class Plan:
    """How many repetitions each section gets."""

    hook_calls: int
    overhead_reps: int
    overhead_kinds: tuple[str, ...]
    scaling_sizes: tuple[int, ...]
    scaling_kinds: tuple[str, ...]
    handbook_sizes: tuple[int, ...]
    daemon_events: int
    cli_reps: int

    def reps(self, count: int) -> int:
        """Repetitions of a transition of `count` resources (fewer for the slow ones)."""
        return {1: 3}.get(count, 1) if self is not QUICK else 1


FULL = Plan(200, 3, ("ufs", "raw"), (1, 4, 16, 64), ("raw", "ufs"), (1, 16), 10_000, 3)
QUICK = Plan(30, 1, ("ufs",), (1, 4), ("raw",), (1,), 2_000, 1)


#: What one command costs on the fixed-cost node: a FreeBSD-like figure. A shim whose own work
#: takes longer (the simulator's Python start-up on a loaded machine) takes its own time;
#: RESULTS.md says how many did.
COMMAND_COST = 0.05


def over_cost(commands: Sequence[Command], cost: float) -> str:
    """`k of n commands took longer than the fixed cost` (k > 0 means it was a floor only)."""
    own = [c for c in commands if c.name != "hastd"]
    slow = sum(1 for c in own if c.elapsed > cost * 1.1)
    return f"{slow} of {len(own)} commands on fixed-cost nodes took longer than {cost:.2f} s"


Report = Callable[[dict[str, list[Figure]], list[str]], None]


def run(
    plan: Plan, only: Sequence[str], report: Report
) -> tuple[dict[str, list[Figure]], list[str]]:
    """Measure the selected sections; return their figures and notes on how.

    `report` gets what there is after each section (RESULTS.md is written as the run goes,
    so an interrupted run leaves the sections it finished). A section that fails is a note.
    """
    results: dict[str, list[Figure]] = {}
    notes: list[str] = []
    with bench_nodes() as make_node:
        fixed_nodes: list[BenchNode] = []

        def make(
            count: int, kind: str = "ufs", cost: float | None = None, start: bool = True
        ) -> BenchNode:
            node = make_node(count, kind, cost, start)
            if cost is not None:
                fixed_nodes.append(node)
            return node

        cost = COMMAND_COST if FIXED_COST_SUPPORTED else None
        fixed = f"fixed {cost:.2f} s" if cost is not None else "lab"
        if cost is None:
            notes.append("the lab has no fixed-cost mode here: every figure uses the plain node")
        for section in only:
            began = time.monotonic()
            print(f"== {section}", flush=True)
            try:
                results[section] = _section(section, plan, make, cost, fixed)
            except Exception as exc:
                notes.append(f"{section}: failed: {str(exc)[:500]}")
                print(f"{section} failed: {exc}", flush=True)
                continue
            print(text_table(results[section]), flush=True)
            notes.append(f"{section}: {time.monotonic() - began:.0f} s")
            report(results, notes)
        if cost is not None and fixed_nodes:
            notes.append(over_cost([c for n in fixed_nodes for c in n.commands()], cost))
    return results, notes


def _section(
    section: str, plan: Plan, make: MakeNode, cost: float | None, fixed: str
) -> list[Figure]:
    """The figures of one section (every node it makes is stopped by `bench_nodes`)."""
    if section == "hook":
        node = make(1, "raw", None, False)
        return hook_latency.measure(Path(node.config), node.run_dir, plan.hook_calls)
    if section == "overhead":
        python_ms = median(hook_latency.timed_runs([sys.executable, "-c", "pass"], 20))
        return transitions.overhead(make, plan.overhead_kinds, plan.overhead_reps, cost, python_ms)
    if section == "scaling":
        return transitions.scaling(
            make, plan.scaling_kinds, plan.scaling_sizes, plan.reps, cost, fixed
        )
    if section == "handbook":
        figures = transitions.handbook_comparison(
            make, plan.handbook_sizes, plan.reps, None, "lab", with_commands=cost is None
        )
        if cost is not None:
            figures += transitions.handbook_comparison(
                make, plan.handbook_sizes, plan.reps, cost, fixed
            )
        return figures
    if section == "daemon":
        return daemon_rss.measure(make(1, "raw", None), plan.daemon_events, hook_every=50)
    if section == "cli":
        return commands_cost.measure(make(1, "ufs", cost), plan.cli_reps)
    raise ValueError(f"no section {section}")


TITLES = {
    "hook": "Hook latency (devd's wait) vs bare `python -c pass`",
    "overhead": "Controller overhead: promotion wall time minus the time of its commands",
    "scaling": "Scaling: promotion of N resources in one group vs one",
    "handbook": "Against the Handbook's carp-hast-switch (bench/baseline/), and commands",
    "daemon": "Daemon RSS over a long run (hook calls and devd records, CARP flips)",
    "cli": "status, plan, check: carpswitch's own time (wall minus its commands)",
}

HOW = """\
How: every figure is a median over the runs shown, next to a baseline measured in the same
run; the ratio is value / baseline. carpswitch runs as `carpswitch -vv`, stderr on a pty so
its runner's debug lines (`run ARGV: exit N in X s`) reach the benchmark; "the time of its
commands" is the union of those commands' intervals (they run in parallel), each timed as
the runner times it, from spawn to reaped ("runner-timed"). The lab node's command log
times each command inside its shim, from the script's first line ("shim-timed"): the
difference, the spawn gap, is the shim's interpreter start-up (a cost of the simulator, not
of FreeBSD) plus what the runner adds. Commands are counted from the command log. The
Handbook script runs with the node's shims first on PATH; its sleeps (delay 3 s, 1 s pgrep
loop, 0.5 s provider poll) are kept. The hook's "daemon listening" is a stand-in that
drains run_dir/intake.sock."""


def write_results(
    results: dict[str, list[Figure]], notes: list[str], argv: str, about: list[tuple[str, str]]
) -> None:
    machine = "\n".join(f"| {k} | {v} |" for k, v in about)
    parts = [
        "# carpswitch benchmarks",
        "",
        f"Written by `{argv}`; run it again after any change that may cost time.",
        "Ratios, not seconds, are what compares across machines.",
        "",
        "| machine | |",
        "| --- | --- |",
        machine,
        "",
        HOW,
        "",
    ]
    for section, figures in results.items():
        parts += [f"## {TITLES[section]}", "", markdown_table(figures), ""]
    parts += ["## Run notes", "", *(f"- {n}" for n in notes), ""]
    RESULTS.write_text("\n".join(parts))


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (developing)")
    parser.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    only = tuple(args.only.split(",")) if args.only else SECTIONS
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    signal.signal(signal.SIGTERM, _interrupted)  # stop the lab nodes on the way out
    compile_bytecode()
    about = description()  # at the start: commit and load before the run touches anything
    began = time.monotonic()
    shown = "bench/run" + (" --quick" if args.quick else "")
    shown += f" --only {args.only}" if args.only else ""

    def report(results: dict[str, list[Figure]], notes: list[str]) -> None:
        if not args.no_write:
            missing = [s for s in only if s not in results]
            pending = [f"not measured (yet): {', '.join(missing)}"] if missing else []
            write_results(results, notes + pending, shown, about)

    results, notes = run(QUICK if args.quick else FULL, only, report)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    notes.append(f"total: {time.monotonic() - began:.0f} s; load average at the end: {load}")
    report(results, notes)
    if not args.no_write:
        print(f"wrote {RESULTS}")
    return 0
