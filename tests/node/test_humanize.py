"""humanize_number as pjdlog's %N prints it (hastctl list / dump)."""

import pytest

from carpswitch.lab.humanize import humanize_bytes, humanize_number


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0, "0B"),
        (1, "1B"),
        (999, "999B"),
        (1000, "1.0KB"),  # four digits do not fit the 5-byte buffer next to a prefix
        (1024, "1.0KB"),
        (2097152, "2.0MB"),
        (10 * 1024 * 1024, "10MB"),
        (134217728, "128MB"),
        (5 * 1024**3, "5.0GB"),
    ],
)
def test_humanize_bytes_matches_pjdlog_percent_n(number: int, text: str) -> None:
    assert humanize_bytes(number) == text


def test_value_just_below_ten_rounds_up_without_a_decimal() -> None:
    # 9.98 MiB: remainder above the 0.95 cut -> integer branch rounds to 10.
    assert humanize_number(9 * 1024 * 1024 + 1000 * 1024) == "10M"


def test_negative_number_is_cut_to_the_buffer_like_snprintf() -> None:
    # The sign takes a column: "-2.0M" does not fit 4 characters, snprintf cuts it.
    assert humanize_number(-2097152) == "-2.0"
    assert humanize_number(-5) == "-5"
