"""`lab start`: boot each host from what set-up rendered on it, as FreeBSD's rc would.

On FreeBSD, after `setup apply`, a reboot (or the admin's `service ... start`) starts:
netif's CARP alias (rc.conf.d/netif `ifconfig_IF_alias0="inet vhid N advbase B advskew S
pass P ADDR/LEN"`), devd with its rules (/usr/local/etc/devd/carpswitch.conf), hastd
(/etc/hast.conf; rc.conf.d/hastd), carpswitch (rc.conf.d/carpswitch), and ctld only when
carpswitch starts it (rc.conf.d/ctld says NO; ctl.conf is its config). The lab reads the
same files from the node directory; a missing or unreadable one is an error naming it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.devd import RULES_DIR
from carpswitch.lab.facts import ResourceFacts, save_facts
from carpswitch.lab.hastsetup import HastSetupError
from carpswitch.lab.node import LabNode
from carpswitch.lab.node_identity import host_identity, load_setup_for
from carpswitch.lab.state import NetworkState, ServiceRecord, ServiceState, Vhid

_ALIAS = re.compile(
    r'ifconfig_(?P<interface>\w+)_alias\d+="inet vhid (?P<vhid>\d+) advbase (?P<advbase>\d+) '
    r'advskew (?P<advskew>\d+) pass (?P<password>\S+) (?P<address>[0-9.]+)/(?P<bits>\d+)"'
)
_ENABLE = re.compile(r'^(?P<name>\w+)_enable="(?P<value>[A-Za-z]+)"\s*$', re.MULTILINE)


@dataclass(frozen=True)
class CarpAlias:
    """The CARP alias of rc.conf.d/netif."""

    interface: str
    vhid: int
    advbase: int
    advskew: int
    password: str
    address: str


def parse_carp_alias(text: str, where: str) -> CarpAlias:
    """The first `ifconfig_IF_aliasN="inet vhid ..."` line (ClusterError naming `where`)."""
    match = _ALIAS.search(text)
    if match is None:
        raise ClusterError(f'{where}: no CARP alias (ifconfig_IF_alias0="inet vhid N ...")')
    return CarpAlias(
        interface=match["interface"],
        vhid=int(match["vhid"]),
        advbase=int(match["advbase"]),
        advskew=int(match["advskew"]),
        password=match["password"],
        address=match["address"],
    )


def rc_enabled(text: str, name: str) -> bool:
    """`NAME_enable="YES"` in an rc.conf(.d) text (rc.subr checkyesno: yes/true/on/1)."""
    values = {m["name"]: m["value"] for m in _ENABLE.finditer(text)}
    return values.get(name, "NO").lower() in ("yes", "true", "on", "1")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ClusterError(
            f"{path}: {exc.strerror} (has `carpswitch setup apply` run for this node?)"
        ) from exc


@dataclass(frozen=True)
class Rendered:
    """What `lab start` found on one node."""

    alias: CarpAlias
    ctld: bool  # a ctl.conf and rc.conf.d/ctld: ctld is a service carpswitch may start


def read_rendered(node: LabNode) -> Rendered:
    """Check and read the rendered files of `node` (ClusterError naming the first bad one)."""
    paths = node.paths
    _read(paths.hast_conf)
    try:
        _resources(node)
    except HastSetupError as exc:
        raise ClusterError(f"{paths.hast_conf}: {exc.message}") from exc
    _read(paths.root / RULES_DIR / "carpswitch.conf")
    for service in ("hastd", "carpswitch"):
        rc = paths.rc_conf_d / service
        if not rc_enabled(_read(rc), service):
            raise ClusterError(f'{rc}: {service}_enable is not "YES"')
    netif = paths.rc_conf_d / "netif"
    alias = parse_carp_alias(_read(netif), str(netif))
    if alias.interface != node.facts.interface:
        raise ClusterError(
            f"{netif}: CARP on {alias.interface}, but this host's interface is "
            f"{node.facts.interface}"
        )
    ctld = (paths.rc_conf_d / "ctld").exists()
    if ctld:
        _read(paths.ctl_conf)
    return Rendered(alias=alias, ctld=ctld)


def _resources(node: LabNode) -> tuple[ResourceFacts, ...]:
    """The node's HAST resources as the lab tracks them: hast.conf's, with the kind and
    mountpoint/pool its carpswitch.toml's [[resource]] gives (raw if it names none)."""
    setup = load_setup_for(
        node.paths.hast_conf, host_identity(node.paths), node.paths.hast_setup_cache,
        root=node.paths.root,
    )  # fmt: skip
    try:
        listed = tomllib.loads(node.config_path.read_text()).get("resource", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ClusterError(f"{node.config_path}: {exc}") from exc
    known = {str(r.get("name")): r for r in listed if isinstance(r, dict)}
    found = []
    for resource in setup.resources:
        entry = known.get(resource.name, {})
        kind = entry.get("kind", "raw")
        found.append(
            ResourceFacts(
                name=resource.name,
                kind=kind if kind in ("raw", "ufs", "zfs") else "raw",
                mountpoint=entry.get("mountpoint"),
                pool=entry.get("pool") or (resource.name if kind == "zfs" else None),
            )
        )
    return tuple(found)


def configure(node: LabNode, rendered: Rendered) -> LabNode:
    """Give the node's kernel netif's CARP vhid (BACKUP) and register ctld; return the
    node as it now is (its facts name the vhid and the address ucarp serves)."""
    alias = rendered.alias
    facts = dataclasses.replace(
        node.facts,
        resources=_resources(node),
        vhid=alias.vhid,
        vip=alias.address,
        services=tuple(sorted({*node.facts.services, *(("ctld",) if rendered.ctld else ())})),
    )
    save_facts(facts)
    with node.store.locked():
        with node.store.update(NetworkState) as network:
            for interface in network.interfaces:
                if interface.name == alias.interface:
                    interface.vhids = [
                        Vhid(
                            vhid=alias.vhid,
                            state="BACKUP",
                            advbase=alias.advbase,
                            advskew=alias.advskew,
                            address=alias.address,
                            password=alias.password,
                        )
                    ]
        if rendered.ctld:
            ctld_rc = _read(node.paths.rc_conf_d / "ctld")
            with node.store.update(ServiceState) as services:
                services.services.setdefault(
                    "ctld", ServiceRecord(enabled=rc_enabled(ctld_rc, "ctld"))
                )
    return LabNode(node.path)
