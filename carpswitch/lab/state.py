"""Simulated kernel and userland state of a node (DIR/state/*.json).

Each concern lives in its own JSON file, described by a pydantic model. Every
read-modify-write happens under one flock on DIR/state/.lock, and files are replaced
atomically, so shims, the simulated hastd, its workers and tests can share them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from carpswitch.lab.paths import NodePaths

CarpStateName = Literal["INIT", "BACKUP", "MASTER"]
FsCondition = Literal["clean", "dirty", "unrepairable"]


class StateFile(BaseModel):
    """A model stored as DIR/state/<FILE>."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    FILE: ClassVar[str]


class Vhid(BaseModel):
    """One CARP virtual host id on an interface."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    vhid: int = Field(ge=1, le=255)
    state: CarpStateName = "INIT"
    advbase: int = Field(default=1, ge=1, le=255)
    advskew: int = Field(default=0, ge=0, le=254)
    address: str | None = None  # a vhid made by `ifconfig IF vhid N ...` has none
    suppressed: bool = False  # ip_carp.c sc_suppress: its ifdown demotion is counted


class Interface(BaseModel):
    """A network interface with its addresses and CARP vhids."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str
    ether: str
    address: str
    netmask: str = "0xffffff00"
    broadcast: str
    up: bool = True
    vhids: list[Vhid] = Field(default_factory=list)

    def vhid(self, number: int) -> Vhid | None:
        """The vhid `number`, if configured."""
        return next((v for v in self.vhids if v.vhid == number), None)


class NetworkState(StateFile):
    """Interfaces and CARP (what `ifconfig` shows)."""

    FILE = "network.json"
    interfaces: list[Interface] = Field(default_factory=list)

    def interface(self, name: str) -> Interface | None:
        """The interface called `name`, if it exists."""
        return next((i for i in self.interfaces if i.name == name), None)


class SysctlState(StateFile):
    """Writable sysctl values (numbers and strings) and kern.boottime."""

    FILE = "sysctl.json"
    values: dict[str, int | str] = Field(default_factory=dict)
    boottime_sec: int = 0
    boottime_usec: int = 0


class MountEntry(BaseModel):
    """A mounted file system (the kernel's mount list)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    device: str
    mountpoint: str
    fstype: str = "ufs"
    options: list[str] = Field(default_factory=lambda: ["rw"])
    busy: bool = False  # umount without -f fails with EBUSY


class MountState(StateFile):
    """Mounted file systems in mount order."""

    FILE = "mounts.json"
    mounts: list[MountEntry] = Field(default_factory=list)


class FileSystem(BaseModel):
    """A UFS file system on a resource's local component."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    condition: FsCondition = "clean"
    last_mountpoint: str | None = None


class FileSystemState(StateFile):
    """UFS file systems, keyed by resource name (or device path outside resources)."""

    FILE = "filesystems.json"
    filesystems: dict[str, FileSystem] = Field(default_factory=dict)


class PoolRecord(BaseModel):
    """A ZFS pool made of HAST providers."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

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


class PoolState(StateFile):
    """ZFS pools known to the node."""

    FILE = "pools.json"
    pools: list[PoolRecord] = Field(default_factory=list)

    def pool(self, name: str) -> PoolRecord | None:
        """The pool called `name`, if known."""
        return next((p for p in self.pools if p.name == name), None)


class ServiceRecord(BaseModel):
    """An rc.d service of the node."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True
    reloads: int = 0  # SIGHUPs received by the running process


class ServiceState(StateFile):
    """rc.d services registered on the node."""

    FILE = "services.json"
    services: dict[str, ServiceRecord] = Field(default_factory=dict)


class ResourceKnobs(BaseModel):
    """Per-resource values the simulated hastd reports."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dirty: int = Field(default=0, ge=0)  # bytes still to synchronise (primary only)
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

    def io_blocked_for(self, now: float, worker_alive: bool) -> float:
        """Seconds I/O on the provider still blocks (0 when it is served)."""
        if self.io_waits_until is None or not worker_alive:
            return 0.0
        return max(0.0, self.io_waits_until - now)


class HastKnobState(StateFile):
    """Knobs for the simulated hastd, keyed by resource name."""

    FILE = "hast.json"
    resources: dict[str, ResourceKnobs] = Field(default_factory=dict)

    def knobs(self, name: str) -> ResourceKnobs:
        """Knobs of `name` (defaults when never set)."""
        return self.resources.get(name) or ResourceKnobs()


class FaultCounterState(StateFile):
    """How often each fault of the plan has fired (for `times`)."""

    FILE = "fault_counts.json"
    fired: dict[str, int] = Field(default_factory=dict)


Model = TypeVar("Model", bound=StateFile)


class StateStore:
    """Reads and writes a node's state files under the node-wide state lock."""

    def __init__(self, paths: NodePaths) -> None:
        self.paths = paths
        self._depth = 0
        self._lock_fd: int | None = None

    @contextmanager
    def locked(self) -> Iterator[StateStore]:
        """Hold the exclusive state lock (re-entrant within this process)."""
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
        return model.model_validate_json(text)

    def write(self, value: StateFile) -> None:
        """Replace the file of `value` atomically (call while holding the lock)."""
        path = self._file(type(value))
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(value.model_dump_json(indent=1) + "\n")
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
