"""Start a long-lived process of a lab host, detached from whoever asked for it.

Like daemon(3): fork, setsid, fork again; the grandchild's pid comes back through a pipe.
Neither the lab CLI nor a shim (whose process group the controller's runner may kill)
is its parent, and its output goes to a log file of the node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def spawn_detached(argv: Sequence[str], env: Mapping[str, str], log: Path) -> int:
    """Start `argv` (looked up on env's PATH) in a new session; return its pid."""
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.setsid()
            second = os.fork()
            if second != 0:
                os.write(write_end, str(second).encode())
                os._exit(0)
            os.close(write_end)
            output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.chdir("/")
            os.execvpe(argv[0], list(argv), dict(env))  # noqa: S606 - argv list, no shell
        finally:
            os._exit(127)
    os.close(write_end)
    os.waitpid(first, 0)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    if not text.isdigit():
        raise OSError(f"could not start {argv[0]}")
    return int(text)
