"""run_dir/condition: what keeps failing while the intake retries, for logs and `status`.

A failing condition (hastctl missing, hast.conf unreadable, a demotion that fails every
time) is logged once when it starts, once when it changes and once when it clears, not
on every try; the file says what it is, since when, how many tries, and when the next
one comes, so `carpswitch status` can tell the admin why nothing changes. run_dir is
cleared at boot, and so is a condition of the last boot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from carpswitch.model import StepOutcome, TransitionOutcome, TransitionRecord

log = logging.getLogger(__name__)

CONDITION_NAME = "condition"
#: A condition file is a few hundred bytes; more is not ours.
MAX_BYTES = 64 * 1024


class Condition(NamedTuple):
    """A failure that repeats: what, since when (epoch seconds), tries, next try in (s)."""

    failure: str
    since: float
    attempts: int
    retry_in: float


class ConditionFile:
    """The condition of one run_dir; a ConditionSink for carpswitch.intake.coalesce."""

    def __init__(self, run_dir: str, clock: Callable[[], float] = time.time) -> None:
        self.path = os.path.join(run_dir, CONDITION_NAME)
        self.clock = clock

    def report(self, failure: str, retry_in: float) -> None:
        """Record the latest round: `failure` "" clears the condition. Never raises."""
        current = self.read()
        if not failure:
            if current is not None:
                log.warning("recovered: no longer failing: %s", current.failure)
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            return
        if current is not None and current.failure == failure:
            log.debug("still failing (try %d): %s", current.attempts + 1, failure)
            self._write(current._replace(attempts=current.attempts + 1, retry_in=retry_in))
            return
        log.error("failing: %s (trying again with a growing interval)", failure)
        self._write(Condition(failure, self.clock(), 1, retry_in))

    def read(self) -> Condition | None:
        """The recorded condition, or None (none, or a file that is not a condition)."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            data = json.loads(os.read(descriptor, MAX_BYTES).decode("utf-8"))
            return Condition(
                str(data["failure"]),
                float(data["since"]),
                int(data["attempts"]),
                float(data["retry_in"]),
            )
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        finally:
            os.close(descriptor)

    def _write(self, condition: Condition) -> None:
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            descriptor = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
            )
            try:
                os.write(descriptor, json.dumps(condition._asdict()).encode())
            finally:
                os.close(descriptor)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("cannot record the failing condition in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def failure_of(records: Sequence[TransitionRecord]) -> str:
    """The failing condition of a round's transitions ("" when none failed).

    `demote storage failed: hast_role tank: ... command not found: /sbin/hastctl`: the
    first failed step of each failed transition, without ids or times.
    """
    failures = []
    for record in records:
        if record.outcome not in (TransitionOutcome.FAILED, TransitionOutcome.UNREAD):
            continue
        steps = [
            s
            for s in record.steps + record.undo
            if s.outcome in (StepOutcome.FAILED, StepOutcome.TIMED_OUT)
        ]
        what = f"{record.kind} {record.group} {record.outcome}"
        if steps:
            step = steps[0]
            where = " ".join(p for p in (step.step.kind, step.step.resource) if p)
            what += f": {where}: {step.detail}"
        failures.append(what)
    return "; ".join(failures)


def describe_condition(run_dir: str, retrying: bool = True) -> str | None:
    """The `status` line for a failing condition, or None.

    `retrying` False: no worker or daemon holds the intake lock, so no retry is pending;
    the next event (or `carpswitch reconcile`) tries again.
    """
    condition = ConditionFile(run_dir).read()
    if condition is None:
        return None
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(condition.since))
    tries = f"{condition.attempts} tr{'y' if condition.attempts == 1 else 'ies'}"
    after = f"next within {condition.retry_in:g} s" if retrying else "no retry pending"
    return f"failing since {since} ({tries}, {after}): {condition.failure}"
