"""Splitting command output into lines, refusing output cut off mid-line."""

from __future__ import annotations

from carpswitch.errors import ParseError


def complete_lines(text: str, source: str) -> list[str]:
    """The lines of `text` without newlines; [] for empty output.

    FreeBSD commands end every line with a newline, so output that does not is truncated
    (a killed command, a full pipe) and raises ParseError naming `source`.
    """
    if not text:
        return []
    if not text.endswith("\n"):
        raise ParseError(source, "output ends mid-line (truncated?)", text.count("\n") + 1)
    return text[:-1].split("\n")
