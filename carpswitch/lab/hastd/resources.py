"""The resource state machine of the simulated hastd: roles, workers and the peer.

No sockets, no signals: the daemon feeds it events (role requests, worker exits, peer
connections, the clock) and it tells a WorkerLauncher which workers to start and stop.
Rules are hastd's (freebsd-interfaces.md §1.3, §2.2, §2.5):

* every resource starts in `init`; setting the current role again changes nothing;
* a role change first stops the current worker (SIGTERM, waited for), then a primary
  gets a new worker at once; a secondary gets one only while the peer (a remote primary)
  is connected;
* a new primary worker serves I/O only after init_remote: at once when the peer is
  connected (or `remote none`), else after hast.conf's `timeout` (primary.c);
* a primary worker killed by a signal or exiting 75 (EX_TEMPFAIL) is restarted after 1 s;
  any other exit sends the resource back to `init`; a secondary worker is never restarted
  (its exit means the remote primary went away).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from carpswitch.lab.hastd import hooks
from carpswitch.lab.hastd.wire import PeerSession

#: Delay before a crashed primary worker is restarted (hastd.c child_exit: sleep(1)).
RESTART_DELAY = 1.0
#: Exit status that means "try again" (EX_TEMPFAIL) for a primary worker.
EX_TEMPFAIL = 75


class Role(StrEnum):
    """HAST roles (hastd subr.c role2str)."""

    INIT = "init"
    PRIMARY = "primary"
    SECONDARY = "secondary"


class HealthStatus(StrEnum):
    """What a worker reports about its connections to the peer."""

    COMPLETE = "complete"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class ResourceConfig:
    """What the state machine needs to know about a configured resource."""

    name: str
    provider_name: str
    local_path: str
    remote_address: str
    source_address: str | None = None
    replication: str = "memsync"
    timeout: int = 20  # hast.conf `timeout`: init_remote's connect wait, among others
    exec_path: str | None = None  # hast.conf `exec` (carpswitch.lab.hastd.hooks)

    @property
    def has_remote(self) -> bool:
        """False for `remote none` (no peer configured yet)."""
        return self.remote_address != "none"


class WorkerLauncher(Protocol):
    """Starts and stops worker processes for the state machine."""

    def start(
        self,
        resource: ResourceConfig,
        role: Role,
        peer_connected: bool,
        session: PeerSession | None = None,
    ) -> int:
        """Start a worker; return its pid. A primary without a connected peer waits for it
        (init_remote) before it serves I/O; a secondary worker of a replicating node gets
        the accepted primary's `session`."""
        ...

    def stop(self, pid: int) -> None:
        """SIGTERM the worker and wait until it has exited (and been reaped)."""
        ...

    def remote_connected(self, resource: ResourceConfig) -> None:
        """The peer answered a primary worker's init_remote: I/O is served from now on."""
        ...


@dataclass
class Resource:
    """Run-time state of one resource."""

    config: ResourceConfig
    role: Role = Role.INIT
    worker_pid: int | None = None
    worker_role: Role | None = None
    peer_connected: bool = False
    peer_until: float | None = None
    restart_at: float | None = None

    @property
    def status(self) -> HealthStatus | None:
        """`complete`/`degraded` from the worker, None without a worker (`-`)."""
        if self.worker_pid is None:
            return None
        if self.worker_role is Role.SECONDARY:
            return HealthStatus.COMPLETE  # a secondary worker always has both sockets
        if self.peer_connected and self.config.has_remote:
            return HealthStatus.COMPLETE
        return HealthStatus.DEGRADED


class ResourceTable:
    """All configured resources and the rules that move them."""

    def __init__(
        self,
        configs: Iterable[ResourceConfig],
        launcher: WorkerLauncher,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = lambda message: None,
        replicating: bool = False,
    ) -> None:
        #: The peer is a real hastd (facts.replication), not steered with `lab peer`.
        self.replicating = replicating
        self._resources = {c.name: Resource(c) for c in configs}
        self._launcher = launcher
        self._clock = clock
        self._log = log

    def names(self) -> list[str]:
        """Resource names in configuration order."""
        return list(self._resources)

    def get(self, name: str) -> Resource | None:
        """The resource called `name`, if configured."""
        return self._resources.get(name)

    def set_role(self, name: str, role: Role) -> Role:
        """Change the role of `name` (KeyError if unknown); return the previous role."""
        resource = self._resources[name]
        previous = resource.role
        if role is previous:
            self._log(f"[{name}] ({previous}) Role unchanged ({role}).")
            return previous
        self._log(f"[{name}] ({previous}) Role changed to {role}.")
        self._stop_worker(resource)
        if self.replicating:
            resource.peer_connected = False  # the session ended with its worker
        resource.restart_at = None
        resource.role = role
        hooks.fire(resource.config.exec_path, self._log, "role", name, previous, role)
        if role is Role.PRIMARY:
            self._start_worker(resource, Role.PRIMARY)
        elif role is Role.SECONDARY and resource.peer_connected:
            self._start_worker(resource, Role.SECONDARY)
        return previous

    def connect_peer(self, name: str, seconds: float | None) -> None:
        """The peer connects for `name` (KeyError if unknown), for `seconds` or until told."""
        resource = self._resources[name]
        resource.peer_connected = True
        resource.peer_until = None if seconds is None else self._clock() + seconds
        if resource.role is Role.SECONDARY and resource.worker_pid is None:
            self._start_worker(resource, Role.SECONDARY)
        elif resource.worker_role is Role.PRIMARY:
            self._launcher.remote_connected(resource.config)

    def accept_primary(self, name: str, session: PeerSession) -> None:
        """A remote primary connected for `name` (a secondary; KeyError if unknown): a new
        secondary worker serves it, after stopping one left from an older session."""
        resource = self._resources[name]
        if resource.worker_pid is not None:
            self._log(
                f"[{name}] ({resource.role}) Worker process exists "
                f"(pid={resource.worker_pid}), stopping it."
            )
            self._stop_worker(resource)
        resource.peer_connected = True
        resource.peer_until = None
        resource.worker_pid = self._launcher.start(
            resource.config, Role.SECONDARY, True, session=session
        )
        resource.worker_role = Role.SECONDARY

    def disconnect_peer(self, name: str) -> None:
        """The peer goes away for `name` (KeyError if unknown)."""
        resource = self._resources[name]
        resource.peer_connected = False
        resource.peer_until = None
        if resource.worker_role is Role.SECONDARY:
            self._stop_worker(resource)

    def worker_exited(self, pid: int, exit_code: int | None, signal: int | None) -> None:
        """A worker died on its own (reaped by the daemon)."""
        resource = next((r for r in self._resources.values() if r.worker_pid == pid), None)
        if resource is None:
            return
        name, role = resource.config.name, resource.worker_role
        resource.worker_pid = None
        resource.worker_role = None
        if signal is not None:
            self._log(f"[{name}] ({role}) Worker process killed (pid={pid}, signal={signal}).")
        else:
            self._log(
                f"[{name}] ({role}) Worker process exited ungracefully "
                f"(pid={pid}, exitcode={exit_code})."
            )
        if role is Role.SECONDARY:
            resource.peer_connected = False
            resource.peer_until = None
            return
        if resource.role is not Role.PRIMARY:
            return
        if signal is not None or exit_code == EX_TEMPFAIL:
            resource.restart_at = self._clock() + RESTART_DELAY
        else:
            self._log(f"[{name}] (primary) Changing resource role back to init.")
            resource.role = Role.INIT

    def tick(self) -> None:
        """Act on what is due: worker restarts and peers whose time is up."""
        now = self._clock()
        for resource in self._resources.values():
            if resource.restart_at is not None and resource.restart_at <= now:
                resource.restart_at = None
                if resource.role is Role.PRIMARY and resource.worker_pid is None:
                    self._log(f"[{resource.config.name}] (primary) Restarting worker process.")
                    self._start_worker(resource, Role.PRIMARY)
            if resource.peer_until is not None and resource.peer_until <= now:
                self.disconnect_peer(resource.config.name)

    def next_deadline(self) -> float | None:
        """When `tick` next has something to do (clock time), if ever."""
        times = [
            t
            for r in self._resources.values()
            for t in (r.restart_at, r.peer_until)
            if t is not None
        ]
        return min(times, default=None)

    def shutdown(self) -> None:
        """Stop every worker (hastd exiting)."""
        for resource in self._resources.values():
            self._stop_worker(resource)
            resource.restart_at = None

    def _start_worker(self, resource: Resource, role: Role) -> None:
        resource.worker_pid = self._launcher.start(resource.config, role, resource.peer_connected)
        resource.worker_role = role

    def _stop_worker(self, resource: Resource) -> None:
        if resource.worker_pid is None:
            return
        pid = resource.worker_pid
        resource.worker_pid = None
        resource.worker_role = None
        self._launcher.stop(pid)
