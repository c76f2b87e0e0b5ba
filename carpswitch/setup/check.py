"""`setup check`: each node's facts, and the differences between two nodes' facts.

Facts are what both nodes must agree on (carpswitch version, the shared sections' digest,
hast.conf's sha256, each provider's size) and what each must have (CARP configured: the
rendered netif file in place and `ifconfig IF` showing the vhid; hastd running). A fact
that cannot be read is None and reported as unknown, never as "fine".
"""

from __future__ import annotations

import hashlib
from typing import Any

from carpswitch import __version__
from carpswitch.config import Config
from carpswitch.errors import CarpswitchError, CommandError
from carpswitch.parse.ifconfig import parse_ifconfig_carp
from carpswitch.setup.files import read_current
from carpswitch.setup.node import hastd_running
from carpswitch.setup.render import cluster_of, render_node, shared_digest
from carpswitch.system.runner import CommandRunner


def node_facts(
    config: Config, host: str, config_file: str, runner: CommandRunner
) -> dict[str, Any]:
    """This node's facts as JSON-ready values (what `setup receive facts` prints)."""
    cluster = cluster_of(config)
    observe = config.timeouts.observe
    hast_text, _mode = read_current(config.paths.hast_conf)
    netif = next(f for f in render_node(config, host, config_file) if f.path.endswith("/netif"))
    netif_text, _mode = read_current(netif.path)
    try:
        running: bool | None = hastd_running(runner, observe)
    except CarpswitchError:
        running = None
    return {
        "host": host,
        "version": __version__,
        "shared_digest": shared_digest(config),
        "hast_conf_sha256": None
        if hast_text is None
        else hashlib.sha256(hast_text.encode()).hexdigest(),
        "provider_sizes": {
            r.name: _volsize(runner, r.zvol, observe) if r.zvol else None for r in cluster.resource
        },
        "carp_netif": netif_text == netif.text,
        "carp_vhid": _vhid_shown(runner, cluster.interface, cluster.vhid, observe),
        "hastd_running": running,
    }


def _volsize(runner: CommandRunner, dataset: str, timeout: float) -> int | None:
    """`zfs get -Hp -o value volsize DATASET` in bytes; None when it cannot be read."""
    try:
        result = runner.run("zfs", "get", "-Hp", "-o", "value", "volsize", dataset, timeout=timeout)
        return int(result.stdout.strip())
    except (CommandError, ValueError):
        return None


def _vhid_shown(runner: CommandRunner, interface: str, vhid: int, timeout: float) -> bool | None:
    """Whether `ifconfig IF` shows `vhid`; None when ifconfig cannot be read."""
    try:
        result = runner.run("ifconfig", interface, timeout=timeout)
        return any(v.vhid == vhid for v in parse_ifconfig_carp(result.stdout, interface))
    except CarpswitchError:
        return None


def differences(local: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    """One line per difference between two nodes' facts (none: identical and set up)."""
    lines: list[str] = []
    if local.get("hast_conf_sha256") != peer.get("hast_conf_sha256"):
        lines.append("hast.conf differs")
    for name, size in dict(local.get("provider_sizes") or {}).items():
        other = dict(peer.get("provider_sizes") or {}).get(name)
        if size != other:
            lines.append(f"provider sizes differ for {name} ({_size(size)} vs {_size(other)})")
    if local.get("version") != peer.get("version"):
        lines.append(
            f"carpswitch version differs ({local.get('version')} vs {peer.get('version')})"
        )
    if local.get("shared_digest") != peer.get("shared_digest"):
        lines.append("shared config differs (carpswitch.toml's shared sections)")
    for facts in (local, peer):
        host = facts.get("host")
        if facts.get("carp_netif") is not True:
            lines.append(f"CARP not configured on {host} (rc.conf.d/netif missing or different)")
        elif facts.get("carp_vhid") is None:
            lines.append(f"CARP state unknown on {host} (ifconfig could not be read)")
        elif not facts.get("carp_vhid"):
            lines.append(f"CARP not configured on {host} (ifconfig shows no such vhid)")
        if facts.get("hastd_running") is None:
            lines.append(f"hastd state unknown on {host}")
        elif not facts.get("hastd_running"):
            lines.append(f"hastd not running on {host}")
    return lines


def _size(value: object) -> str:
    return "missing" if value is None else str(value)
