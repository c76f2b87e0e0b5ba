"""hast.conf `exec` in the simulated hastd, as hooks.c runs it (freebsd-interfaces.md §2.8).

`fire` fork+execs the resource's exec path with argv[0] its basename and `EVENT RESOURCE
[ARGS]` after it, stdin/stdout/stderr on /dev/null, signal dispositions reset, and does
not wait: `check` (each time a hook is fired) and `reaped` (the parent's waitpid(-1)) log
a hook that failed as hooks.c does: `Hook exited ungracefully (pid=%u, exitcode=%d,
cmd=[%s]).` or `Hook was killed (pid=%u, signal=%d, cmd=[%s]).` An exec that fails is
exit 70 in hastd's child; here it is logged the same way, with pid 0.

Where hastd fires (hastd.c, primary.c, secondary.c via event.c): `role` in the parent on
every role change; `connect`, `disconnect`, `split-brain` from the workers. hastd's
workers send the event to the parent, which runs the hook; the lab's workers run it
themselves (same argv, same moment; only the hook's parent process differs).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

#: The error secondary.c sends on split-brain; the primary logs it and fires the event too.
SPLIT_BRAIN = "Split-brain condition!"
#: hooks.c: the child's exit status when execv fails.
EX_SOFTWARE = 70

_running: dict[int, tuple[subprocess.Popen[bytes], str]] = {}


def fire(
    path: str | None, log: Callable[[str], None], event: str, resource: str, *args: str
) -> int | None:
    """Start `path EVENT RESOURCE ARGS` (not waited for); its pid, None without `exec`."""
    if not path:
        return None
    check(log)
    command = " ".join([path, event, resource, *args])
    try:
        process = subprocess.Popen(
            [os.path.basename(path), event, resource, *args],
            executable=path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            restore_signals=True,
        )
    except OSError:
        log(f"Hook exited ungracefully (pid=0, exitcode={EX_SOFTWARE}, cmd=[{command}]).")
        return None
    _running[process.pid] = (process, command)
    return process.pid


def check(log: Callable[[str], None]) -> None:
    """Reap the hooks that ended (hooks.c hook_check), logging those that failed."""
    for pid, (process, command) in list(_running.items()):
        code = process.poll()
        if code is not None:
            del _running[pid]
            _report(log, pid, code, command)


def reaped(pid: int, status: int, log: Callable[[str], None]) -> bool:
    """The parent's waitpid(-1) reaped `pid`: True (and logged) when it was a hook."""
    entry = _running.pop(pid, None)
    if entry is None:
        return False
    _report(log, pid, os.waitstatus_to_exitcode(status), entry[1])
    return True


def running() -> list[int]:
    """Pids of hooks not reaped yet (tests wait for them)."""
    return list(_running)


def _report(log: Callable[[str], None], pid: int, code: int, command: str) -> None:
    if code < 0:
        log(f"Hook was killed (pid={pid}, signal={-code}, cmd=[{command}]).")
    elif code != 0:
        log(f"Hook exited ungracefully (pid={pid}, exitcode={code}, cmd=[{command}]).")
