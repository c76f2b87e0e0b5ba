"""Fixtures for every tier.

`tmp_path` is pytest's own, with a shorter directory name: a lab node under it must keep
its UNIX sockets within sockaddr_un's 104 bytes (carpswitch's run_dir check allows 91), and
pytest-xdist puts every worker's directories one level deeper (`popen-gwN/`).
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
