"""The `notify` hook: told every transition's outcome after it is journaled.

It runs in a background thread, bounded by the `hook` timeout; it never delays or fails the
transition. When it fails or overruns (and is killed) that is logged, never silent.
"""

from __future__ import annotations

import logging
import threading

from carpswitch.errors import CarpswitchError
from carpswitch.model import TransitionRecord
from carpswitch.system.runner import CommandRunner

log = logging.getLogger(__name__)


def notify(
    runner: CommandRunner, path: str, record: TransitionRecord, timeout: float
) -> threading.Thread:
    """Start `PATH OUTCOME KIND GROUP ID` with the record as JSON on stdin; return the thread."""

    def call() -> None:
        try:
            runner.run(
                path,
                record.outcome,
                record.kind,
                record.group,
                record.id,
                timeout=timeout,
                stdin=record.model_dump_json(),
            )
        except CarpswitchError as exc:
            log.warning("notify hook: %s", exc)

    thread = threading.Thread(target=call, name=f"notify-{record.id}", daemon=False)
    thread.start()
    return thread
