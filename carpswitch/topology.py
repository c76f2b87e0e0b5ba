"""What this node manages: carpswitch.toml and hast.conf joined into resources and groups.

hast.conf says which resources exist on this node and where their providers are;
carpswitch.toml says what sits on them (kind) and which CARP vhid carries which resources
and services. Without a config file every resource is `raw` and each observed vhid gets a
group carrying them all.

Mismatches are listed, never raised. Those that make a group's transitions unsafe are also
kept per group, with what they block (review F8):
* "ambiguous" problems — which vhid or which resources the group means is unknown (several
  vhids and no [[group]], one vhid on two interfaces and no `interface`, a hast.conf that
  cannot be read, parsed or resolved for this node) — block both directions
  (`ambiguous`): without hast.conf carpswitch knows neither the resources of a derived
  group nor their providers, and a demotion that stops services and then cannot unmount
  the right device is worse than none;
* "incomplete" problems — a resource of the group that hast.conf does not have for this
  node — block promotion only: hastd does not know that resource, so it cannot be primary,
  and demoting the known ones is what keeps the pair from two primaries.
`group_problems` holds every problem (what blocks a promotion).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from carpswitch.config import Config, FsckPolicy, ResourceKind
from carpswitch.model import CarpVhid, TransitionKind
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
    hast_timeout: int = 20  # hast.conf `timeout`: bounds the peer's connect attempts


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
    problems: tuple[str, ...] = ()  # every problem, for `check` and `status`
    group_problems: dict[str, tuple[str, ...]] = {}  # group name -> what stops its promotion
    ambiguous: dict[str, tuple[str, ...]] = {}  # group name -> what stops its demotion too
    hastd_pidfile: str | None = None  # from hast.conf; finds hastd's own workers

    def group(self, name: str) -> Group | None:
        """The group called `name`."""
        return next((g for g in self.groups if g.name == name), None)

    def problems_of(
        self, group: Group, kind: TransitionKind = TransitionKind.PROMOTE
    ) -> tuple[str, ...]:
        """What in the configuration of `group` blocks a transition of `kind` (empty: it
        may be acted on); a promotion is blocked by every problem of the group."""
        found = self.ambiguous if kind is TransitionKind.DEMOTE else self.group_problems
        return found.get(group.name, ())

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


def derived_group_name(vhid: int) -> str:
    """Name of the group made up for an observed vhid when the config has no [[group]]."""
    return f"vhid{vhid}"


def build_topology(
    config: Config,
    hast_conf: HastConf,
    node_names: Sequence[str],
    observed_vhids: Sequence[CarpVhid] = (),
    hast_conf_problem: str | None = None,
) -> Topology:
    """Join config and hast.conf for this node; never raises for a mismatch, lists it.

    `hast_conf_problem` says why hast.conf could not be read or parsed (then `hast_conf` is
    empty): it becomes every group's problem, instead of one "not in hast.conf" per resource.
    """
    everywhere: list[str] = [hast_conf_problem] if hast_conf_problem else []
    pidfile = None
    resolved: list[ResolvedResource] = []
    if not everywhere:
        try:
            node = resolve_node(hast_conf, node_names)  # once: it walks the whole file
            resolved, pidfile = list(node.resources), node.pidfile
        except HastConfError as exc:
            everywhere.append(f"{config.paths.hast_conf}: {exc}")
    problems = list(everywhere)
    resources = {r.name: _resource(config, r) for r in resolved}
    for entry in config.resource:
        if entry.name not in resources and not everywhere:
            problems.append(
                f"resource {entry.name!r} is in the config but not in "
                f"{config.paths.hast_conf} for this node ({', '.join(node_names)})"
            )
    groups = _groups(config) if config.group else _derived_groups(resources, observed_vhids)
    per_group: dict[str, list[str]] = {}
    ambiguous: dict[str, list[str]] = {}
    for group in groups:
        unclear = _ambiguities(group, observed_vhids)
        own = unclear + _missing(config, group, resources, bool(everywhere))
        prefix = "" if group.derived else f"group {group.name!r}: "  # derived: all say the same
        problems += [prefix + problem for problem in own]
        per_group[group.name] = everywhere + own
        ambiguous[group.name] = everywhere + unclear
    grouped = {name for g in groups for name in g.resources}
    for name in resources:
        if name not in grouped and config.group:
            problems.append(f"resource {name!r} is in no group: carpswitch will never promote it")
    return Topology(
        node_names=tuple(node_names),
        resources=resources,
        groups=tuple(groups),
        problems=tuple(dict.fromkeys(problems)),
        group_problems={name: tuple(found) for name, found in per_group.items() if found},
        ambiguous={name: tuple(found) for name, found in ambiguous.items() if found},
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
        hast_timeout=resolved.timeout,
    )


def _groups(config: Config) -> list[Group]:
    return [
        Group(
            name=entry.name,
            vhid=entry.vhid,
            interface=entry.interface,
            resources=tuple(entry.resources),
            services=tuple(entry.services),
        )
        for entry in config.group
    ]


def _derived_groups(
    resources: dict[str, Resource], observed_vhids: Sequence[CarpVhid]
) -> list[Group]:
    vhids = sorted({(v.vhid, v.interface) for v in observed_vhids})
    return [
        Group(
            name=derived_group_name(vhid),
            vhid=vhid,
            interface=interface,
            resources=tuple(resources),
            derived=True,
        )
        for vhid, interface in vhids
    ]


def _ambiguities(group: Group, observed_vhids: Sequence[CarpVhid]) -> list[str]:
    """What makes it unknown which vhid `group` follows: no transition of it is safe."""
    if group.derived:
        seen = sorted({(v.vhid, v.interface) for v in observed_vhids})
        if len(seen) < 2:
            return []
        where = ", ".join(f"{vhid}@{interface}" for vhid, interface in seen)
        return [
            f"several CARP vhids ({where}) and no [[group]] in the config: "
            "say which vhid carries which resources"
        ]
    if group.interface is None:
        interfaces = sorted({v.interface for v in observed_vhids if v.vhid == group.vhid})
        if len(interfaces) > 1:
            return [
                f"CARP vhid {group.vhid} is on {' and '.join(interfaces)}: "
                "say which with interface = NAME"
            ]
    return []


def _missing(
    config: Config, group: Group, resources: dict[str, Resource], hast_conf_unusable: bool
) -> list[str]:
    """Resources of `group` hast.conf does not have here: no promotion, but a demotion of
    the others (hastd does not know these, so they cannot be primary)."""
    return [
        f"resource {name!r} is not in {config.paths.hast_conf} for this node"
        for name in group.resources
        if name not in resources and not hast_conf_unusable
    ]
