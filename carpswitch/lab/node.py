"""A simulated FreeBSD node for tests and for trying commands by hand.

    node = create_node(tmp_path / "hasta", resources=[LabResource("tank", "ufs")])
    node.run("hastctl", "role", "primary", "tank")
    node.set_carp("MASTER")
    ...
    node.stop()

The controller reaches it only through `node.config_path` (its `[commands]` and `[paths]`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from carpswitch.lab.facts import NodeFacts, ResourceFacts, ResourceKind, load_facts, save_facts
from carpswitch.lab.faults import Fault, save_plan
from carpswitch.lab.hastd.protocol import (
    ControlConnectError,
    ControlExchangeError,
    Reply,
    Request,
    ResourceReply,
    send_request,
)
from carpswitch.lab.layout import write_layout
from carpswitch.lab.paths import NodePaths, is_hast_conf_word
from carpswitch.lab.procs import node_processes, pid_alive, terminate, wait_gone
from carpswitch.lab.state import (
    FaultCounterState,
    FileSystem,
    FileSystemState,
    FsCondition,
    HastKnobState,
    MountState,
    NetworkState,
    PoolState,
    ResourceKnobs,
    StateStore,
    SysctlState,
)
from carpswitch.model import CarpState, CarpVhid, Mount, Pool, PoolHealth

#: sockaddr_un.sun_path on FreeBSD is 104 bytes; hast.conf's control path must fit.
_SUN_PATH_SIZE = 104
_COMMAND_TIMEOUT = 30.0


class LabError(Exception):
    """The lab node cannot do what was asked."""


@dataclass(frozen=True)
class LabResource:
    """A HAST resource of a lab node and what sits on it: raw device, UFS or a ZFS pool."""

    name: str
    kind: ResourceKind = "raw"
    mountpoint: str | None = None  # ufs: default DIR/mnt/NAME
    pool: str | None = None  # zfs: default NAME


def create_node(
    path: Path,
    *,
    name: str = "hasta",
    peer: str = "hastb",
    resources: Sequence[LabResource] = (LabResource("tank", "raw"),),
    interface: str = "vtnet0",
    vhid: int = 1,
    carp_state: str = "BACKUP",
    services: Sequence[str] = (),
    freebsd_version: int = 14,
    start: bool = True,
) -> LabNode:
    """Create a node directory at `path` (must not hold a node yet) and maybe start hastd."""
    paths = NodePaths.of(path)
    _check_location(paths)
    if paths.facts.exists():
        raise LabError(f"{paths.root} already holds a lab node")
    if freebsd_version not in (13, 14):
        raise LabError(f"freebsd_version must be 13 or 14, not {freebsd_version}")
    if carp_state.upper() not in ("INIT", "BACKUP", "MASTER"):
        raise LabError(f"carp_state must be INIT, BACKUP or MASTER, not {carp_state!r}")
    facts = NodeFacts(
        root=str(paths.root),
        name=name,
        peer=peer,
        hostuuid=str(uuid.uuid4()),
        hostid=zlib.crc32(name.encode()),
        peer_hostid=zlib.crc32(peer.encode()),
        freebsd_version=14 if freebsd_version == 14 else 13,
        interface=interface,
        address="198.18.0.1" if name <= peer else "198.18.0.2",
        peer_address="198.18.0.2" if name <= peer else "198.18.0.1",
        vhid=vhid,
        vip="198.18.0.100",
        resources=tuple(_resource_facts(r, paths) for r in resources),
        services=tuple(services),
        paths={
            "dev_hast": str(paths.dev_hast),
            "hast_conf": str(paths.hast_conf),
            "control_socket": str(paths.control_socket),
            "hastd_pidfile": str(paths.hastd_pidfile),
            "state": str(paths.state),
        },
    )
    write_layout(facts, carp_state.upper(), _free_port())
    save_facts(facts)
    node = LabNode(paths.root)
    if start:
        node.start()
    return node


def _check_location(paths: NodePaths) -> None:
    if not is_hast_conf_word(str(paths.root)):
        raise LabError(
            f"node directory {paths.root} must consist of hast.conf word characters "
            "[a-zA-Z0-9.-_/:[]] (it is written into hast.conf)"
        )
    if len(str(paths.control_socket).encode()) >= _SUN_PATH_SIZE:
        raise LabError(
            f"node directory {paths.root} is too deep: {paths.control_socket} does not fit "
            f"a UNIX socket address ({_SUN_PATH_SIZE - 1} bytes)"
        )


def _resource_facts(resource: LabResource, paths: NodePaths) -> ResourceFacts:
    mountpoint = resource.mountpoint
    pool = resource.pool
    if resource.kind == "ufs" and mountpoint is None:
        mountpoint = str(paths.mnt / resource.name)
    if resource.kind == "zfs" and pool is None:
        pool = resource.name
    return ResourceFacts(name=resource.name, kind=resource.kind, mountpoint=mountpoint, pool=pool)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LabNode:
    """Handle on a node directory: start/stop its processes, steer and read its state."""

    def __init__(self, path: Path) -> None:
        self.path = NodePaths.of(path).root
        self.paths = NodePaths.of(self.path)
        self.facts: NodeFacts = load_facts(self.path)
        self.store = StateStore(self.paths)

    def __repr__(self) -> str:
        return f"LabNode({str(self.path)!r}, name={self.facts.name!r})"

    @property
    def config_path(self) -> Path:
        """The carpswitch.toml that points the controller at this node."""
        return self.paths.config

    # --- processes -------------------------------------------------------------------

    def run(
        self, command: str, *args: str, timeout: float = _COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the node's commands (DIR/bin/<command>) and capture its output."""
        return subprocess.run(
            [str(self.paths.command(command)), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )

    def start(self) -> None:
        """Start hastd (all resources in init), like `service hastd onestart`."""
        result = self.run("hastd")
        if result.returncode != 0:
            raise LabError(f"hastd did not start (exit {result.returncode}): {result.stderr}")

    def stop(self) -> None:
        """Stop hastd, its workers and the node's services; leave no process behind.

        Also removes /dev/hast/* (a stopped node keeps no GEOM Gate devices).
        """
        pid = self.hastd_pid()
        if pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                terminate([psutil.Process(pid)])
        services = []
        for service in self.facts.services:
            service_pid = _read_pid(self.paths.service_pidfile(service))
            if service_pid is not None and pid_alive(service_pid):
                with contextlib.suppress(psutil.NoSuchProcess):
                    services.append(psutil.Process(service_pid))
        terminate(services)
        terminate(node_processes(self.path))
        leftovers = wait_gone(node_processes(self.path), 3.0)
        if leftovers:
            raise LabError(f"processes survived stop: {[p.pid for p in leftovers]}")
        for provider in self.paths.dev_hast.iterdir():
            with contextlib.suppress(FileNotFoundError):
                provider.unlink()

    def processes(self) -> list[psutil.Process]:
        """Live processes of this node (hastd, workers, services)."""
        return node_processes(self.path)

    def hastd_pid(self) -> int | None:
        """Pid of the running hastd, if any."""
        pid = _read_pid(self.paths.hastd_pidfile)
        if pid is None or not pid_alive(pid):
            return None
        return pid

    # --- steering --------------------------------------------------------------------

    def set_carp(
        self,
        state: CarpState | str,
        vhid: int | None = None,
        interface: str | None = None,
    ) -> None:
        """Put a vhid into `state` (what the kernel would decide; no devd event)."""
        wanted = CarpState(str(state).upper())
        number = self.facts.vhid if vhid is None else vhid
        name = self.facts.interface if interface is None else interface
        with self.store.update(NetworkState) as network:
            found = network.interface(name)
            entry = None if found is None else found.vhid(number)
            if entry is None:
                raise LabError(f"no vhid {number} on {name}")
            entry.state = wanted.value

    def set_faults(self, faults: Sequence[Fault]) -> None:
        """Replace the fault plan (and forget how often old faults fired)."""
        save_plan(self.paths.faults, list(faults))
        with self.store.locked():
            self.store.write(FaultCounterState())

    def clear_faults(self) -> None:
        """Remove the fault plan."""
        with contextlib.suppress(FileNotFoundError):
            self.paths.faults.unlink()

    def connect_peer(self, resource: str, seconds: float | None = None) -> None:
        """The peer connects for `resource` (a remote primary while we are secondary: the
        `hastd: NAME (secondary)` worker runs); it leaves after `seconds` or on disconnect."""
        self._peer_request(resource, connected=True, seconds=seconds)

    def disconnect_peer(self, resource: str) -> None:
        """The peer goes away for `resource`."""
        self._peer_request(resource, connected=False, seconds=None)

    def set_fs_state(self, resource: str, condition: FsCondition) -> None:
        """Make the UFS file system of `resource` clean, dirty or unrepairable."""
        with self.store.update(FileSystemState) as filesystems:
            fs = filesystems.filesystems.setdefault(resource, FileSystem())
            fs.condition = condition

    def set_dirty(self, resource: str, dirty_bytes: int) -> None:
        """Bytes the primary still has to synchronise (`hastctl list` dirty)."""
        with self.store.update(HastKnobState) as knobs:
            current = knobs.resources.setdefault(resource, ResourceKnobs())
            current.dirty = dirty_bytes

    def set_busy(self, mountpoint: str, busy: bool = True) -> None:
        """Make `umount MOUNTPOINT` (without -f) fail with `Device busy`."""
        with self.store.update(MountState) as mounts:
            for entry in mounts.mounts:
                if entry.mountpoint == mountpoint:
                    entry.busy = busy
                    return
        raise LabError(f"nothing is mounted on {mountpoint}")

    def set_pool(
        self,
        pool: str,
        *,
        last_hostid: int | None = None,
        exported: bool | None = None,
        busy: bool | None = None,
        suspended: bool | None = None,
    ) -> None:
        """Change what the node knows about a ZFS pool (import -f needs, export busy, ...)."""
        with self.store.update(PoolState) as pools:
            record = pools.pool(pool)
            if record is None:
                raise LabError(f"no pool {pool}")
            if last_hostid is not None:
                record.last_hostid = last_hostid
                record.last_hostname = (
                    self.facts.name if last_hostid == self.facts.hostid else self.facts.peer
                )
            if exported is not None:
                record.exported = exported
            if busy is not None:
                record.busy = busy
            if suspended is not None:
                record.suspended = suspended

    # --- reading ---------------------------------------------------------------------

    def status(self, resource: str) -> ResourceReply:
        """hastd's view of `resource` (role, worker pid, status, ...)."""
        reply = self._ask(Request(cmd="status", resources=[resource]))
        found = reply.resources[0]
        if found.error:
            raise LabError(f"hastd does not know resource {resource}")
        return found

    def role(self, resource: str) -> str:
        """Current HAST role of `resource` (`init`, `primary`, `secondary`)."""
        return self.status(resource).role

    def worker_pid(self, resource: str) -> int | None:
        """Pid of the worker of `resource`, if one runs."""
        return self.status(resource).workerpid or None

    def provider_exists(self, resource: str) -> bool:
        """True if /dev/hast/<provider> of `resource` exists."""
        return self.paths.provider(resource).exists()

    def mounts(self) -> list[Mount]:
        """Mounted file systems (what `mount -p` lists)."""
        return [
            Mount(
                device=m.device,
                mountpoint=m.mountpoint,
                fstype=m.fstype,
                options=tuple(m.options),
            )
            for m in self.store.read(MountState).mounts
        ]

    def fs_state(self, resource: str) -> FsCondition:
        """Condition of the UFS file system of `resource`."""
        fs = self.store.read(FileSystemState).filesystems.get(resource)
        return "clean" if fs is None else fs.condition

    def pools(self) -> list[Pool]:
        """Imported pools with their health (what `zpool list -H -o name,health` shows)."""
        from carpswitch.lab.commands.zpool import pool_health

        return [
            Pool(name=p.name, health=PoolHealth(pool_health(p, self.paths)))
            for p in self.store.read(PoolState).pools
            if p.imported
        ]

    def demotion(self) -> int:
        """net.inet.carp.demotion."""
        value = self.store.read(SysctlState).values.get("net.inet.carp.demotion", 0)
        return value if isinstance(value, int) else 0

    def sysctl(self, name: str) -> int | str | None:
        """A sysctl value (None if the node does not have it)."""
        return self.store.read(SysctlState).values.get(name)

    def carp(self) -> list[CarpVhid]:
        """CARP vhids of all interfaces (what `ifconfig` shows)."""
        return [
            CarpVhid(
                interface=i.name,
                vhid=v.vhid,
                state=CarpState(v.state),
                advbase=v.advbase,
                advskew=v.advskew,
                peer="224.0.0.18" if self.facts.freebsd_version == 14 else None,
                peer6="ff02::12" if self.facts.freebsd_version == 14 else None,
            )
            for i in self.store.read(NetworkState).interfaces
            for v in i.vhids
        ]

    def service_pid(self, service: str) -> int | None:
        """Pid of the running service, if it runs."""
        pid = _read_pid(self.paths.service_pidfile(service))
        return pid if pid is not None and pid_alive(pid) else None

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> bool:
        """Poll `predicate()` every 10 ms until true or `timeout`; return the last result."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # --- internals -------------------------------------------------------------------

    def _ask(self, request: Request) -> Reply:
        try:
            reply = send_request(self.paths.control_socket, request, timeout=10.0)
        except (ControlConnectError, ControlExchangeError) as exc:
            raise LabError(f"hastd of {self.facts.name} is not reachable: {exc}") from exc
        if reply.error:
            raise LabError(f"hastd answered error {reply.error}")
        return reply

    def _peer_request(self, resource: str, *, connected: bool, seconds: float | None) -> None:
        reply = self._ask(
            Request(cmd="lab-peer", resources=[resource], connected=connected, seconds=seconds)
        )
        if reply.resources[0].error:
            raise LabError(f"hastd does not know resource {resource}")


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
    except OSError:
        return None
    return int(text[0]) if text and text[0].isdigit() else None
