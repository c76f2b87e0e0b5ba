"""`carpswitch hast-event EVENT RESOURCE [ARGS]`: hast.conf's `exec` program.

hastd fork+execs its `exec` path with `EVENT RESOURCE [ARGS]` (hooks.c; `role RES OLD
NEW`, `connect`, `disconnect`, `syncstart`, `syncdone`, `syncintr`, `split-brain`) and
does not wait for it. Every event is appended to state_dir/hast-events.jsonl
(carpswitch.engine.hastevents); `split-brain` also raises the alarm: a LOG_CRIT line, the
mark that keeps the resource from being promoted automatically (carpswitch.engine.
splitbrain), and the `[hooks] notify` program as `NOTIFY split-brain hast-event RESOURCE
ID` with the event as JSON on stdin, only when this call made the mark (a degraded primary
re-fires the event every 10 s). Bounded: no hastctl, no actor lock; the notify program is
bounded by [timeouts] hook. An event hastd may have grown since is journaled and logged,
and exits 0: it must not look like a failing hook.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from carpswitch.engine.hastevents import HastEvent, HastEventLog
from carpswitch.engine.splitbrain import WHAT_TO_RUN, SplitBrainMarks
from carpswitch.errors import ConfigError
from carpswitch.exitcodes import ExitCode

log = logging.getLogger(__name__)

SPLIT_BRAIN = "split-brain"
#: hastd's events (event.h, hooks.c callers) and how many words follow the resource.
EVENTS = {
    "role": 2,
    "connect": 0,
    "disconnect": 0,
    "syncstart": 0,
    "syncdone": 0,
    "syncintr": 0,
    SPLIT_BRAIN: 0,
    "reload": 0,  # not fired by today's hastd (hastd.c reload has no hook): taken if it comes
}


def parse_event(words: Sequence[str]) -> HastEvent:
    """The event in hastd's words; one of another shape is kept as not `known`."""
    event = words[0] if words else ""
    resource = words[1] if len(words) > 1 else None
    args = tuple(words[2:])
    known = event in EVENTS and resource is not None and len(args) == EVENTS[event]
    return HastEvent.now(event, resource, args, known)


def run_hast_event(words: Sequence[str], config_path: str | None = None, verbose: int = 0) -> int:
    """Journal the event; on split-brain mark the resource and raise the alarm.

    Reached from carpswitch.cli without argparse (like the devd hook) and reads the config
    the hook's way (carpswitch.intake.settings, standard library); only a new split-brain
    loads the whole config, for `[hooks] notify`.
    """
    from carpswitch.intake.settings import read_hook_settings
    from carpswitch.logsetup import setup_logging

    setup_logging(verbose)
    event = parse_event(words)
    try:
        state_dir = read_hook_settings(config_path).state_dir
    except ConfigError as exc:
        if event.event == SPLIT_BRAIN:
            log.critical(
                "split-brain on %s (hastd): NOT marked, the configuration cannot be loaded: %s",
                event.resource,
                exc,
            )
        for line in str(exc).splitlines():
            log.error("hast-event: %s", line)
        return ExitCode.CONFIG
    try:
        HastEventLog(state_dir).append(event)
    except OSError as exc:
        log.error("hast-event %s: cannot journal it: %s", event.event, exc)
    if not event.known:
        log.warning(
            "hast-event: unknown event from hastd: %s (journaled, nothing done)", " ".join(words)
        )
        return ExitCode.OK
    log.info("hastd: %s", " ".join(words))
    if event.event != SPLIT_BRAIN or event.resource is None:
        return ExitCode.OK
    return _split_brain(config_path, state_dir, event, event.resource)


def _split_brain(config_path: str | None, state_dir: str, event: HastEvent, resource: str) -> int:
    try:
        new = SplitBrainMarks(state_dir).mark(resource, event.id)
    except OSError as exc:
        log.critical(
            "split-brain on %s (hastd): cannot mark it (%s): automatic promotion NOT blocked",
            resource,
            exc,
        )
        _notify(config_path, event, resource)
        return ExitCode.FAILED
    if not new:
        log.warning("split-brain on %s (hastd, again): still marked: %s", resource, WHAT_TO_RUN)
        return ExitCode.OK
    log.critical(
        "split-brain on %s (hastd): never promoted automatically until "
        "`carpswitch split-brain clear %s`: %s",
        resource,
        resource,
        WHAT_TO_RUN,
    )
    _notify(config_path, event, resource)
    return ExitCode.OK


def _notify(config_path: str | None, event: HastEvent, resource: str) -> None:
    """`NOTIFY split-brain hast-event RESOURCE ID`, the event on stdin; bounded, logged."""
    from carpswitch.config import load_config
    from carpswitch.errors import CarpswitchError
    from carpswitch.system.runner import Runner

    try:
        config = load_config(config_path)
    except ConfigError as exc:  # the hook's own reading passed: not expected
        log.error("notify hook not run: %s", exc)
        return
    if config.hooks.notify is None:
        return
    runner = Runner(config.commands, run_dir=config.paths.run_dir)
    try:
        runner.run(
            config.hooks.notify,
            SPLIT_BRAIN,
            "hast-event",
            resource,
            event.id,
            timeout=config.timeouts.hook,
            stdin=json.dumps(event.document()),
        )
    except CarpswitchError as exc:
        log.warning("notify hook: %s", exc)
