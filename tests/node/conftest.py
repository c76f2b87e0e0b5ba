"""Fixtures for tests against a simulated FreeBSD node (carpswitch.lab).

`lab_node` is a started node with one raw resource `tank`; `make_lab_node(**kwargs)` builds
nodes with `create_node`'s keyword arguments. Every node is stopped at teardown, also when
the test fails, and the test fails if one of its processes survived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from carpswitch.lab.node import LabNode, create_node

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory `node` (select with -m node / -m "not node")."""
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.node)


@pytest.fixture
def make_lab_node(tmp_path: Path) -> Iterator[Callable[..., LabNode]]:
    """Factory: `make_lab_node(name="hasta", resources=[...], ...)` -> started LabNode."""
    nodes: list[LabNode] = []

    def make(**kwargs: Any) -> LabNode:
        directory = tmp_path / kwargs.get("name", "hasta")
        node = create_node(directory, **kwargs)
        nodes.append(node)
        return node

    yield make
    leftovers = []
    for node in nodes:
        node.stop()
        leftovers += node.processes()
    assert not leftovers, f"lab processes survived teardown: {leftovers}"


@pytest.fixture
def lab_node(make_lab_node: Callable[..., LabNode]) -> LabNode:
    """A started node `hasta` with one raw HAST resource `tank`, CARP BACKUP."""
    return make_lab_node()


def wait_until(predicate: Callable[[], object], timeout: float = 3.0) -> bool:
    """Poll `predicate` every 10 ms until it is true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
