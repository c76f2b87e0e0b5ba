"""Find and stop a node's processes (psutil: for tests and LabNode, not the shims).

Starting daemons and looking at one pid is carpswitch.lab.daemons (no psutil there).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from carpswitch.lab.paths import NODE_MARKER_ENV
from carpswitch.lab.sockets import unix_address as unix_address  # re-exported


def node_processes(node_root: Path) -> list[psutil.Process]:
    """Live processes marked as belonging to the node at `node_root`."""
    marker = str(node_root)
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(NODE_MARKER_ENV) == marker:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [p for p in found if _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def terminate(processes: Sequence[psutil.Process], grace: float = 3.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left and wait."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGTERM)
    alive = wait_gone(processes, grace)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    wait_gone(alive, grace)


def wait_gone(processes: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes are gone (zombies count as gone); return the survivors.

    Daemons are not our children, so psutil.wait_procs would wait for their zombies to be
    reaped by whoever adopted them; a zombie has finished all we care about.
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [p for p in alive if _alive(p)]
    return alive
