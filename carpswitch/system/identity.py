"""Which process is this? A pid plus its start time, so that a reused pid is told apart.

Start times are seconds since boot, which a clock step (ntpd, an admin's `date`) does not
move, unlike psutil's create_time (the boot time plus that offset, in epoch seconds).

On Linux both come from /proc, read directly: importing psutil costs every command more
CPU than the rest of this module's work (~15 ms); it is imported only off Linux.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

#: Start times are compared to this precision (Linux counts them in 10 ms ticks).
_START_SLACK = 0.05
_PROC_STAT = sys.platform.startswith("linux")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _PROC_STAT else 100
_OWN: dict[int, ProcessIdentity] = {}
_BOOT: list[float] = []


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as pid plus start time (seconds since boot): unique even if the pid is reused."""

    pid: int
    start: float

    def same_as(self, other: ProcessIdentity | None) -> bool:
        """Whether `other` is this very process (not a later one with the same pid)."""
        return (
            other is not None
            and other.pid == self.pid
            and abs(other.start - self.start) <= _START_SLACK
        )


def identify(pid: int, zombie_is_gone: bool = True) -> ProcessIdentity | None:
    """Identity of process `pid`, or None when there is none (or it is a zombie)."""
    if _PROC_STAT:
        return _identify_from_proc(pid, zombie_is_gone)
    import psutil

    try:
        process = psutil.Process(pid)
        if zombie_is_gone and process.status() == psutil.STATUS_ZOMBIE:
            return None
        since_boot = process.create_time() - psutil.boot_time()
    except psutil.Error:
        return None
    return ProcessIdentity(pid, since_boot)


def _identify_from_proc(pid: int, zombie_is_gone: bool) -> ProcessIdentity | None:
    """Linux: state and start (in clock ticks since boot) from /proc/PID/stat (proc(5)).

    Read directly because this runs for every command: psutil would read /proc/stat twice
    more for the boot time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    fields = data.rpartition(b")")[2].split()  # the name in (...) may hold spaces
    if len(fields) < 20 or (zombie_is_gone and fields[0] == b"Z"):
        return None
    return ProcessIdentity(pid, int(fields[19]) / _CLOCK_TICKS)


def boot_time() -> float:
    """When this system booted (epoch seconds), read once per process."""
    if not _BOOT:
        _BOOT.append(_boot_time_from_proc() if _PROC_STAT else _boot_time_from_psutil())
    return _BOOT[0]


def _boot_time_from_proc() -> float:
    """Linux: the `btime` line of /proc/stat (proc(5)), as psutil reads it."""
    with open("/proc/stat", "rb") as file:
        for line in file:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")


def _boot_time_from_psutil() -> float:
    import psutil

    return float(psutil.boot_time())


def own_identity() -> ProcessIdentity | None:
    """This process's identity (computed once per pid: a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _OWN:
        found = identify(pid, zombie_is_gone=False)
        if found is None:
            return None
        _OWN[pid] = found
    return _OWN[pid]
