"""What this node manages: carpswitch.toml and hast.conf joined into resources and groups.

hast.conf says which resources exist on this node and where their providers are;
carpswitch.toml says what sits on them (kind) and which CARP vhid carries which resources
and services. Without a config file every resource is `raw` and each observed vhid gets a
group carrying them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from carpswitch.config import Config, FsckPolicy, ResourceKind
from carpswitch.model import CarpVhid
from carpswitch.parse.hastconf import (
    HastConf,
    HastConfError,
    ResolvedResource,
    decode_hast_conf,
    parse_hast_conf,
    resolve_node,
)
from carpswitch.tomlfile import read_regular_file

#: 10,000 resources are about 1 MiB of hast.conf.
HAST_CONF_MAX_BYTES = 64 << 20


class Resource(BaseModel):
    """A HAST resource of this node with what sits on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ResourceKind
    provider_name: str
    device: str  # /dev/hast/<provider name>
    local_path: str
    remote_address: str
    pool: str | None = None
    mountpoint: str | None = None
    mount_options: tuple[str, ...] = ()
    fsck: FsckPolicy = FsckPolicy.REFUSE


class Group(BaseModel):
    """What one CARP vhid carries: resources, then services started in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    vhid: int
    interface: str | None = None
    resources: tuple[str, ...]
    services: tuple[str, ...] = ()
    derived: bool = False  # made up from an observed vhid (no [[group]] in the config)


class Topology(BaseModel):
    """Resources and groups of this node, plus every problem found joining the two files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_names: tuple[str, ...]
    resources: dict[str, Resource]
    groups: tuple[Group, ...]
    problems: tuple[str, ...] = ()
    hastd_pidfile: str | None = None  # from hast.conf; finds hastd's own workers

    def group(self, name: str) -> Group | None:
        """The group called `name`."""
        return next((g for g in self.groups if g.name == name), None)

    def groups_for(self, vhid: int | None, interface: str | None) -> list[Group]:
        """Groups a CARP event for `vhid@interface` concerns (vhid None: the whole interface)."""
        return [
            g
            for g in self.groups
            if (vhid is None or g.vhid == vhid)
            and (interface is None or g.interface in (None, interface))
        ]


def read_hast_conf(path: str) -> HastConf:
    """Parse hast.conf at `path`: OSError when unreadable, ParseError (naming it) when invalid."""
    raw = read_regular_file(path, HAST_CONF_MAX_BYTES)  # a FIFO there must not hang us
    return parse_hast_conf(decode_hast_conf(raw), source=path)


def build_topology(
    config: Config,
    hast_conf: HastConf,
    node_names: Sequence[str],
    observed_vhids: Sequence[CarpVhid] = (),
) -> Topology:
    """Join config and hast.conf for this node; never raises for a mismatch, lists it."""
    problems: list[str] = []
    pidfile = None
    try:
        node = resolve_node(hast_conf, node_names)  # once: it walks the whole file
        resolved, pidfile = node.resources, node.pidfile
    except HastConfError as exc:
        problems.append(f"{config.paths.hast_conf}: {exc}")
        resolved = []
    resources = {r.name: _resource(config, r) for r in resolved}
    for entry in config.resource:
        if entry.name not in resources:
            problems.append(
                f"resource {entry.name!r} is in the config but not in "
                f"{config.paths.hast_conf} for this node ({', '.join(node_names)})"
            )
    groups = _groups(config, resources, observed_vhids, problems)
    grouped = {name for g in groups for name in g.resources}
    for name in resources:
        if name not in grouped and config.group:
            problems.append(f"resource {name!r} is in no group: carpswitch will never promote it")
    return Topology(
        node_names=tuple(node_names),
        resources=resources,
        groups=tuple(groups),
        problems=tuple(problems),
        hastd_pidfile=pidfile,
    )


def _resource(config: Config, resolved: ResolvedResource) -> Resource:
    entry = config.resource_config(resolved.name)
    return Resource(
        name=resolved.name,
        kind=entry.kind,
        provider_name=resolved.provider_name,
        device=os.path.join(config.paths.dev_hast, resolved.provider_name),
        local_path=resolved.local_path,
        remote_address=resolved.remote_address,
        pool=entry.pool,
        mountpoint=entry.mountpoint,
        mount_options=tuple(entry.mount_options),
        fsck=entry.fsck,
    )


def _groups(
    config: Config,
    resources: dict[str, Resource],
    observed_vhids: Sequence[CarpVhid],
    problems: list[str],
) -> list[Group]:
    if not config.group:
        vhids = sorted({(v.vhid, v.interface) for v in observed_vhids})
        if len({vhid for vhid, _ in vhids}) > 1:
            problems.append(
                "several CARP vhids and no [[group]] in the config: "
                "say which vhid carries which resources"
            )
        return [
            Group(
                name=f"vhid{vhid}",
                vhid=vhid,
                interface=interface,
                resources=tuple(resources),
                derived=True,
            )
            for vhid, interface in vhids
        ]
    groups = []
    for entry in config.group:
        for name in entry.resources:
            if name not in resources:
                problems.append(
                    f"group {entry.name!r}: resource {name!r} is not in "
                    f"{config.paths.hast_conf} for this node"
                )
        groups.append(
            Group(
                name=entry.name,
                vhid=entry.vhid,
                interface=entry.interface,
                resources=tuple(entry.resources),
                services=tuple(entry.services),
            )
        )
    return groups
