"""Maintenance mode: a flag file under state_dir (survives reboots). Paused = observe only.

The file existing is what pauses, whatever it holds: an unreadable or binary `paused`
still pauses (observing is the safe side), and `status` shows what could be read of it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from carpswitch.statefiles import (
    describe_os_error,
    make_private_dir,
    read_state_file,
    replace_file,
)

PAUSE_NAME = "paused"
#: How much of the file `status` shows.
REASON_LIMIT = 200


class PauseFlag:
    """`carpswitch pause` / `resume`; the file holds when and why."""

    def __init__(self, state_dir: str) -> None:
        self.path = Path(state_dir) / PAUSE_NAME

    def is_set(self) -> bool:
        """Whether automatic transitions are paused (anything named `paused` pauses)."""
        return os.path.lexists(self.path)

    def reason(self) -> str | None:
        """What `pause` recorded (printable, one line, cut short), or None when not paused."""
        try:
            data = read_state_file(str(self.path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"({self.path.name} is unreadable: {describe_os_error(exc)})"
        text = data[: REASON_LIMIT * 4].decode("utf-8", errors="replace")
        printable = "".join(c if c.isprintable() else " " for c in text)
        return " ".join(printable.split())[:REASON_LIMIT]

    def set(self, reason: str) -> None:
        """Pause automatic transitions."""
        make_private_dir(str(self.path.parent))
        line = f"{datetime.now(UTC).isoformat()} {reason}\n"
        replace_file(str(self.path), line.encode())

    def clear(self) -> bool:
        """Resume; return whether it was paused."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError:
            if not self.path.is_dir():
                raise
            os.rmdir(self.path)  # an empty directory named `paused` (not empty: OSError)
        return True
