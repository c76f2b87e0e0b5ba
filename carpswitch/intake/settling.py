"""run_dir/settling: the daemon holds events it has not reconciled yet (for `status`).

The daemon takes events off its sockets and the inbox at once and keeps them in memory
while it waits out `[intake] settle`; without this file `status` could not tell that a
transition is about to come. It holds when the first waiting event came (Unix time); the
daemon writes it when it collects events and removes it when a round begins. run_dir is
cleared at boot; `status` trusts it only while a daemon holds the intake lock.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from carpswitch.statefiles import read_state_file, replace_file

SETTLING_NAME = "settling"


class SettlingFile:
    """Set when events wait, cleared when a round takes them up."""

    def __init__(self, run_dir: str) -> None:
        self.path = Path(run_dir) / SETTLING_NAME
        self._set = False  # this process wrote it and has not cleared it

    def events_came(self) -> None:
        """Events are waiting: say so unless already said (a failing write is ignored)."""
        if self._set:
            return
        with contextlib.suppress(OSError):
            replace_file(str(self.path), f"{time.time():.3f}\n".encode(), durable=False)
            self._set = True

    def round_begins(self) -> None:
        """The waiting events are being reconciled now."""
        self._set = False
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def since(self) -> float | None:
        """When the first waiting event came, or None when nothing waits (or unreadable)."""
        try:
            return float(read_state_file(str(self.path)).decode("ascii"))
        except (OSError, ValueError):
            return None
