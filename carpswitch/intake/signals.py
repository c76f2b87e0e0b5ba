"""Signal handling, Patroni style: handlers only set flags; the loop acts between cycles.

SIGTERM and SIGINT ask to stop (after the transition in progress), SIGHUP asks to reload
the config at the top of the next cycle. A wake-up pipe (signal.set_wakeup_fd) lets a
select() return at once when a signal arrives.
"""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from types import FrameType
from typing import Any

_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalFlags:
    """Flags set by SIGTERM/SIGINT (stop) and SIGHUP (reload), plus a wake-up fd."""

    def __init__(self) -> None:
        self.stop = False
        self.reload = False
        self._previous: dict[int, Any] = {}
        self.wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)

    def install(self) -> None:
        """Install the handlers (main thread only)."""
        self._previous = {number: signal.getsignal(number) for number in _HANDLED}
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)

    def uninstall(self) -> None:
        """Restore the previous handlers and close the pipe."""
        signal.set_wakeup_fd(-1)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        os.close(self.wakeup_read)
        os.close(self._wakeup_write)

    def drain(self) -> None:
        """Empty the wake-up pipe (after select() said it is readable)."""
        try:
            while os.read(self.wakeup_read, 512):
                pass
        except BlockingIOError:
            return

    def request_stop(self) -> None:
        """What SIGTERM does, for callers that are not signals (tests, a supervising thread)."""
        self.stop = True
        self._wake()

    def request_reload(self) -> None:
        """What SIGHUP does."""
        self.reload = True
        self._wake()

    def _wake(self) -> None:
        with suppress(BlockingIOError):  # a full pipe: a wake-up is pending already
            os.write(self._wakeup_write, b"\0")

    def take_reload(self) -> bool:
        """Whether a reload was asked for since the last call."""
        asked, self.reload = self.reload, False
        return asked

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload = True
