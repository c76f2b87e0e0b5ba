"""Worker processes of the simulated hastd, forked from the daemon.

A worker is titled exactly like hastd's (`hastd: NAME (primary)`), dies with the daemon
(PR_SET_PDEATHSIG), and while primary owns /dev/hast/<provname>: it creates it a moment
after starting (init_ggate) and removes it when it exits, even if it is mounted (G_GATE
destroy with force). A file system still mounted on the vanished provider becomes dirty.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

from carpswitch.lab.faults import FaultPlanError, load_plan, take_fault
from carpswitch.lab.hastd.resources import ResourceConfig, Role
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import (
    FileSystem,
    FileSystemState,
    HastKnobState,
    MountState,
    ResourceKnobs,
    StateStore,
)

#: Time between fork and /dev/hast/<name> appearing (metadata read + init_ggate).
PROVIDER_DELAY = 0.1
#: How long `stop` waits for a worker after SIGTERM before SIGKILL.
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1
#: How long `start` waits for a new worker to take its title.
_TITLE_WAIT = 2.0


class _Stop(Exception):
    """Raised in the worker by SIGTERM to unwind into cleanup."""


class ForkingLauncher:
    """Starts workers with fork(2) from the (single-threaded) daemon."""

    def __init__(self, paths: NodePaths) -> None:
        self._paths = paths
        self._store = StateStore(paths)

    def start(self, resource: ResourceConfig, role: Role, peer_connected: bool) -> int:
        """Fork a worker; return once it carries its process title (or after 2 s)."""
        if role is Role.PRIMARY:
            wait = 0.0 if peer_connected or not resource.has_remote else resource.timeout
            self._set_io_wait(resource, None, wait)
        parent = os.getpid()
        titled_read, titled_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(titled_read)
            _worker_main(self._paths, resource, role, parent, titled_write)
        os.close(titled_write)
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
        with self._store.update(HastKnobState) as knobs:
            current = knobs.resources.setdefault(resource.name, ResourceKnobs())
            current.io_wait_seconds = 0.0
            current.io_waits_until = None

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
                return
            if done:
                return
            time.sleep(0.005)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def worker_title(name: str, role: Role) -> str:
    """hastd's worker process title: `hastd: <resource> (<role>)`."""
    return f"hastd: {name} ({role})"


def _worker_main(
    paths: NodePaths, resource: ResourceConfig, role: Role, parent: int, titled: int
) -> NoReturn:  # pragma: no cover - runs in the child (covered by node tests)
    code = 0
    try:
        _become_worker(resource, role, parent, titled)
        if role is Role.PRIMARY:
            code = _start_primary(paths, resource)
        if code == 0:
            while True:
                signal.pause()
    except _Stop:
        code = 0
    except BaseException:
        code = 70
    finally:
        if role is Role.PRIMARY:
            _destroy_provider(paths, resource)
    os._exit(code)


def _become_worker(resource: ResourceConfig, role: Role, parent: int, titled: int) -> None:
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGHUP, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _raise_stop)
    os.closerange(3, titled)  # the daemon's sockets are not ours
    os.closerange(titled + 1, 1024)
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


def _start_primary(paths: NodePaths, resource: ResourceConfig) -> int:
    """Simulate hastd_primary up to init_ggate; return a nonzero code to exit with."""
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
    time.sleep(PROVIDER_DELAY)
    provider = paths.provider(resource.provider_name)
    temporary = provider.with_name(f".{provider.name}.{os.getpid()}")
    temporary.symlink_to(resource.local_path)
    with store.update(HastKnobState) as knobs:  # init_remote starts once the device exists
        current = knobs.knobs(resource.name)
        if current.io_wait_worker in (None, os.getpid()) and current.io_wait_seconds > 0:
            current.io_wait_worker = os.getpid()  # hastd may not have written it yet
            current.io_waits_until = time.time() + current.io_wait_seconds
            knobs.resources[resource.name] = current
        os.replace(temporary, provider)  # "Device hast/NAME created." (or "recovered.")
    return 0


def _destroy_provider(paths: NodePaths, resource: ResourceConfig) -> None:
    provider = paths.provider(resource.provider_name)
    try:
        target = os.readlink(provider)
    except OSError:
        return
    if target != resource.local_path:
        return
    with contextlib.suppress(FileNotFoundError):
        provider.unlink()
    _mark_mounted_fs_dirty(paths, resource.name, provider)


def _mark_mounted_fs_dirty(paths: NodePaths, name: str, provider: Path) -> None:
    store = StateStore(paths)
    with store.locked():
        mounts = store.read(MountState)
        if not any(Path(m.device) == provider for m in mounts.mounts):
            return
        with store.update(FileSystemState) as filesystems:
            fs = filesystems.filesystems.setdefault(name, FileSystem())
            if fs.condition == "clean":
                fs.condition = "dirty"
