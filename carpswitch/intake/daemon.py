"""`carpswitch daemon`: the rc.d service. devd's socket, the hook's socket, and a timer.

It holds the intake lock for its whole life (so no worker acts beside it), listens on
run_dir/intake.sock for the hook's wake-ups and on devd's seqpacket socket for CARP
events, and reconciles every `[intake] timer` seconds so a missed event is healed. With
`[guards]` it also serves this node's read-only view to the peer (carpswitch.guards.server)
and looks at the guards every `[guards] interval` while MASTER or primary
(carpswitch.intake.guardwatch), reconciling when their verdict changes. Events
are coalesced as a worker does (carpswitch.intake.coalesce). SIGTERM lets the transition
in progress finish and exits 0; SIGHUP reloads the config at the top of the next cycle.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time
from collections.abc import Callable
from contextlib import suppress

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.devd.listener import DevdSocket
from carpswitch.errors import ConfigError
from carpswitch.exitcodes import ExitCode
from carpswitch.guards.look import view_address
from carpswitch.guards.server import ViewServer
from carpswitch.guards.source import ViewSource
from carpswitch.guards.watchdog import WatchdogPat
from carpswitch.intake.act import Reconciler
from carpswitch.intake.coalesce import Outcome, run_until_quiet
from carpswitch.intake.condition import ConditionFile
from carpswitch.intake.describe import lock_holder
from carpswitch.intake.guardwatch import GuardWatch
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.settling import SettlingFile
from carpswitch.intake.signals import SignalFlags
from carpswitch.intake.vhids import keep_ours
from carpswitch.intake.wire import MAX_RECORD, intake_socket_path
from carpswitch.intake.worker import InboxSource, pacing_from, vhids_of
from carpswitch.model import NodeState
from carpswitch.system.runner import CommandRunner
from carpswitch.topology import Topology

log = logging.getLogger(__name__)

#: How often the daemon looks whether the worker holding the intake lock has finished.
LOCK_POLL = 0.2

ReconcilerFactory = Callable[[Config], Reconciler]


class DaemonSource:
    """The daemon's EventSource: select() on the signal pipe, its own socket and devd's."""

    def __init__(
        self,
        flags: SignalFlags,
        listener: socket.socket,
        devd: DevdSocket,
        inbox: InboxSource,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flags = flags
        self.listener = listener
        self.devd = devd
        self.inbox = inbox  # judges events by its `vhids`, devd's as well
        self.clock = clock
        self.settling: SettlingFile | None = None  # told when events wait (for `status`)

    def wait(self, timeout: float, until_reload: bool = False) -> list[IntakeEvent]:
        """Events within `timeout`; with `until_reload`, also return early on SIGHUP."""
        deadline = self.clock() + timeout
        while True:
            events = self.collect()
            remaining = deadline - self.clock()
            if events or remaining <= 0 or self.stopping():
                return events
            if until_reload and self.flags.reload:
                return []
            retry = self.devd.seconds_to_retry()
            timeout_now = remaining if retry is None else min(remaining, retry)
            fds = [self.flags.wakeup_read, self.listener.fileno()]
            devd_fd = self.devd.fileno()
            if devd_fd is not None:
                fds.append(devd_fd)
            ready, _w, _x = select.select(fds, [], [], timeout_now)
            if self.flags.wakeup_read in ready:
                self.flags.drain()

    def collect(self) -> list[IntakeEvent]:
        """Everything that has arrived, without waiting."""
        events = self.devd.connect_if_due()
        events += self.devd.read()
        self._drain_wakeups()
        events = keep_ours(events, self.inbox.vhids, log.info) + self.inbox.take()
        if events and self.settling is not None:
            self.settling.events_came()
        return events

    def stopping(self) -> bool:
        return self.flags.stop

    def _drain_wakeups(self) -> None:
        """The hook's datagrams only wake us up: its events are taken from the inbox."""
        while True:
            try:
                self.listener.recv(MAX_RECORD)
            except BlockingIOError:
                return


class Daemon:
    """One daemon run: `run()` returns the exit status once it was asked to stop."""

    def __init__(
        self,
        config_path: str | None,
        flags: SignalFlags | None = None,
        make_reconciler: ReconcilerFactory = Reconciler,
        install_signals: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.flags = flags or SignalFlags()
        self.make_reconciler = make_reconciler
        self.install_signals = install_signals
        self.clock = clock
        self.pat: WatchdogPat | None = None

    def run(self) -> int:
        """Serve until SIGTERM; 0 then."""
        if self.install_signals:
            self.flags.install()
        run_dir = self.config.paths.run_dir
        lock = IntakeLock(run_dir, "daemon")
        # patted from the start, also while a worker's transition holds the lock: a
        # watchdog a killed daemon left armed must not reset a host whose daemon is back
        self.pat = _watchdog(self.config, NodeContext(self.config).runner)
        try:
            if not self._wait_for(lock):
                return ExitCode.OK
            with self._listen(run_dir) as listener:
                self._serve(listener)
            return ExitCode.OK
        finally:
            if self.pat is not None:  # another daemon serving pats it: leave it armed
                holder = lock_holder(os.path.dirname(lock.path))
                other = holder is not None and holder.role == "daemon" and holder.pid != os.getpid()
                self.pat.close(disarm=not other)
            lock.release()
            with suppress(FileNotFoundError):
                os.unlink(intake_socket_path(run_dir))
            if self.install_signals:
                self.flags.uninstall()

    def _wait_for(self, lock: IntakeLock) -> bool:
        """Take the intake lock once a worker lets go of it; False when asked to stop first."""
        told = False
        while not lock.try_acquire():
            if self.flags.stop:
                return False
            if not told:
                holder = lock_holder(os.path.dirname(lock.path))
                who = f"{holder.role} pid {holder.pid}" if holder else "the intake lock"
                log.info("waiting for %s to finish", who)
                told = True
            select.select([self.flags.wakeup_read], [], [], LOCK_POLL)
            self.flags.drain()
        return True

    def _listen(self, run_dir: str) -> socket.socket:
        path = intake_socket_path(run_dir)
        with suppress(FileNotFoundError):
            os.unlink(path)  # left by a daemon that died: we hold the lock, so it is stale
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listener.bind(path)
        except OSError as exc:
            listener.close()
            # bind() names no path ("AF_UNIX path too long"): the log line must
            raise OSError(exc.errno, exc.strerror or str(exc), path) from exc
        os.chmod(path, 0o600)
        listener.setblocking(False)
        return listener

    def _serve(self, listener: socket.socket) -> None:
        config = self.config
        reconcile = self._reconciler(config)
        devd = DevdSocket(config.paths.devd_socket, self.clock)
        inbox = InboxSource(
            Inbox(config.paths.run_dir), lambda: self.flags.stop, vhids=vhids_of(config)
        )
        source = DaemonSource(self.flags, listener, devd, inbox, self.clock)
        conditions = ConditionFile(config.paths.run_dir)
        source.settling = settling = SettlingFile(config.paths.run_dir)

        def round_begins(trigger: str, flapping: frozenset[str]) -> Outcome:
            settling.round_begins()  # the events it waited out are taken up now
            return reconcile(trigger, flapping)

        log.info("daemon started (pid %d)", os.getpid())
        idle_trigger, events = "daemon start", source.collect()
        watch, view = self._guards(config, reconcile)
        try:
            while True:
                summary = run_until_quiet(
                    events,
                    source,
                    round_begins,
                    pacing_from(config),
                    idle_trigger,
                    self.clock,
                    conditions,
                )
                if summary.rounds or summary.gave_up:
                    log.info("%s", summary.describe())
                next_timer = self.clock() + config.intake.timer
                events, idle_trigger = [], "timer"
                while not events and not self.flags.stop:
                    if self.flags.take_reload():
                        config, reconcile = self._reload(config, reconcile, source)
                        _close(view)
                        self.pat = _watchdog(config, _context(config, reconcile).runner, self.pat)
                        watch, view = self._guards(config, reconcile)
                        if watch is not None:  # the new controller has not looked yet
                            idle_trigger = "configuration reloaded"
                            break
                    wake = min(next_timer, watch.due) if watch else next_timer
                    events = source.wait(max(0.0, wake - self.clock()), until_reload=True)
                    if events or self.clock() >= next_timer:
                        break
                    why = watch.tick() if watch and self.clock() >= watch.due else None
                    if why:
                        log.info("%s", why)
                        idle_trigger = why
                        break
                if self.flags.stop:
                    log.info("daemon stopping (SIGTERM)")
                    return
        finally:
            settling.round_begins()  # nothing waits in a daemon that stops
            reconcile.finish()
            source.devd.close()
            _close(view)

    def _reload(
        self, config: Config, reconcile: Reconciler, source: DaemonSource
    ) -> tuple[Config, Reconciler]:
        """SIGHUP: read the config again; keep the old one when the new one is invalid."""
        try:
            fresh = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload: keeping the old configuration: %s", "; ".join(exc.problems))
            return config, reconcile
        if fresh.paths.run_dir != config.paths.run_dir:
            log.warning("reload: paths.run_dir changed: takes effect at the next restart")
        if fresh.paths.devd_socket != config.paths.devd_socket:
            source.devd.close()
            source.devd = DevdSocket(fresh.paths.devd_socket, self.clock)
        source.inbox.vhids = vhids_of(fresh)
        reconcile.finish()
        log.info("configuration reloaded")
        return fresh, self._reconciler(fresh)

    def _guards(
        self, config: Config, reconcile: Reconciler
    ) -> tuple[GuardWatch | None, ViewServer | None]:
        """The guard watch and the view this node serves its peer, when configured; a view
        that cannot listen is logged by the server and the daemon runs on without it."""
        if not config.guards.enabled:
            return None, None
        controller = reconcile.controller
        context = _context(config, reconcile)

        def seen() -> tuple[Topology, NodeState] | None:
            last = getattr(controller, "last_look", None)
            return last if isinstance(last, tuple) else None

        watch = GuardWatch(config, context.runner, seen, self.clock)
        address = view_address(config)
        if not config.guards.peer_view or address is None:
            return watch, None
        server = ViewServer(address, config.guards.view_port, ViewSource(config, context.observer))
        return watch, server if server.start() else None

    def _reconciler(self, config: Config) -> Reconciler:
        """A reconciler that starts no further group's transition once SIGTERM came."""
        reconciler = self.make_reconciler(config)
        reconciler.should_stop = lambda: self.flags.stop
        return reconciler


def _context(config: Config, reconcile: Reconciler) -> NodeContext:
    """The controller's node context (its runner and observer), or a new one."""
    context = getattr(reconcile.controller, "context", None)
    return context if isinstance(context, NodeContext) else NodeContext(config)


def _watchdog(
    config: Config, runner: CommandRunner, running: WatchdogPat | None = None
) -> WatchdogPat | None:
    """The watchdog pat `[guards] watchdog` asks for: the running one while its timeout
    stays (a reload must not leave a gap), else a new one (the old one disarmed first)."""
    timeout = config.guards.watchdog
    if running is not None and running.timeout == timeout:
        return running
    if running is not None:
        running.close()
    if not timeout:
        return None
    pat = WatchdogPat(runner, timeout)
    pat.start()
    return pat


def _close(view: ViewServer | None) -> None:
    if view is not None:
        view.close()
