"""`carpswitch master|backup VHID@IFACE|IFACE`: what devd runs on a CARP state change.

devd waits for its action before it handles the next event, so the hook only records the
event and hands it on: to the daemon when one listens, else to a detached worker (unless
one is acting already: it sees the recorded event before it lets go of its lock). Then it
exits 0. Before that it checks the whole config with the worker's rules (a config the
worker would refuse fails here, where someone sees it) and drops events of vhids no group
is configured for. Standard library only (see carpswitch.intake); it logs to syslog
directly.
"""

from __future__ import annotations

import sys
import syslog
import time
from collections.abc import Sequence

from carpswitch.devd.events import CarpEvent, parse_hook_argv
from carpswitch.errors import ConfigError, ParseError
from carpswitch.exitcodes import ExitCode
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import is_busy
from carpswitch.intake.settings import HookSettings, read_hook_settings
from carpswitch.intake.spawn import start_detached, worker_argv
from carpswitch.intake.wire import Delivery, send_to_daemon

SYSLOG_IDENT = "carpswitch"


def run_hook(words: Sequence[str], config: str | None = None, verbose: int = 0) -> int:
    """Handle `words` (`MASTER 1@vtnet0`, any case); return the exit status for devd.

    Whatever goes wrong is one syslog line and the same line on stderr (for an admin who
    runs the hook by hand), with a sysexits status: 64 bad arguments, 78 a config the
    worker would refuse, 71 an event that could not be recorded.
    """
    _open_syslog()
    try:
        return _handle(words, config, verbose)
    except Exception as exc:  # a bug must not become a traceback devd throws away
        return _fail(ExitCode.SOFTWARE, f"hook: internal error: {exc!r}")


def _handle(words: Sequence[str], config: str | None, verbose: int) -> int:
    try:
        carp = parse_hook_argv(words)
    except ParseError as exc:
        return _fail(ExitCode.USAGE, f"hook: bad arguments {list(words)!r}: {exc.reason}")
    event = hook_event(carp)
    if config == "":
        return _fail(ExitCode.USAGE, f"{event.describe()}: not handled: -c: empty path")
    try:
        settings = read_hook_settings(config)
    except ConfigError as exc:
        return _fail(ExitCode.CONFIG, f"{event.describe()}: not handled: {_one_line(exc)}")
    if not settings.vhids.concerns(event):
        syslog.syslog(syslog.LOG_INFO, settings.vhids.why_ignored(event))
        return ExitCode.OK
    try:
        outcome = hand_on(settings, event, verbose)
    except OSError as exc:
        return _fail(ExitCode.OSERR, f"{event.describe()}: not handled: {exc}")
    syslog.syslog(syslog.LOG_INFO, f"{event.describe()}: {outcome}")
    return ExitCode.OK


def _fail(status: ExitCode, line: str) -> int:
    syslog.syslog(syslog.LOG_ERR, line)
    print(f"carpswitch: {line}", file=sys.stderr)
    return status


def _one_line(exc: ConfigError) -> str:
    """The first problem; how many more there are (`carpswitch check` lists them)."""
    line = f"{exc.path}: {exc.problems[0]}"
    more = len(exc.problems) - 1
    return f"{line} (and {more} more: see carpswitch check)" if more else line


def hook_event(carp: CarpEvent, origin: str = "hook") -> IntakeEvent:
    """The inbox event for a CARP state change."""
    subsystem = carp.interface if carp.vhid is None else f"{carp.vhid}@{carp.interface}"
    return IntakeEvent(origin=origin, state=carp.state, subsystem=subsystem, at=time.time())


def hand_on(settings: HookSettings, event: IntakeEvent, verbose: int = 0) -> str:
    """Record `event`, then wake the daemon or start a worker; say which, for the log.

    Recording comes first: whoever acts next takes it from the inbox, whichever way the
    wake-up went. Raises OSError when the event could not even be recorded and no daemon
    took it.
    """
    try:
        Inbox(settings.run_dir).record(event)
    except OSError as exc:
        if send_to_daemon(settings.run_dir, event) is Delivery.DELIVERED:
            return f"not recorded ({exc.strerror}), handed to the daemon"
        raise
    if send_to_daemon(settings.run_dir, event) is Delivery.DELIVERED:
        return "handed to the daemon"
    if is_busy(settings.run_dir):
        return "recorded for the worker already acting"
    pid = start_detached(worker_argv(settings.config_path, verbose))
    return f"started worker {pid}"


def _open_syslog() -> None:
    syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
