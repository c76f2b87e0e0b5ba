"""Maintenance mode: a flag file under state_dir (survives reboots). Paused = observe only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

PAUSE_NAME = "paused"


class PauseFlag:
    """`carpswitch pause` / `resume`; the file holds when and why."""

    def __init__(self, state_dir: str) -> None:
        self.path = Path(state_dir) / PAUSE_NAME

    def is_set(self) -> bool:
        """Whether automatic transitions are paused."""
        return self.path.exists()

    def reason(self) -> str | None:
        """What `pause` recorded, or None when not paused."""
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def set(self, reason: str) -> None:
        """Pause automatic transitions."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{datetime.now(UTC).isoformat()} {reason}\n", encoding="utf-8")

    def clear(self) -> bool:
        """Resume; return whether it was paused."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
