"""The detached worker the hook starts when no daemon runs: `python -m carpswitch.intake.worker`.

It takes the intake lock (or exits at once: someone else is acting and will see the
events), coalesces and reconciles until quiet, lets go of the lock, and then looks at the
inbox once more: an event recorded while it was letting go would otherwise wait for the
next one. If there is one, it tries the lock again; if another worker has it by then, that
one sees the event.

Nobody watches a detached worker (its stderr is /dev/null), so whatever stops it, a config
that turned bad since the hook checked it or a bug, is logged (syslog) and recorded as the
failing condition that `carpswitch status` shows; it never ends in a lost traceback.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence

from carpswitch.config import Config, load_config
from carpswitch.config_section import as_toml
from carpswitch.errors import ConfigError
from carpswitch.exitcodes import ExitCode
from carpswitch.intake.act import Reconciler
from carpswitch.intake.coalesce import (
    ConditionSink,
    NoSink,
    Pacing,
    Reconcile,
    Summary,
    run_until_quiet,
)
from carpswitch.intake.condition import ConditionFile
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.signals import SignalFlags
from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids, keep_ours
from carpswitch.logsetup import setup_logging

log = logging.getLogger(__name__)

#: How often a worker looks into the inbox while it waits for a burst to settle.
POLL_INTERVAL = 0.05


def pacing_from(config: Config) -> Pacing:
    """The coalescing pace of `[intake]`; failed rounds are retried at most a timer apart."""
    return Pacing(
        settle=config.intake.settle,
        flap_limit=config.intake.flap_limit,
        longest_retry=config.intake.timer,
    )


def vhids_of(config: Config) -> ConfiguredVhids:
    """The vhids whose events concern the config's groups (all, without [[group]])."""
    return ConfiguredVhids.of_groups(as_toml(g) for g in config.group)


class InboxSource:
    """The worker's EventSource: polls the inbox (a few ms per look)."""

    def __init__(
        self,
        inbox: Inbox,
        stop: Callable[[], bool] = lambda: False,
        poll: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        vhids: ConfiguredVhids = EVERY_VHID,
    ) -> None:
        self.inbox = inbox
        self._stop = stop
        self.poll = poll
        self.clock = clock
        self.sleep = sleep
        self.vhids = vhids

    def take(self) -> list[IntakeEvent]:
        """What the inbox holds now for a configured vhid (the rest is logged and dropped)."""
        taken = self.inbox.take()
        for problem in taken.problems:
            log.warning("inbox: dropped %s", problem)
        return keep_ours(taken.events, self.vhids, log.info)

    def wait(self, timeout: float) -> list[IntakeEvent]:
        deadline = self.clock() + timeout
        while True:
            events = self.take()
            remaining = deadline - self.clock()
            if events or remaining <= 0 or self.stopping():
                return events
            self.sleep(min(self.poll, remaining))

    def stopping(self) -> bool:
        return self._stop()


def work(
    run_dir: str,
    reconcile: Reconcile,
    pacing: Pacing,
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL_INTERVAL,
    vhids: ConfiguredVhids = EVERY_VHID,
    conditions: ConditionSink | None = None,
) -> list[Summary]:
    """Act for as long as events keep arriving; one summary per time the lock was held."""
    inbox = Inbox(run_dir)
    source = InboxSource(inbox, stop, poll, vhids=vhids)
    lock = IntakeLock(run_dir, "worker")
    sink = conditions or NoSink()
    summaries: list[Summary] = []
    while lock.try_acquire():
        try:
            summary = run_until_quiet(
                source.take(), source, reconcile, pacing, "worker", conditions=sink
            )
        finally:
            lock.release()
        summaries.append(summary)
        log.info("worker: %s", summary.describe())
        if summary.stopped or not inbox.pending():
            break
        log.info("events arrived while the lock was released: going round again")
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m carpswitch.intake.worker [-c PATH] [-v]`, as started by the hook."""
    parser = argparse.ArgumentParser(prog="carpswitch-worker")
    parser.add_argument("-c", "--config", metavar="PATH")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("worker: not acting: %s", "; ".join(str(exc).splitlines()))
        return ExitCode.CONFIG
    try:
        return _act(config)
    except Exception as exc:  # nobody reads a worker's stderr: log it, say it in status
        log.critical("worker: internal error: %r", exc, exc_info=True)
        ConditionFile(config.paths.run_dir).report(f"worker: internal error: {exc!r}", 0.0)
        return ExitCode.SOFTWARE


def _act(config: Config) -> int:
    flags = SignalFlags()
    flags.install()
    reconciler = Reconciler(config)
    run_dir = config.paths.run_dir
    try:
        work(
            run_dir,
            reconciler,
            pacing_from(config),
            lambda: flags.stop,
            vhids=vhids_of(config),
            conditions=ConditionFile(run_dir),
        )
    finally:
        reconciler.finish()
        flags.uninstall()
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
