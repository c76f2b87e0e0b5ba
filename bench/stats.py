"""Pure arithmetic of the benchmarks: percentiles, ratios, and the figure table.

Kept free of I/O so the unit tests can check every number a table prints.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of all at or below.

    Nearest rank never interpolates, so a p99 over 200 calls is a call that happened.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median (mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


def ratio(value: float, baseline: float) -> float | None:
    """value / baseline; None when the baseline is zero or negative (no meaningful ratio)."""
    return value / baseline if baseline > 0 else None


@dataclass(frozen=True)
class Target:
    """What a figure must reach: `value <= limit` or `ratio <= limit` (or `>=`)."""

    on: str  # "value", "ratio" or "delta" (value minus baseline)
    op: str  # "<=" or ">="
    limit: float
    text: str  # as the table shows it, e.g. "<= 50 ms"

    def met(self, value: float, baseline: float) -> bool | None:
        """Whether the target holds; None when the ratio it is about cannot be formed."""
        if self.on == "ratio":
            measured = ratio(value, baseline)
        else:
            measured = value - baseline if self.on == "delta" else value
        if measured is None:
            return None
        return measured <= self.limit if self.op == "<=" else measured >= self.limit


def at_most(limit: float, text: str, on: str = "value") -> Target:
    """A target `figure <= limit`."""
    return Target(on, "<=", limit, text)


def at_least(limit: float, text: str, on: str = "ratio") -> Target:
    """A target `figure >= limit` (by default on the ratio)."""
    return Target(on, ">=", limit, text)


def within_of(allowance: float, unit: str) -> Target:
    """A target `figure <= baseline + allowance`."""
    return Target("delta", "<=", allowance, f"<= base + {fmt(allowance, unit)}")


@dataclass(frozen=True)
class Figure:
    """One row of a table: a value next to the baseline it is read against."""

    name: str
    baseline_name: str
    baseline: float
    value: float
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value, self.baseline)


def fmt(number: float | None, unit: str = "") -> str:
    """A number for a table: 3 significant digits, the unit after it."""
    if number is None:
        return "-"
    if math.isnan(number):
        return "failed"
    if number == 0:
        text = "0"
    elif abs(number) < 10:
        decimals = 2 - math.floor(math.log10(abs(number)))
        text = f"{number:.{decimals}f}"
    elif abs(number) < 100:
        text = f"{number:.1f}"
    else:
        text = f"{number:.0f}"
    return f"{text} {unit}".rstrip()


HEADER = ("figure", "baseline", "value", "ratio", "target", "met?")


def cells(figure: Figure) -> tuple[str, ...]:
    """The six cells of a figure's row."""
    met = {None: "-", True: "yes", False: "NO"}[figure.met]
    value = fmt(figure.value, figure.unit)
    if figure.note:
        value = f"{value} ({figure.note})"
    return (
        figure.name,
        f"{figure.baseline_name}: {fmt(figure.baseline, figure.unit)}",
        value,
        "-" if figure.ratio is None or math.isnan(figure.ratio) else f"x{fmt(figure.ratio)}",
        "-" if figure.target is None else figure.target.text,
        met,
    )


def text_table(figures: Sequence[Figure]) -> str:
    """The figures as an aligned plain-text table (for the terminal)."""
    rows = [HEADER, *(cells(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (for RESULTS.md); `|` in cells is escaped."""

    def row(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [row(HEADER), row(["---"] * len(HEADER))]
    lines += [row(cells(f)) for f in figures]
    return "\n".join(lines)
