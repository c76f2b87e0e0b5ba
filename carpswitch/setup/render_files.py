"""The texts `setup` renders from `[cluster]`: hast.conf, rc.conf.d, loader.conf.d, ctl.conf.

Each is a pure function of the config (and, where a node differs, of the host), so a
re-render gives the same bytes and a second `apply` finds nothing to change.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

from carpswitch.config import ClusterHost, ClusterResource, ClusterSection, Config
from carpswitch.errors import ConfigError
from carpswitch.parse.hastconf import (
    HastConf,
    HastConfError,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
    parse_hast_conf,
    render_hast_conf,
    resolve_resources,
)

#: The devd rule's one source (conf/devd-carp.conf links to it; shipped as package data).
DEVD_RULE = Path(__file__).with_name("devd-carp.conf")
#: iSCSI's port; the portal listens on every address of the family of the CARP address.
ISCSI_PORT = 3260
CTL_SN_LEN = 16  # sys/cam/ctl/ctl_ioctl.h: a LUN serial, at most 16 characters
RC_HEADER = "# Written by `carpswitch setup` from carpswitch.toml [cluster]; apply rewrites it.\n"


def hast_conf_text(cluster: ClusterSection) -> str:
    """hast.conf, identical on both nodes: per resource an `on HOST` block for each host.

    `exec` and `timeout` are global ([cluster] hast_exec, hast_timeout): every resource
    runs the one hook, and none is written when not chosen (no exec; hastd's 20 s).
    Checked by parsing it back (hastd's grammar) and resolving it for each host (hastd's
    other checks, e.g. name lengths): a file hastd would refuse is a ConfigError here.
    """
    conf = HastConf(
        timeout=cluster.hast_timeout,
        exec_path=cluster.hast_exec or None,
        nodes=tuple(
            HastNodeSection(
                node=host.name,
                control=host.control,
                pidfile=host.pidfile,
                listen=tuple(host.listen),
            )
            for host in cluster.host
            if host.control is not None or host.pidfile is not None or host.listen
        ),
        resources=tuple(_hast_resource(cluster, resource) for resource in cluster.resource),
    )
    text = render_hast_conf(conf)
    if parse_hast_conf(text, "rendered hast.conf") != conf:
        raise ConfigError("rendered hast.conf", ["does not parse back as written"])
    try:
        for host in cluster.host:
            resolve_resources(conf, [host.name])
    except HastConfError as exc:
        raise ConfigError("rendered hast.conf", [str(exc)]) from exc
    return text


def _hast_resource(cluster: ClusterSection, resource: ClusterResource) -> HastResourceSection:
    return HastResourceSection(
        name=resource.name,
        on=tuple(
            HastResourceNode(
                node=host.name,
                local_path=resource.provider,
                remote_address=_hast_remote(cluster.peer(host)),
            )
            for host in cluster.host
        ),
    )


def _hast_remote(peer: ClusterHost) -> str:
    """hastd's address of the peer: IPv4 as is, IPv6 as tcp://[ADDR] (no port ambiguity)."""
    address = ipaddress.ip_address(peer.address)
    return str(address) if address.version == 4 else f"tcp://[{address}]"


def devd_rule_text() -> str:
    """conf/devd-carp.conf's rule, as installed on FreeBSD (devd runs /usr/local/sbin)."""
    return DEVD_RULE.read_text(encoding="utf-8")


def rc_enable_text(service: str, enable: bool) -> str:
    """rc.conf.d/SERVICE: `SERVICE_enable="YES"` (load_rc_config reads it for SERVICE)."""
    return RC_HEADER + f'{service}_enable="{"YES" if enable else "NO"}"\n'


def netif_text(cluster: ClusterSection, host: ClusterHost) -> str:
    """rc.conf.d/netif: the CARP address as an alias of the interface, this host's advskew.

    network.subr's ifalias adds `alias` itself; rc.conf variable names have `.-/+` as `_`.
    """
    carp_ip = cluster.address.split("/")[0]
    family = "inet" if ipaddress.ip_address(carp_ip).version == 4 else "inet6"
    variable = "ifconfig_" + "".join("_" if c in ".-/+" else c for c in cluster.interface)
    words = (
        f"{family} vhid {cluster.vhid} advbase {cluster.advbase} "
        f"advskew {cluster.advskew(host)} pass {cluster.password} {cluster.address}"
    )
    return RC_HEADER + f'{variable}_alias0="{words}"\n'


def loader_text() -> str:
    """loader.conf.d/carpswitch.conf: load carp(4) at boot."""
    return RC_HEADER + 'carp_load="YES"\n'


def target_iqn(cluster: ClusterSection, resource: ClusterResource) -> str:
    """`PREFIX:name` (IQNs compare without case; ctld wants them in lower case)."""
    return f"{cluster.iqn_prefix}:{resource.name.lower()}"


def _identity(cluster: ClusterSection, resource: ClusterResource) -> str:
    """sha256 of what names this disk on this pair: both hosts, the CARP address, the name.

    Not the host's own name (both nodes must give the same), and the CARP address so that
    two pairs both called hasta/hastb do not serve two disks under one serial.
    """
    carp = cluster.address.split("/")[0]
    words = [*sorted(host.name for host in cluster.host), carp, resource.name]
    return hashlib.sha256("|".join(words).encode()).hexdigest().upper()


def lun_serial(cluster: ClusterSection, resource: ClusterResource) -> str:
    """The LUN's `serial`, the same on both nodes: initiators see one disk after failover."""
    return ("CSW" + _identity(cluster, resource))[:CTL_SN_LEN]


def lun_device_id(cluster: ClusterSection, resource: ClusterResource) -> str:
    """The LUN's `device-id` (T10 vendor designator), the same on both nodes."""
    return "CSW-" + _identity(cluster, resource)[:32]


def ctl_conf_text(config: Config) -> str:
    """ctl.conf: one target per iSCSI resource, LUN 0 = /dev/hast/NAME, identical on both.

    `no-authentication` as hastconf.sh's setup had it (ctld's `default` groups deny all);
    mode 0600 because ctld warns about a world-readable ctl.conf (it may hold secrets).
    """
    cluster = config.cluster
    assert cluster is not None
    carp = ipaddress.ip_address(cluster.address.split("/")[0])
    listen = f"0.0.0.0:{ISCSI_PORT}" if carp.version == 4 else f"[::]:{ISCSI_PORT}"
    lines = [
        "# Written by `carpswitch setup`: identical on both nodes (same IQN, serial and",
        "# device-id, so initiators see one disk after a failover). carpswitch starts ctld.",
        "portal-group pg0 {",
        "\tdiscovery-auth-group no-authentication",
        f"\tlisten {listen}",
        "}",
    ]
    dev_hast = config.paths.dev_hast.rstrip("/")
    for resource in cluster.resource:
        if not resource.iscsi:
            continue
        lines += [
            "",
            f"target {target_iqn(cluster, resource)} {{",
            "\tauth-group no-authentication",
            "\tportal-group pg0",
            "\tlun 0 {",
            f"\t\tpath {dev_hast}/{resource.name}",
            f"\t\tserial {lun_serial(cluster, resource)}",
            f"\t\tdevice-id {lun_device_id(cluster, resource)}",
            "\t}",
            "}",
        ]
    return "\n".join(lines) + "\n"
