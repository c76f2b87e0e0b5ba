"""Node facts (DIR/lab.json): what a node *is*, written once when it is created."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carpswitch.lab.paths import NodePaths

ResourceKind = Literal["raw", "ufs", "zfs"]


class ResourceFacts(BaseModel):
    """A HAST resource of the node and what sits on top of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ResourceKind
    mountpoint: str | None = None  # kind ufs
    pool: str | None = None  # kind zfs


class NodeFacts(BaseModel):
    """Identity and hardware of a simulated node; the shims read it on every call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str
    name: str
    peer: str
    hostuuid: str
    hostid: int = Field(ge=0, le=0xFFFFFFFF)
    peer_hostid: int = Field(ge=0, le=0xFFFFFFFF)
    freebsd_version: Literal[13, 14]
    interface: str
    address: str
    peer_address: str
    vhid: int = Field(ge=1, le=255)
    vip: str
    resources: tuple[ResourceFacts, ...]
    services: tuple[str, ...] = ()
    #: The newest rc.subr answers `status` of a service that is not enabled; 13.x and
    #: 14.0 print "Cannot 'status' ..." instead (rc.subr run_rc_command).
    rc_subr_exempts_status: bool = False
    #: hast.conf `timeout` the lab writes: how long a new primary waits for its peer.
    hast_timeout: int = Field(default=20, ge=1)
    #: Fixed-cost mode (lab.meter): every shim takes max(its work, this many seconds).
    command_cost: float | None = Field(default=None, ge=0)
    #: Every shim appends its call to DIR/var/log/commands.log (lab.meter).
    command_log: bool = False
    paths: dict[str, str] = Field(default_factory=dict)

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
    """Read DIR/lab.json (raises OSError or pydantic.ValidationError)."""
    return NodeFacts.model_validate_json(NodePaths.of(root).facts.read_text())


def save_facts(facts: NodeFacts) -> None:
    """Write DIR/lab.json."""
    facts.node_paths.facts.write_text(facts.model_dump_json(indent=2) + "\n")
