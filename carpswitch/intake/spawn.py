"""Start a detached worker: `python -m carpswitch.intake.worker [-c PATH] [-v...]`.

This is the one place outside carpswitch/system/runner.py that starts a process: the hook
must return to devd at once, and starting carpswitch itself is not running a FreeBSD
command. fork + exec rather than subprocess keeps the hook's imports small: the child
starts a new session (no controlling terminal, out of devd's process group), moves to /
(so it never keeps a file system busy) and has stdin, stdout and stderr on /dev/null.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

WORKER_MODULE = "carpswitch.intake.worker"


def worker_argv(config_path: str | None, verbose: int = 0) -> list[str]:
    """The worker's command line (the interpreter running this code)."""
    argv = [sys.executable, "-m", WORKER_MODULE]
    if config_path is not None:
        argv += ["-c", config_path]
    if verbose:
        argv.append("-" + "v" * min(verbose, 2))
    return argv


def start_detached(argv: Sequence[str]) -> int:
    """Fork and exec `argv` in a new session; return its pid without waiting for it.

    The caller is expected to exit soon (the hook) or to reap the child itself.
    """
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: only async-signal-safe work until exec
        os.setsid()
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execv(argv[0], list(argv))  # noqa: S606 (an argv list; no shell involved)
    finally:
        os._exit(127)  # exec failed: nothing to report to, the caller's event stays recorded
