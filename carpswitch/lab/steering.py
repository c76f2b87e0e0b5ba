"""Steering a lab node: what the kernel, hastd, the disks or an admin would change.

`NodeSteering` is the half of `LabNode` that changes state (CARP, faults, the peer, file
systems, pools, rc.conf); `LabNode` adds processes and reading.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from carpswitch.lab.facts import NodeFacts
from carpswitch.lab.faults import Fault, save_plan
from carpswitch.lab.hastd.protocol import (
    ControlConnectError,
    ControlExchangeError,
    Reply,
    Request,
    send_request,
)
from carpswitch.lab.paths import NodePaths
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
    ServiceRecord,
    ServiceState,
    StateStore,
)
from carpswitch.model import CarpState


class LabError(Exception):
    """The lab node cannot do what was asked."""


class NodeSteering:
    """Changes to a node's simulated world, through its state files and its hastd."""

    paths: NodePaths
    facts: NodeFacts
    store: StateStore

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

    def set_reachable(self, address: str, reachable: bool = True) -> None:
        """Whether `address` answers this stand-alone node's `ping` (a witness there or
        gone); a cluster node pings its real network instead."""
        with self.store.update(NetworkState) as network:
            others = [a for a in network.reachable if a != address]
            network.reachable = [*others, address] if reachable else others

    def set_service_enabled(self, service: str, enabled: bool = True) -> None:
        """Set `SERVICE_enable` (its rcvar) to YES or NO in the node's rc.conf."""
        if service not in self.facts.services:
            raise LabError(f"{self.facts.name} has no service {service}")
        with self.store.update(ServiceState) as services:
            services.services.setdefault(service, ServiceRecord()).enabled = enabled

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

    # --- talking to hastd --------------------------------------------------------------

    def _ask(self, request: Request) -> Reply:
        try:
            reply = send_request(self.paths.control_socket, request, timeout=10.0)
        except (ControlConnectError, ControlExchangeError) as exc:
            raise LabError(f"hastd of {self.facts.name} is not reachable: {exc}") from exc
        if reply.error:
            raise LabError(f"hastd answered error {reply.error}")
        return reply

    def _peer_request(self, resource: str, *, connected: bool, seconds: float | None) -> None:
        if self.facts.replication:
            raise LabError(
                f"{self.facts.name} replicates to a real peer hastd; `lab peer` steers only "
                "the simulated peer of a stand-alone node"
            )
        reply = self._ask(
            Request(cmd="lab-peer", resources=[resource], connected=connected, seconds=seconds)
        )
        if reply.resources[0].error:
            raise LabError(f"hastd does not know resource {resource}")
