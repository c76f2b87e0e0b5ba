"""Never more than 8 `hastctl` calls at once: hastd's control socket has a backlog of 8.

hastd serves its control socket one connection at a time and listens with
`listen(fd, 8)` (sbin/hastd/proto_uds.c uds_server): a ninth connection waiting at once
may be refused (ECONNREFUSED on a UNIX socket whose queue is full), which hastctl
reports as "Unable to connect to hastd". Every command of one carpswitch goes through
the same runner, so the cap sits there, for every step and every look, not per step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from carpswitch.system.runner import CommandResult, CommandRunner

#: sbin/hastd/proto_uds.c uds_server: listen(uctx->uc_fd, 8).
HASTD_BACKLOG = 8


class HastdCap:
    """A runner that lets at most HASTD_BACKLOG hastctl calls run at the same time."""

    def __init__(self, runner: CommandRunner, limit: int = HASTD_BACKLOG) -> None:
        self.inner = runner
        self._slots = threading.BoundedSemaphore(limit)

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        if os.path.basename(command) != "hastctl":
            return self.inner.run(command, *args, timeout=timeout, ok_codes=ok_codes, stdin=stdin)
        with self._slots:
            return self.inner.run(command, *args, timeout=timeout, ok_codes=ok_codes, stdin=stdin)
