"""Guard rails that outlive a process: failed promotions, the hold, our CARP demotion.

After `max_failures` failed promotions within `failure_window` seconds the node is held
BACKUP until an admin runs `carpswitch clear`. What carpswitch added to
net.inet.carp.demotion is remembered with the boot it was added in (kern.boottime), so
that it is taken back once, and never after a reboot (see carpswitch.engine.demotion).

An unreadable book (empty, not JSON, not a regular file) is set aside and replaced by a
held one: the failures it counted are unknown, so no automatic promotion until `clear`.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from carpswitch.model import empty_list
from carpswitch.statefiles import (
    aside_name,
    describe_os_error,
    make_private_dir,
    read_state_file,
    replace_file,
)

log = logging.getLogger(__name__)

FAILURES_NAME = "failover.json"
#: kern.boottime values this close are the same boot: a leap second or a small clock step
#: moves it; a reboot cannot come that soon after a promotion failed in the old boot.
BOOT_TOLERANCE = 2


class FailoverState(BaseModel):
    """Persisted in state_dir/failover.json."""

    failures: list[datetime] = Field(default_factory=empty_list)
    held: bool = False
    held_since: datetime | None = None
    demotion_added: int = 0
    demotion_boottime: int | None = None  # kern.boottime (s) of the boot it was added in
    note: str | None = None  # why held, when not by counted failures

    def demotion_of_boot(self, boottime: int | None) -> int:
        """What carpswitch added during the boot of `boottime` (0 for another or unknown)."""
        return self.demotion_added if same_boot(self.demotion_boottime, boottime) else 0


def same_boot(recorded: int | None, current: int | None) -> bool:
    """Whether two kern.boottime readings are of one boot; unknown is never the same."""
    if recorded is None or current is None:
        return False
    return abs(recorded - current) <= BOOT_TOLERANCE


class FailureBook:
    """Reads and writes FailoverState atomically (write to a temp file, then rename)."""

    def __init__(self, state_dir: str) -> None:
        self.path = Path(state_dir) / FAILURES_NAME

    def load(self) -> FailoverState:
        """The saved state, or a fresh one; an unreadable book is set aside and replaced
        by a held one (for actors, under the actor lock)."""
        state, problem = self._read()
        if problem is None:
            return state
        aside = aside_name(str(self.path))
        state.note = (
            f"{FAILURES_NAME} was unreadable ({problem}); set aside as {os.path.basename(aside)}"
        )
        log.warning("%s; held BACKUP until `carpswitch clear`", state.note)
        try:
            self.save(state, keep_old_as=aside)
        except OSError as exc:  # held in this process; the next one finds it unreadable again
            log.error("%s: cannot replace it by a held book: %s", self.path, exc.strerror)
        return state

    def peek(self) -> FailoverState:
        """The saved state for readers (`status`): nothing changes on disk; an unreadable
        book reads as held, with the reason in `note`."""
        state, problem = self._read()
        if problem is not None:
            state.note = f"{FAILURES_NAME} is unreadable ({problem})"
        return state

    def _read(self) -> tuple[FailoverState, str | None]:
        """(state, None), or (the safe default, what is wrong) when the book is unreadable."""
        try:
            data = read_state_file(str(self.path))
        except FileNotFoundError:
            return FailoverState(), None
        except OSError as exc:
            return _held(), describe_os_error(exc)
        if not data.strip():
            return _held(), "empty"
        try:
            return FailoverState.model_validate_json(data.decode("utf-8")), None
        except UnicodeDecodeError as exc:
            return _held(), f"not UTF-8 (byte {exc.start})"
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _held(), f"{where + ': ' if where else ''}{first['msg']}"

    def save(self, state: FailoverState, keep_old_as: str | None = None) -> None:
        """Replace the saved state atomically (keeping the old file as `keep_old_as`)."""
        make_private_dir(str(self.path.parent))
        data = state.model_dump_json(indent=2).encode()
        replace_file(str(self.path), data, keep_old_as)

    def record_failure(
        self, max_failures: int, window: float, demotion: int, boottime: int | None = None
    ) -> FailoverState:
        """Count a failed promotion (and the demotion it added in boot `boottime`); hold
        when over the limit. A demotion remembered from another boot is forgotten: the
        reboot took it away."""
        state = self.load()
        now = datetime.now(UTC)
        recent = [t for t in state.failures if now - t <= timedelta(seconds=window)]
        state.failures = [*recent, now]
        if state.demotion_added and not same_boot(state.demotion_boottime, boottime):
            log.info(
                "CARP demotion %d was added in another boot (kern.boottime %s): gone with it",
                state.demotion_added,
                state.demotion_boottime,
            )
            state.demotion_added, state.demotion_boottime = 0, None
        if demotion:
            state.demotion_added += demotion
            state.demotion_boottime = boottime
        if len(state.failures) >= max_failures and not state.held:
            state.held, state.held_since = True, now
        self.save(state)
        return state

    def record_demotion(self, demotion: int, boottime: int | None) -> FailoverState:
        """A guard gave the address away: remember the demotion it added (this boot's,
        added to what is remembered of it), for the next successful promotion to take back."""
        state = self.load()
        if not same_boot(state.demotion_boottime, boottime):
            state.demotion_added = 0
        state.demotion_added += demotion
        state.demotion_boottime = boottime
        self.save(state)
        return state

    def record_success(self) -> FailoverState:
        """A promotion succeeded: its plan took our demotion back."""
        state = self.load()
        state.demotion_added, state.demotion_boottime = 0, None
        self.save(state)
        return state

    def clear(self) -> FailoverState:
        """Forget failures and the hold (the caller takes the demotion back first)."""
        state = FailoverState()
        self.save(state)
        return state


def _held() -> FailoverState:
    """The safe default for an unreadable book: held, nothing to take back."""
    return FailoverState(held=True, held_since=datetime.now(UTC))
