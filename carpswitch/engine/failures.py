"""Guard rails that outlive a process: failed promotions, the hold, our CARP demotion.

After `max_failures` failed promotions within `failure_window` seconds the node is held
BACKUP until an admin runs `carpswitch clear`. What carpswitch added to
net.inet.carp.demotion is remembered so that it can be taken back exactly.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

FAILURES_NAME = "failover.json"


class FailoverState(BaseModel):
    """Persisted in state_dir/failover.json."""

    failures: list[datetime] = Field(default_factory=list)
    held: bool = False
    held_since: datetime | None = None
    demotion_added: int = 0


class FailureBook:
    """Reads and writes FailoverState atomically (write to a temp file, then rename)."""

    def __init__(self, state_dir: str) -> None:
        self.path = Path(state_dir) / FAILURES_NAME

    def load(self) -> FailoverState:
        """The saved state, or a fresh one."""
        if not self.path.exists():
            return FailoverState()
        return FailoverState.model_validate_json(self.path.read_text(encoding="utf-8"))

    def save(self, state: FailoverState) -> None:
        """Replace the saved state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".failover.")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(state.model_dump_json(indent=2))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)

    def record_failure(self, max_failures: int, window: float, demotion: int) -> FailoverState:
        """Count a failed promotion (and the demotion it added); hold when over the limit."""
        state = self.load()
        now = datetime.now(UTC)
        recent = [t for t in state.failures if now - t <= timedelta(seconds=window)]
        state.failures = [*recent, now]
        state.demotion_added += demotion
        if len(state.failures) >= max_failures and not state.held:
            state.held, state.held_since = True, now
        self.save(state)
        return state

    def record_success(self) -> FailoverState:
        """A promotion succeeded: its plan took our demotion back."""
        state = self.load()
        state.demotion_added = 0
        self.save(state)
        return state

    def clear(self) -> FailoverState:
        """Forget failures and the hold (the caller takes the demotion back first)."""
        state = FailoverState()
        self.save(state)
        return state
