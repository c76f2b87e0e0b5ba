"""One actor at a time: an flock on run_dir/carpswitch.lock (a crash releases it).

A crash does not end the commands the dead actor was running (each has its own session),
so the new holder ends them first (carpswitch.system.orphans): no orphan changes the node
while this actor observes and acts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from carpswitch.errors import CarpswitchError
from carpswitch.statefiles import make_private_dir, open_lock_file
from carpswitch.system.orphans import end_orphans

log = logging.getLogger(__name__)

LOCK_NAME = "carpswitch.lock"


class LockBusy(CarpswitchError):
    """Another carpswitch process holds the lock."""


class ActorLock:
    """Exclusive flock; the holder's pid is written into the file for `status`."""

    def __init__(self, run_dir: str, wait: float = 0.0) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> ActorLock:
        make_private_dir(str(self.path.parent))
        fd = open_lock_file(str(self.path))
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockBusy(f"another carpswitch is acting (pid {self.holder()})") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        try:
            end_orphans(str(self.path.parent))
        except Exception:  # never keep an actor (a demotion) from running
            log.exception("cannot end the commands a dead carpswitch left running")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> str:
        """PID written by the current holder, or '?'."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"
