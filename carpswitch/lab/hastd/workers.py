"""Worker processes of the simulated hastd, forked from the daemon.

A worker is titled exactly like hastd's (`hastd: NAME (primary)`), dies with the daemon
(PR_SET_PDEATHSIG), and while primary owns /dev/hast/<provname>: it creates it a moment
after starting (init_ggate) and removes it when it exits, even if it is mounted (G_GATE
destroy with force). A file system still mounted on the vanished provider becomes dirty.

On a stand-alone node the provider is a symlink to the local component and the peer is
steered (`lab peer`); on a replicating node (facts.replication) the primary worker serves
it through FUSE and replicates to the peer's hastd (carpswitch.lab.hastd.primary), and a
secondary worker serves an accepted primary (carpswitch.lab.hastd.secondary).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn

from carpswitch.lab.faults import FaultPlanError, load_plan, take_fault
from carpswitch.lab.hastd import ggate
from carpswitch.lab.hastd import provider as fuse_provider
from carpswitch.lab.hastd.resources import ResourceConfig, Role
from carpswitch.lab.hastd.wire import PeerSession
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import (
    HastKnobState,
    ResourceKnobs,
    StateStore,
)

#: How long `stop` waits for a worker after SIGTERM before SIGKILL.
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1
#: How long `start` waits for a new worker to take its title.
_TITLE_WAIT = 2.0


class _Stop(Exception):
    """Raised in the worker by SIGTERM to unwind into cleanup."""


class ForkingLauncher:
    """Starts workers with fork(2) from the (single-threaded) daemon."""

    def __init__(
        self,
        paths: NodePaths,
        log: Callable[[str], None] = lambda message: None,
        replicating: bool = False,
    ) -> None:
        self._paths = paths
        self._store = StateStore(paths)
        self._log = log
        self.replicating = replicating
        self._providers: dict[int, Path] = {}  # FUSE-serving primary workers

    def start(
        self,
        resource: ResourceConfig,
        role: Role,
        peer_connected: bool,
        session: PeerSession | None = None,
    ) -> int:
        """Fork a worker; return once it carries its process title (or after 2 s)."""
        if role is Role.PRIMARY:
            wait = 0.0 if peer_connected or not resource.has_remote else resource.timeout
            self._set_io_wait(resource, None, wait)
        parent = os.getpid()
        titled_read, titled_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(titled_read)
            _worker_main(
                _Worker(self._paths, resource, role, self._log, self.replicating, session),
                parent,
                titled_write,
            )
        os.close(titled_write)
        if session is not None:
            session.sock.close()  # the worker has its own copy
        if role is Role.PRIMARY and self.replicating:
            self._providers[pid] = self._paths.provider(resource.provider_name)
        if role is Role.PRIMARY:
            with self._store.update(HastKnobState) as knobs:
                knobs.resources.setdefault(resource.name, ResourceKnobs()).io_wait_worker = pid
        try:
            ready, _, _ = select.select([titled_read], [], [], _TITLE_WAIT)
            if ready:
                os.read(titled_read, 1)
        finally:
            os.close(titled_read)
        return pid

    def remote_connected(self, resource: ResourceConfig) -> None:
        """init_remote succeeded: the primary worker serves I/O from now on."""
        ggate.serve_io_now(self._store, resource.name)

    def reaped(self, pid: int) -> None:
        """A worker is gone: detach the FUSE provider a killed primary worker left."""
        path = self._providers.pop(pid, None)
        if path is not None and fuse_provider.is_mounted(fuse_provider.mount_path(path)):
            self._log(f"Detaching hast/{path.name} left by worker {pid}.")
            fuse_provider.remove(path)

    def _set_io_wait(self, resource: ResourceConfig, worker: int | None, wait: float) -> None:
        with self._store.update(HastKnobState) as knobs:
            current = knobs.resources.setdefault(resource.name, ResourceKnobs())
            current.io_wait_worker = worker
            current.io_wait_seconds = wait
            current.io_waits_until = None

    def stop(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.reaped(pid)
                return
            if done:
                self.reaped(pid)
                return
            time.sleep(0.005)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        self.reaped(pid)


def worker_title(name: str, role: Role) -> str:
    """hastd's worker process title: `hastd: <resource> (<role>)`."""
    return f"hastd: {name} ({role})"


@dataclass
class _Worker:
    """What a forked worker is to do."""

    paths: NodePaths
    resource: ResourceConfig
    role: Role
    log: Callable[[str], None]
    replicating: bool
    session: PeerSession | None


def _worker_main(
    worker: _Worker, parent: int, titled: int
) -> NoReturn:  # pragma: no cover - runs in the child (covered by node tests)
    code = 0
    resource, role, paths = worker.resource, worker.role, worker.paths
    keep = {titled} | ({worker.session.sock.fileno()} if worker.session is not None else set())
    try:
        _become_worker(resource, role, parent, keep, titled, worker.session is not None)
        if role is Role.PRIMARY:
            code = _primary_faults(paths, resource)
        if code == 0 and role is Role.PRIMARY and worker.replicating:
            from carpswitch.lab.hastd.primary import run_primary

            run_primary(paths, resource, worker.log, lambda: ggate.start_io_wait(paths, resource))
        elif code == 0 and worker.session is not None:
            from carpswitch.lab.hastd.secondary import serve

            session = worker.session
            code = serve(StateStore(paths), resource, session.sock, session.hello, worker.log)
        elif code == 0:
            if role is Role.PRIMARY:
                ggate.create_symlink_provider(paths, resource)
            while True:
                signal.pause()
    except _Stop:
        code = 0
    except BaseException:
        code = 70
    finally:
        if role is Role.PRIMARY:
            ggate.destroy_provider(paths, resource, worker.replicating)
    os._exit(code)


def _become_worker(
    resource: ResourceConfig,
    role: Role,
    parent: int,
    keep: set[int],
    titled: int,
    serves_primary: bool,
) -> None:
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _raise_stop)
    # hastd.c listen_accept stops an old secondary worker with SIGINT.
    signal.signal(signal.SIGINT, _raise_stop if serves_primary else signal.SIG_DFL)
    low = 3
    for fd in sorted(keep):  # the daemon's sockets are not ours
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1024)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        raise _Stop
    # Keep the environment readable (/proc/PID/environ holds the node marker).
    os.environ["SPT_NOENV"] = "1"
    import setproctitle

    setproctitle.setproctitle(worker_title(resource.name, role))
    os.write(titled, b"t")
    os.close(titled)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _primary_faults(paths: NodePaths, resource: ResourceConfig) -> int:
    """The fault plan's word on hastd_primary's start; a nonzero code to exit with."""
    store = StateStore(paths)
    try:
        plan = load_plan(paths.faults)
    except FaultPlanError:
        return 70
    fault = take_fault(store, plan, "hastd", f"worker primary {resource.name}")
    if fault is not None:
        if fault.hang > 0:
            time.sleep(fault.hang)
        if fault.exit is not None:
            return fault.exit
    return 0
