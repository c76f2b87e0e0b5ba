"""`carpswitch lab status`: one screen per cluster, read without asking the controller."""

from __future__ import annotations

import subprocess
from pathlib import Path

from carpswitch.lab.cluster.cluster import HOSTS, Cluster
from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.net import Direction

#: A frozen host's hastd does not answer; status stays fast.
STATUS_TIMEOUT = 2.0


def status_text(cluster: Cluster) -> str:
    """Per host: CARP as ucarp has it, the cable, addresses, `hastctl status`."""
    try:
        cuts = cluster.net.cuts()
    except ClusterError:
        cuts = {}
    lines = [f"cluster {cluster.id} in {cluster.directory}"]
    for name in HOSTS:
        lines += _host_lines(cluster, name, cuts)
    return "\n".join(lines) + "\n"


def _host_lines(cluster: Cluster, name: str, cuts: dict[str, Direction]) -> list[str]:
    if not (Path(cluster.record.hosts[name]) / "lab.json").exists():
        return [f"{name}: not made (lab up did not get so far)"]
    node = cluster.node(name)
    state = cluster.carp_state(name) or "no ucarp"
    try:
        link = "up" if cluster.net.link_up(name) else "DOWN"
        addresses = " ".join(cluster.net.addresses(name))
    except ClusterError:
        link, addresses = "?", "?"
    cable = f", cable cut ({cuts[name]})" if name in cuts else ""
    lines = [f"{name}: CARP {state}; link {link}{cable}; {addresses}"]
    if node.hastd_pid() is None:
        return [*lines, "  hastd not running"]
    try:
        done = node.run("hastctl", "status", timeout=STATUS_TIMEOUT)
    except subprocess.TimeoutExpired:
        return [*lines, f"  hastctl status: no answer within {STATUS_TIMEOUT:g} s"]
    return lines + [f"  {line}" for line in (done.stdout + done.stderr).splitlines()]
