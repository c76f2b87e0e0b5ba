"""What a shim command gets to work with: the node, its state and its output streams."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TextIO

from carpswitch.lab.facts import NodeFacts
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import StateStore


@dataclass
class ShimContext:
    """A simulated command's world: node facts, state store, stdout and stderr."""

    facts: NodeFacts
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def paths(self) -> NodePaths:
        """The node's directory layout."""
        return self.facts.node_paths

    @cached_property
    def store(self) -> StateStore:
        """The node's state files (one store per command: its lock is re-entrant)."""
        return StateStore(self.paths)

    def print(self, text: str = "") -> None:
        """Write a line to stdout."""
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        """Write a line to stderr."""
        self.err.write(text + "\n")
