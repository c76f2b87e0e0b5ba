"""The README's "from zero to failover", as a new user runs it: two empty lab hosts,
`setup init`, `setup plan`, `setup apply` over the real sshd in the peer's namespace, then
`lab start` and a failover with acknowledged writes read back through the iSCSI LUN.

Every command is the one the README shows (the host's DIR/bin/carpswitch is "carpswitch on
that host"); no file is edited by hand except the one difference `setup check` must find.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carpswitch.engine.hastevents import HastEventLog
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.sshd import SshFiles

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]

INIT = (
    "--remote-host", "hastb", "--remote-ip", "198.18.0.2", "--local-ip", "198.18.0.1",
    "--carp-ip", "198.18.0.100/24", "--interface", "vtnet0", "--remote-poolname", "tank",
    "--vol-path", "hastvol", "--vol-size", "64M", "--hastvol-name", "hastvol",
)  # fmt: skip


def _on(
    cluster: Cluster, host: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`carpswitch ARGS` typed on `host` (its wrapper: its own carpswitch.toml)."""
    return subprocess.run(
        [str(cluster.node(host).paths.bin / "carpswitch"), *args],
        capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _digests(cluster: Cluster, host: str) -> dict[str, str]:
    """sha256 of every file set-up owns on `host`, by its path inside the node."""
    root = cluster.node(host).path
    found = {}
    for relative in (
        "etc/hast.conf", "etc/ctl.conf", "etc/rc.conf.d/hastd", "etc/rc.conf.d/carpswitch",
        "etc/rc.conf.d/ctld", "etc/rc.conf.d/netif", "boot/loader.conf.d/carpswitch.conf",
        "usr/local/etc/devd/carpswitch.conf", "carpswitch.toml",
    ):  # fmt: skip
        found[relative] = hashlib.sha256((root / relative).read_bytes()).hexdigest()
    return found


def _hast_events(cluster: Cluster, host: str) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """What hast.conf's `exec` (set-up's default, the lab node's carpswitch-hast-event)
    journaled on `host`: state_dir/hast-events.jsonl."""
    state_dir = cluster.node(host).paths.carpswitch_state_dir
    return [(e.event, e.resource, e.args) for e in HastEventLog(str(state_dir)).events()]


def _journaled(
    cluster: Cluster, host: str, event: tuple[str, str, tuple[str, ...]], timeout: float = 15
) -> bool:
    """`event` reaches `host`'s journal (hastd does not wait for its hook: a moment)."""
    deadline = time.monotonic() + timeout
    while event not in _hast_events(cluster, host):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_from_two_empty_hosts_to_a_failover(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(up=False, resources=[])
    cluster.up_empty()
    keys = SshFiles.of(cluster.node("hasta").paths)
    known_hosts = str(keys.dot_ssh / "known_hosts")
    init = _on(
        cluster, "hasta", "setup", "init", *INIT,
        "--ssh-identity", str(keys.identity), "--ssh-known-hosts", known_hosts,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr

    plan = _on(cluster, "hasta", "setup", "plan")
    assert plan.returncode == 0, plan.stderr
    for expected in (
        "== hasta (this node)", "== hastb (peer, root@198.18.0.2)",
        "zfs create -V 64M tank/hastvol", "hastctl create hastvol", "+resource hastvol {",
    ):  # fmt: skip
        assert expected in plan.stdout, (expected, plan.stdout)
    assert not (cluster.node("hastb").path / "dev/zvol/tank/hastvol").exists()  # plan did nothing

    applied = _on(cluster, "hasta", "setup", "apply", timeout=300)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert applied.stdout.count("hastctl create hastvol") == 2, applied.stdout  # both nodes
    a, b = _digests(cluster, "hasta"), _digests(cluster, "hastb")
    for shared in ("etc/hast.conf", "usr/local/etc/devd/carpswitch.conf"):
        assert a[shared] == b[shared], shared  # identical on both nodes
    assert a["etc/rc.conf.d/netif"] != b["etc/rc.conf.d/netif"]  # each its own advskew
    assert (
        "exec /usr/local/sbin/carpswitch-hast-event\n"
        in cluster.node("hasta").paths.hast_conf.read_text()
    )
    for host in ("hasta", "hastb"):
        listed = cluster.node(host).run("hastctl", "list", "hastvol")
        assert "role: secondary" in listed.stdout, (host, listed.stdout, listed.stderr)
        made_secondary = ("role", "hastvol", ("init", "secondary"))
        assert _journaled(cluster, host, made_secondary), (host, _hast_events(cluster, host))

    again = _on(cluster, "hasta", "setup", "apply", timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "both nodes are set up as carpswitch.toml says"
    assert _digests(cluster, "hasta") == a and _digests(cluster, "hastb") == b  # a no-op

    hast_conf = cluster.node("hastb").paths.hast_conf
    hast_conf.write_text(hast_conf.read_text() + "# edited by hand on hastb\n")
    differs = _on(cluster, "hasta", "setup", "check")
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert "hast.conf" in differs.stdout, differs.stdout
    assert _on(cluster, "hasta", "setup", "apply", timeout=300).returncode == 0  # puts it back
    assert _digests(cluster, "hastb") == b

    start = subprocess.run(
        [sys.executable, "-m", "carpswitch", "lab", "start", cluster.id],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert start.returncode == 0, start.stderr
    checked = _on(cluster, "hasta", "setup", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr  # CARP is up on both now
    # hastd's default timeout (20 s, no `timeout` in a FreeBSD-default hast.conf) is what a
    # new primary gives its peer before it serves: the first promotion takes ~25 s.
    cluster.wait_serving("hasta", timeout=90)
    promoted = ("role", "hastvol", ("secondary", "primary"))
    assert _journaled(cluster, "hasta", promoted), _hast_events(cluster, "hasta")

    demo = subprocess.run(
        [sys.executable, "-m", "carpswitch", "lab", "demo", "--cluster", cluster.id],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "none lost" in demo.stdout and "never two primaries" in demo.stdout, demo.stdout
    assert Path(cluster.node("hastb").path / "dev/zvol/tank/hastvol").stat().st_size == 64 << 20
    assert _journaled(cluster, "hastb", promoted), _hast_events(cluster, "hastb")
