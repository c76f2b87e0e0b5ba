"""The journal as a transition's witness: writes that say whether they worked.

A promotion must not go on unjournaled (a crash would leave no trace of what it did), but
a demotion or a rollback must never stop for a full or broken state_dir. So the executor
asks whether each write worked instead of catching errors everywhere; the first failure
of a transition is logged once, with what happens next.

What is durable when: the start (and the running file) before the first step, everything
journaled so far before each step that changes the node, and the end. A step's result is
appended without an fsync; the next durable moment covers it (a crash in between loses
only the results of steps that merely looked, or of the last change, which the next
actor finds by observing the node, as for any interrupted transition).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from carpswitch.engine.journal import Journal
from carpswitch.model import StepOutcome, StepRecord, StepResult, TransitionRecord

log = logging.getLogger(__name__)


class Witness:
    """Journals one transition; a Journal method raising OSError is a failed write."""

    def __init__(self, journal: Journal, record: TransitionRecord) -> None:
        self.journal = journal
        self.record = record
        self.error: OSError | None = None
        self.consequence = ""  # what the transition does when the journal fails now

    def start(self) -> bool:
        """The start, durable; False (logged) when it failed: a promotion must not begin."""
        return self._attempt(lambda: self.journal.begin(self.record))

    def step(self, result: StepResult, undo: bool = False) -> bool:
        """Append one step result (durable with the next fsync)."""
        return self._attempt(lambda: self.journal.add_step(self.record.id, result, undo))

    def before_change(self) -> bool:
        """Make what was journaled durable before a step changes the node."""
        return self._attempt(self.journal.sync)

    def end(self) -> bool:
        """The end, durable; the running file goes, `last.json` shows the record."""
        return self._attempt(lambda: self.journal.finish(self.record))

    def _attempt(self, write: Callable[[], None]) -> bool:
        try:
            write()
            return True
        except OSError as exc:
            if self.error is None:
                self.error = exc
                then = f"; {self.consequence}" if self.consequence else ""
                log.error("%s %s: %s%s", self.record.kind, self.record.group, self.problem, then)
            return False

    @property
    def problem(self) -> str:
        """The failure in one line, naming the file that could not be written."""
        exc = self.error
        why = (exc.strerror or str(exc)) if exc is not None else "no error"
        path = (exc.filename if exc is not None else None) or self.journal.path
        return f"cannot write the journal {path}: {why}"

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
