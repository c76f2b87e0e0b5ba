"""Who the node says it is (kern.hostname, kern.hostuuid, kern.hostid), as hastd asks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.hastsetup import HastSetup, load_hast_setup
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import StateStore, SysctlState


@dataclass(frozen=True)
class HostIdentity:
    """The sysctls hastd matches `on <node>` blocks against."""

    hostname: str
    hostuuid: str
    hostid: int


def host_identity(paths: NodePaths) -> HostIdentity:
    """The node's current hostname, hostuuid and hostid (from its sysctl state)."""
    values = StateStore(paths).read(SysctlState).values
    hostid = values.get("kern.hostid", 0)
    return HostIdentity(
        hostname=str(values.get("kern.hostname", "")),
        hostuuid=str(values.get("kern.hostuuid", "")),
        hostid=hostid if isinstance(hostid, int) else 0,
    )


def load_setup_for(
    config_path: Path, identity: HostIdentity, cache: Path | None = None
) -> HastSetup:
    """hast.conf at `config_path` resolved for this node (raises HastSetupError).

    `cache` (NodePaths.hast_setup_cache) keeps the last resolved setup (lab.hastsetup).
    """
    return load_hast_setup(
        config_path, identity.hostname, identity.hostuuid, identity.hostid, cache
    )
