"""The journal as a transition's witness: writes that say whether they worked.

A promotion must not go on unjournaled (a crash would leave no trace of what it did), but
a demotion or a rollback must never stop for a full or broken state_dir. So the executor
asks whether each write worked instead of catching errors everywhere; the first failure
of a transition is logged once, with what happens next.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from carpswitch.engine.journal import Journal
from carpswitch.model import StepOutcome, StepRecord, StepResult, TransitionRecord

log = logging.getLogger(__name__)


class Witness:
    """Journals one transition; `Journal.write` raising OSError is a failed write."""

    def __init__(self, journal: Journal, record: TransitionRecord) -> None:
        self.journal = journal
        self.record = record
        self.error: OSError | None = None
        self.consequence = ""  # what the transition does when the journal fails now

    def write(self) -> bool:
        """Journal the record as it stands; False (logged the first time) when it failed."""
        try:
            self.journal.write(self.record)
            return True
        except OSError as exc:
            if self.error is None:
                self.error = exc
                then = f"; {self.consequence}" if self.consequence else ""
                log.error("%s %s: %s%s", self.record.kind, self.record.group, self.problem, then)
            return False

    @property
    def problem(self) -> str:
        """The failure in one line, naming the journal file."""
        exc = self.error
        why = (exc.strerror or str(exc)) if exc is not None else "no error"
        return f"cannot write the journal {self.journal.path}: {why}"

    def failure(self) -> StepResult:
        """The failure as a step result, for the record that could not be journaled."""
        now = datetime.now(UTC)
        return StepResult(
            step=StepRecord(
                kind="journal", description=f"write the journal {self.journal.path}", timeout=0
            ),
            outcome=StepOutcome.FAILED,
            started_at=now,
            ended_at=now,
            detail=self.problem,
        )
