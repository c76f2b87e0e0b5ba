"""Simulated kernel and userland state of a node (DIR/state/*.json).

Each concern lives in its own JSON file, described by a dataclass (carpswitch.lab.records:
checked when read and before it is written, as the pydantic models were, without their
start-up cost in every shim). Every read-modify-write happens under one flock on
DIR/state/.lock, and files are replaced atomically, so shims, the simulated hastd, its
workers and tests can share them.
"""

from __future__ import annotations

import _thread
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from carpswitch.lab.paths import NodePaths
from carpswitch.lab.records import bounds, dumps, loads, one_of

FsCondition = Literal["clean", "dirty", "unrepairable"]


@dataclass(kw_only=True)
class StateFile:
    """A record stored as DIR/state/<FILE>."""

    FILE: ClassVar[str]


@dataclass(kw_only=True)
class Vhid:
    """One CARP virtual host id on an interface."""

    vhid: int = field(metadata=bounds(ge=1, le=255))
    state: str = field(default="INIT", metadata=one_of("INIT", "BACKUP", "MASTER"))
    advbase: int = field(default=1, metadata=bounds(ge=1, le=255))
    advskew: int = field(default=0, metadata=bounds(ge=0, le=254))
    address: str | None = None  # a vhid made by `ifconfig IF vhid N ...` has none
    suppressed: bool = False  # ip_carp.c sc_suppress: its ifdown demotion is counted
    password: str | None = None  # `pass P` of rc.conf's alias (None: the lab's own)


@dataclass(kw_only=True)
class Interface:
    """A network interface with its addresses and CARP vhids."""

    name: str
    ether: str
    address: str
    netmask: str = "0xffffff00"
    broadcast: str
    up: bool = True
    vhids: list[Vhid] = field(default_factory=list)

    def vhid(self, number: int) -> Vhid | None:
        """The vhid `number`, if configured."""
        return next((v for v in self.vhids if v.vhid == number), None)


@dataclass(kw_only=True)
class NetworkState(StateFile):
    """Interfaces and CARP (what `ifconfig` shows)."""

    FILE = "network.json"
    interfaces: list[Interface] = field(default_factory=list)
    #: Addresses that answer `ping` on a stand-alone node (it has no real network: any
    #: other address has no route). A cluster node pings for real (commands/ping.py).
    reachable: list[str] = field(default_factory=list)

    def interface(self, name: str) -> Interface | None:
        """The interface called `name`, if it exists."""
        return next((i for i in self.interfaces if i.name == name), None)


@dataclass(kw_only=True)
class SysctlState(StateFile):
    """Writable sysctl values (numbers and strings) and kern.boottime."""

    FILE = "sysctl.json"
    values: dict[str, int | str] = field(default_factory=dict)
    boottime_sec: int = 0
    boottime_usec: int = 0


@dataclass(kw_only=True)
class MountEntry:
    """A mounted file system (the kernel's mount list)."""

    device: str
    mountpoint: str
    fstype: str = "ufs"
    options: list[str] = field(default_factory=lambda: ["rw"])
    busy: bool = False  # umount without -f fails with EBUSY


@dataclass(kw_only=True)
class MountState(StateFile):
    """Mounted file systems in mount order."""

    FILE = "mounts.json"
    mounts: list[MountEntry] = field(default_factory=list)


@dataclass(kw_only=True)
class FileSystem:
    """A UFS file system on a resource's local component."""

    condition: FsCondition = "clean"
    last_mountpoint: str | None = None


@dataclass(kw_only=True)
class FileSystemState(StateFile):
    """UFS file systems, keyed by resource name (or device path outside resources)."""

    FILE = "filesystems.json"
    filesystems: dict[str, FileSystem] = field(default_factory=dict)


@dataclass(kw_only=True)
class PoolRecord:
    """A ZFS pool made of HAST providers."""

    name: str
    guid: int
    providers: list[str]  # /dev/hast/<provider> names
    imported: bool = False
    exported: bool = False  # cleanly exported last time (no -f needed anywhere)
    last_hostid: int
    last_hostname: str
    last_accessed: float
    busy: bool = False  # export without -f fails
    suspended: bool = False  # show SUSPENDED instead of UNAVAIL when a provider is gone
    cachefile: bool = False  # listed in this node's zpool.cache (import without cachefile=none)
    # Opened from zpool.cache at boot, when /dev/hast did not exist yet: listed (so an
    # import says "a pool with that name already exists") but UNAVAIL until exported.
    unavail_from_cache: bool = False


@dataclass(kw_only=True)
class PoolState(StateFile):
    """ZFS pools known to the node."""

    FILE = "pools.json"
    pools: list[PoolRecord] = field(default_factory=list)

    def pool(self, name: str) -> PoolRecord | None:
        """The pool called `name`, if known."""
        return next((p for p in self.pools if p.name == name), None)


@dataclass(kw_only=True)
class ServiceRecord:
    """An rc.d service of the node."""

    enabled: bool = True
    reloads: int = 0  # SIGHUPs received by the running process


@dataclass(kw_only=True)
class ServiceState(StateFile):
    """rc.d services registered on the node."""

    FILE = "services.json"
    services: dict[str, ServiceRecord] = field(default_factory=dict)


@dataclass(kw_only=True)
class ResourceKnobs:
    """Per-resource values the simulated hastd reports."""

    # bytes still to synchronise (primary only)
    dirty: int = field(default=0, metadata=bounds(ge=0))
    # On-disk metadata (`hastctl dump`), written by `hastctl create` and role changes.
    resuid: int = 0
    localcnt: int = 0
    remotecnt: int = 0
    prevrole: Literal["init", "primary", "secondary"] = "init"
    # primary.c hastd_primary: /dev/hast/NAME exists before init_remote, but requests are
    # served only after it (peer connected, or its connect timed out). hastd sets the
    # worker and how long it will wait (0: peer connected or `remote none`); the worker
    # starts the clock when it has created the device. While that worker runs and the
    # time (time.time()) is before `io_waits_until`, I/O on the provider blocks.
    io_wait_worker: int | None = None
    io_wait_seconds: float = 0.0
    io_waits_until: float | None = None
    # A replicating node (facts.replication): the primary worker connected to the peer's
    # hastd now (`status` says complete only while it is the running worker), and the
    # extents of the activemap on disk (activemap.c diskmap, keepdirty LRU order) that a
    # new primary worker must synchronise, with those that need it now (memmap).
    connected_worker: int | None = None
    diskmap: list[int] = field(default_factory=list)
    needsync: list[int] = field(default_factory=list)

    def io_blocked_for(self, now: float, worker_alive: bool) -> float:
        """Seconds I/O on the provider still blocks (0 when it is served)."""
        if self.io_waits_until is None or not worker_alive:
            return 0.0
        return max(0.0, self.io_waits_until - now)


@dataclass(kw_only=True)
class HastKnobState(StateFile):
    """Knobs for the simulated hastd, keyed by resource name."""

    FILE = "hast.json"
    resources: dict[str, ResourceKnobs] = field(default_factory=dict)

    def knobs(self, name: str) -> ResourceKnobs:
        """Knobs of `name` (defaults when never set)."""
        return self.resources.get(name) or ResourceKnobs()


@dataclass(kw_only=True)
class WatchdogState(StateFile):
    """watchdog(4) of the node: armed until `deadline`, or disarmed (None).

    The deadline is time.monotonic() (CLOCK_MONOTONIC): one clock for every process of the
    Linux machine, so the shim that pats and the cluster's watcher that fires agree, and a
    step of the wall clock (NTP) neither fires the watchdog early nor holds it off, as a
    hardware countdown is not moved by the time of day. A boot (and a power-off) disarms.
    """

    FILE = "watchdog.json"
    timeout: int = field(default=0, metadata=bounds(ge=0))  # seconds of the last pat
    deadline: float | None = None

    def expired(self, now: float) -> bool:
        """Whether the watchdog is armed and its deadline has passed at `now`."""
        return self.deadline is not None and now >= self.deadline


@dataclass(kw_only=True)
class FaultCounterState(StateFile):
    """How often each fault of the plan has fired (for `times`)."""

    FILE = "fault_counts.json"
    fired: dict[str, int] = field(default_factory=dict)


Model = TypeVar("Model", bound=StateFile)


class StateStore:
    """Reads and writes a node's state files under the node-wide state lock."""

    def __init__(self, paths: NodePaths) -> None:
        self.paths = paths
        self._depth = 0
        self._lock_fd: int | None = None
        # The flock is the process's; threads of one process (a replicating primary
        # worker's) take turns here, or one's read-modify-write would undo another's.
        self._threads = _thread.RLock()  # threading costs a shim ~1.4 ms to import

    @contextmanager
    def locked(self) -> Iterator[StateStore]:
        """Hold the exclusive state lock (re-entrant within a thread, exclusive between
        threads and processes)."""
        with self._threads:
            if self._depth == 0:
                fd = os.open(self.paths.state_lock, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fd = fd
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    os.close(self._lock_fd)  # closing releases the flock
                    self._lock_fd = None

    def read(self, model: type[Model]) -> Model:
        """The current content of `model`'s file (defaults if it was never written)."""
        path = self._file(model)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return model()
        return loads(model, text)

    def write(self, value: StateFile) -> None:
        """Replace the file of `value` atomically (call while holding the lock)."""
        path = self._file(type(value))
        text = dumps(value, indent=1)
        loads(type(value), text)  # what was changed in place is checked before it lands
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, path)

    @contextmanager
    def update(self, model: type[Model]) -> Iterator[Model]:
        """Read `model` under the lock, let the caller change it, write it back."""
        with self.locked():
            value = self.read(model)
            yield value
            self.write(value)

    def _file(self, model: type[StateFile]) -> Path:
        return self.paths.state / model.FILE
