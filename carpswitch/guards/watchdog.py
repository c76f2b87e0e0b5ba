"""Self-fencing by watchdog(4): the daemon pats it; a silent peer is waited out.

A host that hangs (every process stopped or stuck, its hardware still counting) cannot
fence itself with software: it comes back still a HAST primary and serves next to the
node that took over. FreeBSD's watchdog(4) resets a machine whose watchdog is not patted
in time (`watchdog -t N`, usr.sbin/watchdogd/watchdogd.c), so while `[guards] watchdog =
N` the daemon pats it every pat_interval(N) from its own thread (a long fsck in the main
loop does not starve it), and a node that takes over from a peer whose view stays silent
waits fires_after(N) + FENCE_MARGIN seconds first: by then a hung peer has been reset
(Pacemaker's SBD "watchdog fencing", Patroni's watchdog). A daemon that stops cleanly
disarms it (`watchdog -t 0`); one that is killed and not restarted within N resets the
host, on purpose. Not covered: a host without a watchdog device, a paused VM (its virtual
watchdog stops with it). Do not run watchdogd(8) as well: it would keep a hung
carpswitch's host alive.
"""

from __future__ import annotations

import logging
import threading

from carpswitch.errors import CommandError
from carpswitch.system import commands
from carpswitch.system.runner import CommandRunner

log = logging.getLogger("carpswitch")

#: Pat every this share of the timeout (at most every PAT_MAX seconds): a pat lost to a
#: slow command still leaves three more before the deadline.
PAT_SHARE = 0.25
PAT_MAX = 1.0
#: A silent peer is waited out this much longer than its watchdog fires (fires_after): the
#: reset itself and the last pat's own time.
FENCE_MARGIN = 2.0


def fires_after(timeout: int) -> float:
    """Seconds watchdog(4) really waits after `watchdog -t TIMEOUT`: the kernel hands the
    drivers a power of two of nanoseconds above it (sys/dev/watchdog/watchdog.c,
    wdog_kern_pat_sbt: `flsl` of the nanoseconds), up to twice TIMEOUT (20 -> 34.4 s). A
    peer that waits only TIMEOUT would take over while the hung host still serves."""
    if timeout <= 0:
        return 0.0
    return (1 << (timeout * 1_000_000_000).bit_length()) / 1e9


def pat_interval(timeout: int) -> float:
    """Seconds between two pats of a watchdog armed for `timeout` seconds."""
    return min(PAT_MAX, timeout * PAT_SHARE)


class WatchdogPat:
    """Arms watchdog(4) on start, pats it from a thread, disarms it on close."""

    def __init__(self, runner: CommandRunner, timeout: int) -> None:
        self.runner = runner
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Arm now (the first pat), then keep patting until close()."""
        self.pat()
        log.info("watchdog armed: %d s (watchdog -t %d)", self.timeout, self.timeout)
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def close(self, *, disarm: bool = True) -> None:
        """Stop patting and disarm (`watchdog -t 0`): a clean stop must not reset. Not
        `disarm`: a daemon that never served because another daemon serves leaves the
        watchdog to that one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=pat_interval(self.timeout) + self._bound())
        if not disarm:
            return
        try:
            self.runner.run(*commands.watchdog_pat(0), timeout=self._bound())
            log.info("watchdog disarmed")
        except CommandError as exc:
            log.error("watchdog: cannot disarm it: %s", exc)

    def pat(self) -> bool:
        """One pat; a failure is logged once per run of failures (the next may work)."""
        try:
            self.runner.run(*commands.watchdog_pat(self.timeout), timeout=self._bound())
        except CommandError as exc:
            if not self._failing:
                log.error("watchdog: pat failed (the host resets if this goes on): %s", exc)
            self._failing = True
            return False
        if self._failing:
            log.warning("watchdog: patted again")
        self._failing = False
        return True

    def _run(self) -> None:
        while not self._stop.wait(pat_interval(self.timeout)):
            self.pat()

    def _bound(self) -> float:
        """A pat's own bound, a share of the timeout. Pats run one after another: a pat that
        hangs to its bound (plus the runner's stuck grace) delays the next ones."""
        return max(0.5, self.timeout * PAT_SHARE)
