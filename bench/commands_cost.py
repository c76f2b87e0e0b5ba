"""`status`, `plan`, `check`: carpswitch's own time, i.e. wall time minus its commands."""

from __future__ import annotations

from bench.nodes import BenchNode
from bench.stats import Figure, at_most, median
from bench.transitions import Runs

#: The CLI commands of issue 9 item 5, as run (plan of the transition CARP MASTER asks).
VERBS: tuple[tuple[str, ...], ...] = (("status",), ("plan", "master"), ("check",))


def measure(node: BenchNode, reps: int) -> list[Figure]:
    """Median own time of each verb over `reps` runs on `node` (CARP BACKUP, secondary)."""
    figures = []
    for verb in VERBS:
        runs = Runs()
        for _ in range(reps):
            runs.add(node.carpswitch(*verb), node, runner=True)
        own = runs.spawn_overheads
        busy = median([w - o for w, o in zip(runs.walls, own, strict=True)])
        figures.append(
            Figure(
                f"carpswitch {' '.join(verb)}: own time (runner-timed)",
                "its commands (busy)",
                busy,
                median(own),
                "s",
                at_most(0.150, "< 150 ms"),
                note=f"{reps} runs, {runs.median_commands():.0f} commands",
            )
        )
    return figures
