"""The intake lock: one process (a worker or the daemon) takes events and acts at a time.

An flock on run_dir/intake.lock, so a crash releases it. The holder writes `PID ROLE` into
the file for `status` (carpswitch.intake.describe reads it); readers other than the hook
never try the lock to see who holds it, because holding it for an instant could turn away
a worker that was about to start.
"""

from __future__ import annotations

import fcntl
import os

from carpswitch.statefiles import make_private_dir, open_lock_file

INTAKE_LOCK_NAME = "intake.lock"


class IntakeLock:
    """Non-blocking exclusive flock on run_dir/intake.lock."""

    def __init__(self, run_dir: str, role: str) -> None:
        self.path = os.path.join(run_dir, INTAKE_LOCK_NAME)
        self.role = role
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; return whether this process now holds it."""
        if self._fd is not None:
            return True
        make_private_dir(os.path.dirname(self.path))
        fd = open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.role}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (clearing the holder first); nothing when not held."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def is_busy(run_dir: str) -> bool:
    """Whether a worker or the daemon holds the intake lock (tries it for an instant).

    Only the hook may use this, and only after recording its event and with the intent to
    start a worker when it is free: a worker turned away by this instant of holding is
    replaced by the one the hook then starts.
    """
    try:
        fd = os.open(
            os.path.join(run_dir, INTAKE_LOCK_NAME), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        )
    except OSError:  # absent, or not a lock file: the worker's IntakeLock sets it aside
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the flock when it was taken
    return False
