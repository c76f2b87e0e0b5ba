"""Fixtures for every tier.

`tmp_path` is pytest's own, with a shorter directory name: a lab node under it must keep
its UNIX sockets within sockaddr_un's 104 bytes (carpswitch's run_dir check allows 91), and
pytest-xdist puts every worker's directories one level deeper (`popen-gwN/`).

The chaos tests' recovery times are printed in the run's summary from here: with xdist the
controller process loads only this conftest, not tests/cluster's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

#: pytest truncates the test's name to 30 characters; 16 leave room for xdist's level.
NAME_CHARS = 16


@pytest.fixture
def tmp_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh directory per test, named after it (pytest keeps the last 3 runs' ones)."""
    return tmp_path_factory.mktemp(re.sub(r"\W", "_", request.node.name)[:NAME_CHARS])


#: The user property a chaos test records its recovery times (s) under.
RECOVERY_PROPERTY = "recovery_s"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The chaos tests' recovery times, one line per kind (also from xdist's workers)."""
    lines = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, value in getattr(report, "user_properties", ()):
                if key == RECOVERY_PROPERTY:
                    kind = report.nodeid.partition("[")[2].rstrip("]") or report.nodeid
                    lines.append(f"{kind}: {', '.join(f'{t:.1f}' for t in value)}")
    if lines:
        terminalreporter.section("chaos: seconds from the fault to the LUN's next answer")
        for line in sorted(lines):
            terminalreporter.write_line(line)
