"""Node facts (DIR/lab.json): what a node *is*, written once when it is created."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from carpswitch.lab.paths import NodePaths
from carpswitch.lab.records import bounds, check, dumps, loads

ResourceKind = Literal["raw", "ufs", "zfs"]


@dataclass(frozen=True, kw_only=True)
class ResourceFacts:
    """A HAST resource of the node and what sits on top of it."""

    name: str
    kind: ResourceKind
    mountpoint: str | None = None  # kind ufs
    pool: str | None = None  # kind zfs


@dataclass(frozen=True, kw_only=True)
class NodeFacts:
    """Identity and hardware of a simulated node; the shims read it on every call."""

    root: str
    name: str
    peer: str
    hostuuid: str
    hostid: int = field(metadata=bounds(ge=0, le=0xFFFFFFFF))
    peer_hostid: int = field(metadata=bounds(ge=0, le=0xFFFFFFFF))
    freebsd_version: Literal[13, 14]
    interface: str
    address: str
    peer_address: str
    vhid: int = field(metadata=bounds(ge=1, le=255))
    vip: str
    resources: tuple[ResourceFacts, ...]
    services: tuple[str, ...] = ()
    #: The newest rc.subr answers `status` of a service that is not enabled; 13.x and
    #: 14.0 print "Cannot 'status' ..." instead (rc.subr run_rc_command).
    rc_subr_exempts_status: bool = False
    #: hast.conf `timeout` the lab writes: how long a new primary waits for its peer.
    hast_timeout: int = field(default=20, metadata=bounds(ge=1))
    #: Fixed-cost mode (lab.meter): every shim takes max(its work, this many seconds).
    command_cost: float | None = field(default=None, metadata=bounds(ge=0))
    #: Every shim appends its call to DIR/var/log/commands.log (lab.meter).
    command_log: bool = False
    #: Two-node lab (carpswitch.lab.cluster): the network namespace the node's networked
    #: processes (hastd, ucarp, tgtd) enter; None for a stand-alone node.
    netns: str | None = None
    #: hastd replicates to a real peer hastd over TCP (`listen`/`remote` in hast.conf)
    #: instead of the steered, simulated peer of a stand-alone node.
    replication: bool = False
    #: TCP port hastd listens on for its peer when `replication` (hast.h HASTD_LISTEN).
    hast_port: int = field(default=8457, metadata=bounds(ge=1, le=65535))
    paths: dict[str, str] = field(default_factory=dict)
    #: Local (non-HAST) ZFS pools the zfs shim creates volumes in (`zfs create -V`).
    local_pools: tuple[str, ...] = ("tank",)
    #: carpswitch.toml carries the split-brain guards ([guards], [node] peer/view_listen):
    #: witness pings, self-fencing and the peer's view, as the lab recommends them.
    guards: bool = False
    #: The witnesses of [guards] (the cluster's client: what every client must reach).
    witnesses: tuple[str, ...] = ()
    #: [metrics] dir of carpswitch.toml (None: no metrics file).
    metrics_dir: str | None = None

    @property
    def node_paths(self) -> NodePaths:
        """The node's directory layout."""
        return NodePaths.of(self.root)

    def resource(self, name: str) -> ResourceFacts | None:
        """The resource called `name`, if the node has one."""
        return next((r for r in self.resources if r.name == name), None)

    @property
    def osrelease(self) -> str:
        """`kern.osrelease` of the simulated release."""
        return "14.1-RELEASE" if self.freebsd_version == 14 else "13.3-RELEASE"


def load_facts(root: Path) -> NodeFacts:
    """Read DIR/lab.json (raises OSError or RecordError, a ValueError)."""
    return loads(NodeFacts, NodePaths.of(root).facts.read_text())


def save_facts(facts: NodeFacts) -> None:
    """Write DIR/lab.json."""
    check(facts)
    facts.node_paths.facts.write_text(dumps(facts, indent=2) + "\n")
