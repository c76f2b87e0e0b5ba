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

from carpswitch.lab.boot import boot_state, clean_var_run
from carpswitch.lab.daemons import pid_alive
from carpswitch.lab.facts import NodeFacts, ResourceFacts, ResourceKind, load_facts, save_facts
from carpswitch.lab.hastd import provider as fuse_provider
from carpswitch.lab.hastd.protocol import (
    Request,
    ResourceReply,
)
from carpswitch.lab.layout import write_layout
from carpswitch.lab.node_identity import host_identity, load_setup_for
from carpswitch.lab.paths import NodePaths, is_hast_conf_word
from carpswitch.lab.procs import node_processes, terminate, wait_gone
from carpswitch.lab.state import (
    FileSystemState,
    FsCondition,
    HastKnobState,
    MountState,
    NetworkState,
    PoolState,
    StateStore,
    SysctlState,
)
from carpswitch.lab.steering import LabError, NodeSteering
from carpswitch.model import CarpState, CarpVhid, Mount, Pool, PoolHealth

__all__ = ["DEFAULT_HAST_TIMEOUT", "LabError", "LabNode", "LabResource", "create_node"]

#: sockaddr_un.sun_path on FreeBSD is 104 bytes; hast.conf's control path must fit.
_SUN_PATH_SIZE = 104
_COMMAND_TIMEOUT = 30.0
#: hast.conf `timeout` of a new lab node (hastd's own default is 20).
DEFAULT_HAST_TIMEOUT = 1


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
    disabled_services: Sequence[str] = (),
    freebsd_version: int = 14,
    rc_subr_exempts_status: bool = False,
    hast_timeout: int = DEFAULT_HAST_TIMEOUT,
    command_cost: float | None = None,
    command_log: bool = False,
    address: str | None = None,
    peer_address: str | None = None,
    vip: str = "198.18.0.100",
    netns: str | None = None,
    replication: bool = False,
    local_pools: Sequence[str] = ("tank",),
    guards: bool = False,
    witnesses: Sequence[str] = (),
    metrics_dir: str | None = None,
    start: bool = True,
) -> LabNode:
    """Create a node directory at `path` (must not hold a node yet) and maybe start hastd.

    `disabled_services` are registered but not enabled in rc.conf (how HA services are
    meant to be set up). `hast_timeout` is hast.conf's `timeout`: a new primary waits that
    long for its absent peer before it serves I/O (hastd's default is 20 s; the lab's 1 s
    keeps tests fast).

    For benchmarks (carpswitch.lab.meter): `command_cost` makes every shim take exactly
    max(its own work, `command_cost`) seconds; `command_log` makes every shim append
    `<start> <elapsed> <command> <args...>` to DIR/var/log/commands.log. The shims are
    DIR/bin/<command> (`node.paths.bin`), ready to be put on a baseline script's PATH.

    For the two-node lab (carpswitch.lab.cluster): `address`/`peer_address` are the hosts'
    addresses (default 198.18.0.1/.2 by name order), `vip` the CARP address, `netns` the
    network namespace hastd runs in, and `replication` makes hastd listen on
    `address:8457` and replicate to the peer's hastd instead of the steered peer.

    For set-up (carpswitch.setup): `local_pools` are the node's own ZFS pools, where
    `zfs create -V SIZE POOL/VOL` makes /dev/zvol/POOL/VOL; `resources=()` is an empty
    node (a hast.conf without resources, a carpswitch.toml with only node-local sections).

    Split-brain guards (issue 12): `guards` writes [guards] (ping `witnesses`, self-fencing,
    the peer's view) and [node] peer/view_listen into carpswitch.toml; `metrics_dir` its
    [metrics] dir.
    """
    paths = NodePaths.of(path)
    _check_location(paths)
    if paths.facts.exists():
        raise LabError(f"{paths.root} already holds a lab node")
    if freebsd_version not in (13, 14):
        raise LabError(f"freebsd_version must be 13 or 14, not {freebsd_version}")
    if not set(disabled_services) <= set(services):
        raise LabError(f"disabled_services {list(disabled_services)} must be among services")
    if hast_timeout < 1:
        raise LabError(f"hast_timeout must be at least 1 (hast.conf timeout), not {hast_timeout}")
    if command_cost is not None and not command_cost >= 0:
        raise LabError(f"command_cost must be a number of seconds >= 0, not {command_cost}")
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
        address=address or ("198.18.0.1" if name <= peer else "198.18.0.2"),
        peer_address=peer_address or ("198.18.0.2" if name <= peer else "198.18.0.1"),
        vhid=vhid,
        vip=vip,
        resources=tuple(_resource_facts(r, paths) for r in resources),
        services=tuple(services),
        rc_subr_exempts_status=rc_subr_exempts_status,
        hast_timeout=hast_timeout,
        command_cost=command_cost,
        command_log=command_log,
        netns=netns,
        replication=replication,
        local_pools=tuple(local_pools),
        guards=guards,
        witnesses=tuple(witnesses),
        metrics_dir=metrics_dir,
        paths={
            "dev_hast": str(paths.dev_hast),
            "hast_conf": str(paths.hast_conf),
            "control_socket": str(paths.control_socket),
            "hastd_pidfile": str(paths.hastd_pidfile),
            "state": str(paths.state),
        },
    )
    write_layout(facts, carp_state.upper(), _free_port(), disabled_services)
    save_facts(facts)
    # Resolve hast.conf here, where the parser is loaded once for all nodes, so that the
    # node's hastd and hastctl start from the cache (carpswitch.lab.hastsetup).
    load_setup_for(paths.hast_conf, host_identity(paths), paths.hast_setup_cache, root=paths.root)
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


class LabNode(NodeSteering):
    """Handle on a node directory: start/stop its processes, steer and read its state."""

    def __init__(self, path: Path) -> None:
        self.path = NodePaths.of(path).root
        self.paths = NodePaths.of(self.path)
        self.facts: NodeFacts = load_facts(self.path)
        self.store = StateStore(self.paths)

    def __repr__(self) -> str:
        return f"LabNode({str(self.path)!r}, name={self.facts.name!r})"

    @property
    def bin(self) -> Path:
        """DIR/bin: the shims, named as the FreeBSD commands (for a baseline's PATH)."""
        return self.paths.bin

    @property
    def command_log(self) -> Path:
        """DIR/var/log/commands.log (written when the node was made with command_log)."""
        return self.paths.command_log

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
        """Start hastd (all resources in init), like `service hastd onestart`.

        A cluster node's hastd runs in the node's network namespace (facts.netns).
        """
        if self.facts.netns is None:
            result = self.run("hastd")
        else:
            result = subprocess.run(
                [
                    "nsenter",
                    f"--net=/run/netns/{self.facts.netns}",
                    "--",
                    str(self.paths.command("hastd")),
                ],
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT,
                check=False,
                env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            )
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
            fuse_provider.remove(provider)  # a FUSE one (replication) is detached first

    def reboot(self, carp_state: str = "BACKUP", *, start: bool = True) -> None:
        """Reboot the node: stop every process, reset the kernel state, start hastd again.

        Disks, rc.conf, carpswitch's state_dir and the fault plan survive; mounts, imports,
        sysctls (new kern.boottime, demotion 0), CARP (every configured vhid in
        `carp_state`), /var/run files and hastd's roles (all `init`) do not. Pools listed
        in zpool.cache come back UNAVAIL (see carpswitch.lab.boot).
        """
        wanted = carp_state.upper()
        if wanted not in ("INIT", "BACKUP", "MASTER"):
            raise LabError(f"carp_state must be INIT, BACKUP or MASTER, not {carp_state!r}")
        self.stop()
        boot_state(self.store, self.facts, wanted)
        clean_var_run(self.paths.var_run)
        if start:
            self.start()

    def processes(self) -> list[psutil.Process]:
        """Live processes of this node (hastd, workers, services)."""
        return node_processes(self.path)

    def hastd_pid(self) -> int | None:
        """Pid of the running hastd, if any."""
        pid = _read_pid(self.paths.hastd_pidfile)
        if pid is None or not pid_alive(pid):
            return None
        return pid

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

    def serves_io(self, resource: str) -> bool:
        """True if I/O on /dev/hast/<resource> is served now: the provider exists and its
        primary worker is past init_remote (peer answered, or the hast.conf timeout)."""
        knobs = self.store.read(HastKnobState).knobs(resource)
        worker = knobs.io_wait_worker
        alive = worker is not None and pid_alive(worker)
        if knobs.io_wait_seconds > 0 and knobs.io_waits_until is None:
            return False  # the worker has not reached init_remote yet (hastd's control agrees)
        return self.provider_exists(resource) and knobs.io_blocked_for(time.time(), alive) == 0

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


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
    except OSError:
        return None
    return int(text[0]) if text and text[0].isdigit() else None
