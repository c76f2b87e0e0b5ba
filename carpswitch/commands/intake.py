"""`carpswitch reconcile [--boot]`, `daemon`, `pause [REASON]` and `resume`."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import suppress

from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.controller import Controller
from carpswitch.devd.hook import hand_on
from carpswitch.engine.boot import BootWindow
from carpswitch.engine.pause import PauseFlag
from carpswitch.errors import CarpswitchError, ConfigError
from carpswitch.exitcodes import ExitCode
from carpswitch.intake.inbox import IntakeEvent
from carpswitch.intake.settings import read_hook_settings
from carpswitch.logsetup import StderrHandler
from carpswitch.model import TransitionOutcome

log = logging.getLogger(__name__)

#: How long `reconcile` waits for a worker or an admin command to finish acting.
RECONCILE_LOCK_WAIT = 60.0


def run_reconcile(config_path: str | None, boot: bool = False) -> int:
    """Act once on what CARP says now; 75 when busy; 1 when a transition failed or was
    refused, a group could not be decided (a fact stayed unreadable) or an error was caught.

    `--boot` opens the boot window first (carpswitch.engine.boot): events that arrive
    before this reconcile has run follow the boot rules too.
    """
    config = load_config(config_path)
    if boot:
        try:
            BootWindow(config.paths.run_dir).open()
        except OSError as exc:  # this reconcile follows the boot rules all the same
            print(f"carpswitch: cannot open the boot window: {exc}", file=sys.stderr)
    controller = Controller(NodeContext(config), lock_wait=RECONCILE_LOCK_WAIT)
    trigger = "boot reconcile" if boot else "admin reconcile"
    try:
        records = controller.reconcile(trigger, boot=boot)
    finally:
        controller.wait_for_notifications()
    for record in records:
        print(f"{record.kind} {record.group}: {record.outcome} ({record.reason})")
    for decision in controller.unsettled:
        print(f"group {decision.group.name}: {decision.reason}")
    for error in controller.errors:
        print(f"carpswitch: {error}", file=sys.stderr)
    if not (records or controller.unsettled or controller.errors):
        print("nothing to do")
    bad = (TransitionOutcome.FAILED, TransitionOutcome.REFUSED, TransitionOutcome.UNREAD)
    wrong = any(r.outcome in bad for r in records) or controller.unsettled or controller.errors
    return ExitCode.FAILED if wrong else ExitCode.OK


def run_daemon(config_path: str | None) -> int:
    """Serve as the rc.d service until SIGTERM; 78 on a config error, 71 on an OS error.

    A fatal error is one line in syslog and one on stderr: daemon(8) passes stderr on to
    syslog only with -S, and an admin who runs `carpswitch daemon` by hand reads stderr.
    """
    from carpswitch.intake.daemon import Daemon

    try:
        return Daemon(config_path).run()
    except ConfigError as exc:
        return _fatal(f"configuration error: {'; '.join(str(exc).splitlines())}", ExitCode.CONFIG)
    except OSError as exc:
        detail = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc
        return _fatal(str(detail), ExitCode.OSERR)
    except CarpswitchError as exc:
        return _fatal(str(exc), ExitCode.FAILED)


def _fatal(message: str, status: ExitCode) -> int:
    """Log why the daemon cannot run, once to syslog and once to stderr; return `status`."""
    log.error("daemon: cannot run: %s", message)
    handlers = logging.getLogger("carpswitch").handlers
    if not any(isinstance(handler, StderrHandler) for handler in handlers):
        with suppress(OSError):  # daemon(8) gone: its pipe is closed, syslog has the line
            print(f"carpswitch: daemon: cannot run: {message}", file=sys.stderr, flush=True)
    return status


def run_pause(config_path: str | None, reason: str) -> int:
    """Observe only from now on, across reboots, until `carpswitch resume`."""
    config = load_config(config_path)
    flag = PauseFlag(config.paths.state_dir)
    flag.set(reason)
    print(f"paused: {flag.reason()}")
    print("carpswitch observes but runs no transition until `carpswitch resume`")
    return ExitCode.OK


def run_resume(config_path: str | None) -> int:
    """Lift the pause, then hand intake a wake-up so the node catches up with CARP now."""
    config = load_config(config_path)
    if not PauseFlag(config.paths.state_dir).clear():
        print("carpswitch was not paused")
        return ExitCode.OK
    settings = read_hook_settings(config_path)
    outcome = hand_on(settings, IntakeEvent("resume", at=time.time()))
    print(f"resumed; reconciling now: {outcome}")
    return ExitCode.OK
