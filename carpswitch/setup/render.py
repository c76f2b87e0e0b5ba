"""What `setup` writes on one node, from one carpswitch.toml (the lead's fixed interface).

`render_node` is a pure function of the config, the host and the config file's path: the
same input gives the same files, byte for byte, so `apply` compares and a second apply is
a no-op. Shared files (hast.conf, the devd rule, ctl.conf, the shared sections of
carpswitch.toml) are identical on both nodes; rc.conf.d/netif carries this host's advskew;
paths come from THIS node's `[paths]` (the lab points them into its node directory).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from carpswitch.config import ClusterHost, ClusterSection, Config
from carpswitch.config_rules import NODE_LOCAL
from carpswitch.errors import ConfigError
from carpswitch.parse.hastconf import node_names_for_host
from carpswitch.setup.render_files import (
    ctl_conf_text,
    devd_rule_text,
    hast_conf_text,
    loader_text,
    netif_text,
    rc_enable_text,
)
from carpswitch.setup.render_toml import render_config, shared_digest

__all__ = [
    "NODE_LOCAL",
    "NodeFile",
    "render_config",
    "render_node",
    "shared_digest",
    "this_host",
    "with_node_part",
]

PUBLIC = 0o644
PRIVATE = 0o600  # the CARP password (netif, carpswitch.toml) and ctl.conf (ctld warns)


@dataclass(frozen=True)
class NodeFile:
    """One file set-up owns on a node."""

    path: str  # absolute, on that node
    text: str
    mode: int  # 0o644 or 0o600
    why: str  # one line: "hast.conf, identical on both nodes"


def cluster_of(config: Config, where: str = "carpswitch.toml") -> ClusterSection:
    """The `[cluster]` section, or ConfigError: set-up has nothing to render without it."""
    if config.cluster is None:
        raise ConfigError(where, ["cluster: required for setup (carpswitch setup init writes it)"])
    return config.cluster


def this_host(config: Config, hostname: str | None = None) -> ClusterHost:
    """This machine's `[[cluster.host]]`: by [node].name, else by its host name as hastd
    matches `on` names (first label or full name); ConfigError when it is neither host."""
    cluster = cluster_of(config)
    if config.node.name is not None:
        names = [config.node.name]
    else:
        names = node_names_for_host(socket.gethostname() if hostname is None else hostname)
    for name in names:
        host = cluster.host_named(name)
        if host is not None:
            return host
    known = " or ".join(host.name for host in cluster.host)
    raise ConfigError(
        "carpswitch.toml",
        [f"cluster.host: this node is {names[-1]!r}, not {known} (set [node].name)"],
    )


def render_node(config: Config, host: str, config_file: str) -> tuple[NodeFile, ...]:
    """Every file set-up writes on `host`, at the paths of `config`'s node-local sections."""
    cluster = cluster_of(config)
    me = cluster.host_named(host)
    if me is None:
        known = " or ".join(h.name for h in cluster.host)
        raise ConfigError("carpswitch.toml", [f"cluster.host: no host {host!r} ({known})"])
    paths = config.paths
    rc_d = paths.rc_conf_d.rstrip("/")
    iscsi = any(resource.iscsi for resource in cluster.resource)
    files = [
        NodeFile(
            paths.hast_conf, hast_conf_text(cluster), PUBLIC, "hast.conf, identical on both nodes"
        ),
        NodeFile(paths.devd_conf, devd_rule_text(), PUBLIC, "devd rule: CARP events to carpswitch"),
        NodeFile(
            f"{rc_d}/hastd", rc_enable_text("hastd", True), PUBLIC, "rc.conf.d: start hastd at boot"
        ),
        NodeFile(
            f"{rc_d}/carpswitch",
            rc_enable_text("carpswitch", True),
            PUBLIC,
            "rc.conf.d: start the carpswitch daemon at boot",
        ),
    ]
    if iscsi:
        files.append(
            NodeFile(
                f"{rc_d}/ctld",
                rc_enable_text("ctld", False),
                PUBLIC,
                "rc.conf.d: ctld not at boot (carpswitch starts it on the primary)",
            )
        )
    files += [
        NodeFile(
            f"{rc_d}/netif",
            netif_text(cluster, me),
            PRIVATE,
            f"rc.conf.d: the CARP address on {cluster.interface}, advskew {cluster.advskew(me)}",
        ),
        NodeFile(
            f"{paths.loader_conf_d.rstrip('/')}/carpswitch.conf",
            loader_text(),
            PUBLIC,
            "loader.conf.d: load carp(4) at boot",
        ),
    ]
    if iscsi:
        files.append(
            NodeFile(
                paths.ctl_conf, ctl_conf_text(config), PRIVATE, "ctl.conf, identical on both nodes"
            )
        )
    files.append(
        NodeFile(
            config_file, render_config(config), PRIVATE, "carpswitch.toml (holds the CARP password)"
        )
    )
    return tuple(files)


def with_node_part(shared: Config, local: Config | None) -> Config:
    """The shared sections of `shared` with the node-local ones of `local` (or defaults).

    How a peer takes the pair's config without taking the sender's paths and commands. The
    node-local sections are checked only among themselves (run_dir's socket length), so
    copying them over keeps the result valid.
    """
    base = Config() if local is None else local
    return shared.replace(**{name: getattr(base, name) for name in NODE_LOCAL})
