"""End the commands a dead actor left running, before the next actor observes.

Called by the actor lock right after it is taken (only one actor at a time, so nobody
records an actor's command meanwhile). A record is an orphan when its owner is gone (pid
and start no longer match), or when it is this process's own and no longer running here
(a stuck command the runner gave up on). Records of other live owners (`status` running
beside us, an actor's notify hook finishing) are left alone.

An orphan's whole process group is SIGKILLed. The group is the command's pid: the command
is a session leader, and no pid is reused while a group of that id exists (FreeBSD:
sys/kern/kern_fork.c fork_findpid skips ids in proc_id_grpidmap; Linux keeps the struct
pid), so survivors of a dead leader are still found by it. If the pid belongs to a later
process (kern.randompid makes that come early), the command is long gone. The wait after
SIGKILL is bounded: a process stuck in the kernel keeps its record, is logged, and is
tried again by the next actor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass

from carpswitch.system.identity import boot_time, identify, own_identity
from carpswitch.system.inflight import INFLIGHT_ENV, InflightBook, Record, is_running_here

log = logging.getLogger(__name__)

#: How long orphans may take to die after SIGKILL before the actor goes on without them.
ORPHAN_WAIT = 5.0
#: A record more than this far from the current boot time is from an earlier boot.
_BOOT_SLACK = 300.0
#: A record without pid: its command started within this long after the record.
_SPAWN_SLACK = 5.0
_POLL = 0.02


@dataclass(frozen=True)
class Orphan:
    """A recorded command whose group was sent SIGKILL."""

    record: Record
    group: int


def end_orphans(run_dir: str, wait: float = ORPHAN_WAIT) -> list[Orphan]:
    """SIGKILL every orphaned command group and wait (bounded); return those still alive."""
    book = InflightBook(run_dir)
    me = own_identity()
    boot = boot_time()
    killed: list[Orphan] = []
    for record in book.records():
        if record.owner is not None and me is not None and record.owner.same_as(me):
            if is_running_here(record.token):
                continue
        elif record.owner is not None and record.owner.same_as(identify(record.owner.pid)):
            continue
        if record.boot is not None and abs(record.boot - boot) > _BOOT_SLACK:
            log.info("removing %s: recorded in an earlier boot", record.path)
            _remove(record)
            continue
        group = _group_of(record)
        if group is None:
            _remove(record)
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        log.warning(
            "ending %s (process group %d), left running by carpswitch pid %s",
            record.command_line,
            group,
            record.owner.pid if record.owner else "?",
        )
        killed.append(Orphan(record, group))
    alive = _wait_gone(killed, wait)
    for orphan in killed:
        if orphan not in alive:
            _remove(orphan.record)
    for orphan in alive:
        log.error(
            "%s (process group %d) still runs %g s after SIGKILL (stuck in the kernel?); "
            "the next actor tries again",
            orphan.record.command_line,
            orphan.group,
            wait,
        )
    return alive


def _group_of(record: Record) -> int | None:
    """The process group still running for `record`, or None when nothing of it runs."""
    if record.command is None:
        return _group_by_token(record)
    pid = record.command.pid
    leader = identify(pid)
    if leader is None:  # the leader is gone; members of its group may live on
        return pid if _group_alive(pid) else None
    return pid if record.command.same_as(leader) else None  # else: a later process's pid


def _group_by_token(record: Record) -> int | None:
    """The group of the command that carries the record's token (the actor died at spawn).

    Children and daemons it started inherit the token too; the command is the earliest
    of them, started right after the record was written.
    """
    import psutil  # only when there is an orphan's record: see carpswitch.system.identity

    first: tuple[float, int] | None = None
    for process in psutil.process_iter(["pid", "create_time", "environ"]):
        environ = process.info.get("environ") or {}
        started = process.info.get("create_time")
        if environ.get(INFLIGHT_ENV) != record.token or started is None:
            continue
        if first is None or started < first[0]:
            first = (started, process.info["pid"])
    if first is None or not (record.written - 1.0 <= first[0] <= record.written + _SPAWN_SLACK):
        return None
    try:
        return os.getpgid(first[1])
    except ProcessLookupError:
        return None


def _group_alive(group: int) -> bool:
    """Whether process group `group` has a member that is not a zombie."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    import psutil

    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _wait_gone(orphans: list[Orphan], wait: float) -> list[Orphan]:
    deadline = time.monotonic() + wait
    alive = [o for o in orphans if _group_alive(o.group)]
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL)
        alive = [o for o in alive if _group_alive(o.group)]
    return alive


def _remove(record: Record) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(record.path)
