"""Who the node says it is (kern.hostname, kern.hostuuid, kern.hostid), as hastd asks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.hastsetup import HastSetup, load_hast_setup
from carpswitch.lab.paths import NodePaths, inside_node
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
    config_path: Path, identity: HostIdentity, cache: Path | None = None, *, root: Path
) -> HastSetup:
    """hast.conf at `config_path` resolved for the node at `root` (raises HastSetupError).

    `cache` (NodePaths.hast_setup_cache) keeps the last resolved setup (lab.hastsetup).
    Every path hast.conf names (control, pidfile, local, exec) is taken as the node sees it:
    inside its directory (paths.inside_node; docs/freebsd/simulator.md "chroot rule").
    """
    setup = load_hast_setup(
        config_path, identity.hostname, identity.hostuuid, identity.hostid, cache
    )
    return chrooted(setup, root)


def chrooted(setup: HastSetup, root: Path) -> HastSetup:
    """`setup` with its file system paths inside the node directory `root`."""
    return dataclasses.replace(
        setup,
        control_socket=Path(inside_node(root, str(setup.control_socket))),
        pidfile=Path(inside_node(root, str(setup.pidfile))),
        resources=tuple(
            dataclasses.replace(
                r,
                local_path=inside_node(root, r.local_path),
                exec_path=None if r.exec_path is None else inside_node(root, r.exec_path),
            )
            for r in setup.resources
        ),
    )
