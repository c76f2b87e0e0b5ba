"""The simulated hastd process: pidfile, control socket, signals, timers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from carpswitch.lab.facts import load_facts
from carpswitch.lab.faults import Fault, FaultPlanError, load_plan, take_fault
from carpswitch.lab.hastd import hooks
from carpswitch.lab.hastd import listener as peers
from carpswitch.lab.hastd.control import handle
from carpswitch.lab.hastd.protocol import EHAST_INVALID, Reply, Request
from carpswitch.lab.hastd.resources import ResourceTable
from carpswitch.lab.hastd.workers import ForkingLauncher
from carpswitch.lab.hastsetup import HastSetup
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.records import dumps, loads
from carpswitch.lab.sockets import unix_address
from carpswitch.lab.state import HastKnobState, StateStore

EX_OSERR = 71
EX_TEMPFAIL = 75
_REQUEST_TIMEOUT = 5.0


class StartupError(Exception):
    """hastd cannot start; `message` is its log text, `exit_code` its exit status."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        self.message = message
        super().__init__(message)


class PidFile:
    """pidfile_open(3): an flock-ed pid file proving we are the only hastd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock and write our pid (StartupError 75 if another hastd holds it)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "-1"
            os.close(fd)
            raise StartupError(
                EX_TEMPFAIL,
                f"Another hastd is already running, pidfile: {self.path}, pid: {other}.",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def remove(self) -> None:
        """pidfile_remove(3)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


class HastDaemon:
    """One hastd: resources, control socket and the main loop."""

    def __init__(self, paths: NodePaths, setup: HastSetup, log: Callable[[str], None]) -> None:
        self.paths = paths
        self.setup = setup
        self.log = log
        self.store = StateStore(paths)
        facts = load_facts(paths.root)
        #: facts.replication: listen for the peer's hastd and replicate to it.
        self.replicating = facts.replication
        self._netns = facts.netns if facts.replication else None
        self.launcher = ForkingLauncher(paths, log, self.replicating)
        self.table = ResourceTable(
            setup.resources, self.launcher, log=log, replicating=self.replicating
        )
        self.pidfile = PidFile(setup.pidfile)
        self._listener: socket.socket | None = None
        self._peers: list[socket.socket] = []
        self._signals: set[int] = set()

    def start(self) -> None:
        """Take the pid file and listen on the control address (raises StartupError)."""
        self.pidfile.acquire()
        path = self.setup.control_socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # proto_uds removes a stale socket before bind
            with unix_address(path) as address:
                listener.bind(address)
            listener.listen(16)
        except OSError as exc:
            listener.close()
            self.pidfile.remove()
            raise StartupError(
                EX_OSERR,
                f"Unable to listen on control address {self.setup.control_address}: "
                f"{exc.strerror}.",
            ) from exc
        self._listener = listener
        if self.replicating:
            self._listen_for_peers()
        self.log("Started successfully, running protocol version 2.")

    def _listen_for_peers(self) -> None:
        """Enter the node's network namespace and bind hast.conf's `listen` addresses."""
        if self._netns is not None:
            try:
                peers.enter_netns(self._netns)
            except OSError as exc:
                self.close()
                raise StartupError(
                    EX_OSERR,
                    f"Unable to enter network namespace {self._netns}: {exc.strerror}.",
                ) from exc
        try:
            self._peers = peers.open_listeners(self.setup.listen)
        except (OSError, ValueError) as exc:
            self.close()
            where = ", ".join(self.setup.listen)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StartupError(EX_OSERR, f"Unable to listen on address {where}: {reason}.") from exc
        for address in self.setup.listen:
            self.log(f"Listening on address {address}.")

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; return the exit status (0)."""
        assert self._listener is not None, "start() first"
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        signal.set_wakeup_fd(wake_write.fileno())
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._note_signal)
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "control")
        selector.register(wake_read, selectors.EVENT_READ, "wake")
        for peer in self._peers:
            selector.register(peer, selectors.EVENT_READ, peer)
        try:
            while not ({signal.SIGTERM, signal.SIGINT} & self._signals):
                for key, _ in selector.select(self._timeout()):
                    if key.data == "control":
                        self._serve_one()
                    elif isinstance(key.data, socket.socket):
                        self._reap()
                        peers.accept(key.data, self.table, self.log)
                    else:
                        with contextlib.suppress(BlockingIOError):
                            wake_read.recv(4096)
                self._reap()
                self._signals.discard(signal.SIGCHLD)
                if signal.SIGHUP in self._signals:
                    self._signals.discard(signal.SIGHUP)
                    self.log("Reloading configuration... (not simulated)")
                self.table.tick()
            self.log("Termination signal received, exiting.")
        finally:
            self.table.shutdown()
            self.close()
        return 0

    def close(self) -> None:
        """Close and remove the control socket, the peer listeners and the pid file."""
        for peer in self._peers:
            peer.close()
        self._peers = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self.setup.control_socket.unlink()
        self.pidfile.remove()

    def _note_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.add(signum)

    def _timeout(self) -> float | None:
        deadline = self.table.next_deadline()
        if deadline is None:
            return None
        return max(0.0, deadline - time.monotonic())

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if hooks.reaped(pid, status, self.log):
                continue
            self.launcher.reaped(pid)
            if os.WIFSIGNALED(status):
                self.table.worker_exited(pid, None, os.WTERMSIG(status))
            else:
                self.table.worker_exited(pid, os.waitstatus_to_exitcode(status), None)

    def _serve_one(self) -> None:
        assert self._listener is not None
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(_REQUEST_TIMEOUT)
            try:
                reply = self._answer(_read_line(connection))
                connection.sendall(dumps(reply).encode() + b"\n")
            except OSError as exc:
                self.log(f"Unable to answer control request: {exc}.")

    def _answer(self, line: bytes) -> Reply:
        try:
            request = loads(Request, line)
        except ValueError:  # RecordError
            return Reply(error=EHAST_INVALID)
        self._reap()
        return handle(request, self.table, self._knobs, self._fault_for)

    def _knobs(self) -> HastKnobState:
        return self.store.read(HastKnobState)

    def _fault_for(self, args: str) -> Fault | None:
        try:
            plan = load_plan(self.paths.faults)
        except FaultPlanError as exc:
            self.log(str(exc))
            return Fault(command="hastd", exit=70)
        return take_fault(self.store, plan, "hastd", args)


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]
