"""The admin's hooks: `pre_promote` (a step: non-zero vetoes the promotion) and `notify`
(told every transition's outcome after it is journaled).

The notify hook runs in a background thread, bounded by the `hook` timeout; it never delays
or fails the transition. When it fails or overruns (and is killed) that is logged, never silent.
"""

from __future__ import annotations

import logging
import threading

from carpswitch.engine.step import Step, StepContext, StepFailed
from carpswitch.errors import CarpswitchError, CommandFailed
from carpswitch.model import TransitionRecord
from carpswitch.system.runner import CommandRunner
from carpswitch.topology import Group

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


class PrePromoteHook(Step):
    """Run the configured `pre_promote` hook: `HOOK GROUP VHID [IFACE]`; non-zero vetoes."""

    changes_node = False

    kind = "pre_promote"
    timeout_key = "hook"

    def __init__(self, group: Group, path: str) -> None:
        super().__init__()
        self.group = group
        self.path = path

    def describe(self) -> str:
        return (
            f"{self.path} {self.group.name} {self.group.vhid} {self.group.interface or ''}".rstrip()
        )

    def do(self, ctx: StepContext) -> str:
        args = [self.group.name, str(self.group.vhid)]
        if self.group.interface:
            args.append(self.group.interface)
        try:
            result = ctx.runner.run(self.path, *args, timeout=ctx.timeout(self.timeout_key))
        except CommandFailed as exc:
            reason = (exc.stderr or exc.stdout).strip() or "no reason given"
            raise StepFailed(f"pre_promote hook vetoed (exit {exc.exit_status}): {reason}") from exc
        return result.stdout.strip()
