"""Loopback ports for tests that run side by side (two pytest-xdist workers).

A port found free and used later can be taken in between, by the other worker or as the
source port of any outgoing connection: a test that needs a refused port holds it.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


def free_port() -> int:
    """A loopback port free now (a server started on it must retry if it lost it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound and never
    listening, so a connect gets RST and nobody else can bind it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])
