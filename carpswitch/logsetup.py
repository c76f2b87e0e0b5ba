"""Logging: syslog (daemon facility, ident `carpswitch`) when not on a terminal, else stderr.

On FreeBSD syslogd listens on /var/run/log; Linux has /dev/log. Without either (a test run,
a container) logs go to stderr, so nothing is ever lost silently.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import TextIO

SYSLOG_SOCKETS = ("/var/run/log", "/dev/log")
FORMAT_TERMINAL = "carpswitch: %(levelname)s: %(message)s"
FORMAT_SYSLOG = "carpswitch[%(process)d]: %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the record (tests swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _syslog_listens(path: str) -> bool:
    """Whether a syslog daemon accepts datagrams at `path` (the file alone proves nothing)."""
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def setup_logging(verbose: int = 0, force_stderr: bool = False) -> None:
    """Send carpswitch's log records to syslog or stderr; -v shows info, -vv debug."""
    level = logging.WARNING - 10 * min(verbose, 2)
    root = logging.getLogger("carpswitch")
    root.setLevel(min(level, logging.INFO))
    root.handlers.clear()
    root.propagate = False
    handler: logging.Handler
    socket_path = next((p for p in SYSLOG_SOCKETS if _syslog_listens(p)), None)
    if force_stderr or sys.stderr.isatty() or socket_path is None:
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT_TERMINAL))
        handler.setLevel(level)
    else:
        from logging.handlers import SysLogHandler  # it imports pickle: only for syslog

        handler = SysLogHandler(address=socket_path, facility=SysLogHandler.LOG_DAEMON)
        handler.setFormatter(logging.Formatter(FORMAT_SYSLOG))
        handler.setLevel(min(level, logging.INFO))  # syslog always gets transitions
    root.addHandler(handler)
