"""Logging: syslog (daemon facility, ident `carpswitch`) when not on a terminal, else stderr.

On FreeBSD syslogd listens on /var/run/log; Linux has /dev/log. Without either (a test run,
a container) logs go to stderr, so nothing is ever lost silently.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

SYSLOG_SOCKETS = ("/var/run/log", "/dev/log")
FORMAT_TERMINAL = "carpswitch: %(levelname)s: %(message)s"
FORMAT_SYSLOG = "carpswitch[%(process)d]: %(message)s"


def setup_logging(verbose: int = 0, force_stderr: bool = False) -> None:
    """Send carpswitch's log records to syslog or stderr; -v shows info, -vv debug."""
    level = logging.WARNING - 10 * min(verbose, 2)
    root = logging.getLogger("carpswitch")
    root.setLevel(min(level, logging.INFO))
    root.handlers.clear()
    root.propagate = False
    handler: logging.Handler
    socket_path = next((p for p in SYSLOG_SOCKETS if os.path.exists(p)), None)
    if force_stderr or sys.stderr.isatty() or socket_path is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT_TERMINAL))
        handler.setLevel(level)
    else:
        handler = logging.handlers.SysLogHandler(
            address=socket_path, facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
        handler.setFormatter(logging.Formatter(FORMAT_SYSLOG))
        handler.setLevel(min(level, logging.INFO))  # syslog always gets transitions
    root.addHandler(handler)
