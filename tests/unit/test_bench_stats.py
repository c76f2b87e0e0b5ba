"""bench.stats: percentiles, ratios, targets and the figure tables."""

from __future__ import annotations

import pytest

from bench.stats import (
    Figure,
    at_least,
    at_most,
    fmt,
    markdown_table,
    median,
    percentile,
    ratio,
    text_table,
    within_of,
)


def test_nearest_rank_percentiles_are_values_that_occurred():
    values = [float(v) for v in range(1, 201)]  # 1..200
    assert percentile(values, 0.5) == 100.0
    assert percentile(values, 0.9) == 180.0
    assert percentile(values, 0.99) == 198.0
    assert percentile(values, 1.0) == 200.0
    assert percentile([7.0, 1.0, 3.0], 0.9) == 7.0  # order of input does not matter
    assert percentile([5.0], 0.01) == 5.0


def test_percentile_refuses_no_values_and_fractions_outside_0_1():
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 0.0)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_median_of_even_count_is_the_mean_of_the_middle_two():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([3.0, 1.0, 2.0]) == 2.0
    with pytest.raises(ValueError):
        median([])


def test_ratio_is_value_over_baseline_and_none_without_a_baseline():
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(1.0, 0.0) is None
    assert ratio(1.0, -1.0) is None


def test_targets_on_value_ratio_and_delta():
    assert at_most(0.05, "<= 50 ms").met(0.049, 10.0) is True
    assert at_most(0.05, "<= 50 ms").met(0.051, 10.0) is False
    assert at_most(3.0, "<= x3", on="ratio").met(2.9, 1.0) is True
    assert at_most(3.0, "<= x3", on="ratio").met(3.1, 1.0) is False
    assert at_most(3.0, "<= x3", on="ratio").met(3.1, 0.0) is None
    assert at_least(5.0, ">= x5").met(10.0, 2.0) is True
    assert at_least(5.0, ">= x5").met(9.0, 2.0) is False
    assert within_of(15.0, "ms").met(34.9, 20.0) is True
    assert within_of(15.0, "ms").met(35.1, 20.0) is False


def test_a_figure_row_shows_baseline_value_ratio_target_and_verdict():
    figure = Figure("promote 1 ufs", "Handbook", 4.0, 0.5, "s", at_most(0.2, "<= x0.20", "ratio"))
    assert figure.ratio == 0.125
    assert figure.met is True
    table = text_table([figure, Figure("looks", "Handbook", 0.0, 7.0, "")])
    lines = table.splitlines()
    assert lines[0].split() == ["figure", "baseline", "value", "ratio", "target", "met?"]
    assert set(lines[1]) <= {"-", " "}
    assert "Handbook: 4.00 s" in lines[2]
    assert "0.500 s" in lines[2] and "x0.125" in lines[2] and lines[2].endswith("yes")
    assert lines[3].split()[-3:] == ["-", "-", "-"]  # no ratio, no target, no verdict


def test_a_missed_target_says_no_and_markdown_escapes_pipes():
    figure = Figure("a|b", "base", 1.0, 2.0, "MB", at_most(1.5, "<= 1.5 MB"), note="n=3")
    markdown = markdown_table([figure]).splitlines()
    assert markdown[0] == "| figure | baseline | value | ratio | target | met? |"
    assert markdown[1] == "| --- | --- | --- | --- | --- | --- |"
    assert markdown[2] == "| a\\|b | base: 1.00 MB | 2.00 MB (n=3) | x2.00 | <= 1.5 MB | NO |"


def test_numbers_keep_three_significant_digits():
    assert fmt(0.0123, "s") == "0.0123 s"
    assert fmt(1.234, "s") == "1.23 s"
    assert fmt(12.34) == "12.3"
    assert fmt(0.5) == "0.500"
    assert fmt(-0.045, "s") == "-0.0450 s"
    assert fmt(0) == "0"
    assert fmt(1234.4, "ms") == "1234 ms"
    assert fmt(None) == "-"
    assert fmt(float("nan"), "s") == "failed"


def test_a_failed_figure_misses_its_target():
    failed = Figure("scaling 64", "1 raw", 2.0, float("nan"), "s", at_most(3.0, "<= x3", "ratio"))
    assert failed.met is False
    row = text_table([failed]).splitlines()[2].split()
    assert "failed" in row and "xfailed" not in row and row[-1] == "NO"
