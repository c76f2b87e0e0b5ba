"""The lab network (namespaces, bridge, cable cuts) and `lab up`/`lab down` clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carpswitch.lab.cluster import registry
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.command import in_netns, run
from carpswitch.lab.cluster.iscsi import candidate_ports
from carpswitch.lab.cluster.net import ClusterNet, Direction, existing_namespaces
from carpswitch.lab.cluster.teardown import tgtd_ports
from carpswitch.lab.cluster.tgt import TGT_RUN_DIR, port_in_use
from carpswitch.lab.node import LabNode, LabResource, create_node

from .conftest import leftovers, unique_id

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

_RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999))
s.settimeout(float(sys.argv[2]))
try:
    print(s.recv(100).decode())
except TimeoutError:
    print("nothing")
"""
_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10):
    s.sendto(b"hello", (sys.argv[1], 9999))
    time.sleep(0.05)
"""


@pytest.fixture
def net() -> Iterator[ClusterNet]:
    """The network of a cluster alone (no nodes), removed at teardown."""
    network = ClusterNet.standard(unique_id())
    try:
        network.create()
        yield network
    finally:
        network.destroy()
    assert not set(network.namespaces()) & set(existing_namespaces())


def _mac(net: ClusterNet, host: str) -> str:
    h = net.host(host)
    return (
        run(["ip", "-n", h.netns, "-o", "link", "show", h.interface])
        .split("link/ether ")[1]
        .split()[0]
    )


def _static_neighbours(net: ClusterNet, a: str, b: str) -> None:
    """No ARP needed between `a` and `b`: a one-way cut would stop its replies."""
    for src, dst in ((a, b), (b, a)):
        s, d = net.host(src), net.host(dst)
        run(["ip", "-n", s.netns, "neigh", "replace", d.address, "lladdr", _mac(net, dst),
             "dev", s.interface, "nud", "permanent"])  # fmt: skip


def datagram_arrives(net: ClusterNet, src: str, dst: str) -> bool:
    """Send UDP from `src` to `dst` (inside their namespaces); did one arrive?"""
    target = net.host(dst)
    receiver = subprocess.Popen(
        in_netns(target.netns, [sys.executable, "-c", _RECEIVER, target.address, "2"]),
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)
    subprocess.run(
        in_netns(net.host(src).netns, [sys.executable, "-c", _SENDER, target.address]),
        check=True,
        timeout=10,
    )
    out, _ = receiver.communicate(timeout=10)
    return out.strip() == "hello"


def test_hosts_have_their_freebsd_interface_and_nothing_is_in_the_root_namespace(
    net: ClusterNet,
) -> None:
    root_links = run(["ip", "-o", "link", "show"])
    assert net.addresses("hasta") == ["198.18.0.1/24"]
    assert net.addresses("hastb") == ["198.18.0.2/24"]
    assert net.addresses("client") == ["198.18.0.10/24"]
    assert net.link_up("hasta")
    for host in ("hasta", "hastb", "client"):
        assert "198.18" not in root_links
        lo = run(["ip", "-n", net.host(host).netns, "-o", "link", "show", "lo"])
        assert "UP" in lo.split("<")[1].split(">")[0].split(",")
    assert datagram_arrives(net, "hasta", "hastb")
    assert datagram_arrives(net, "client", "hasta")


@pytest.mark.parametrize(
    ("direction", "hasta_hears", "hastb_hears"),
    [("both", False, False), ("in", False, True), ("out", True, False)],
)
def test_cut_and_heal(
    net: ClusterNet, direction: Direction, hasta_hears: bool, hastb_hears: bool
) -> None:
    _static_neighbours(net, "hasta", "hastb")

    net.cut("hasta", direction)

    assert net.cuts() == {"hasta": direction}
    assert datagram_arrives(net, "hastb", "hasta") is hasta_hears
    assert datagram_arrives(net, "hasta", "hastb") is hastb_hears
    assert datagram_arrives(net, "hastb", "client")  # only hasta's cable is cut
    net.heal("hasta")
    assert net.cuts() == {}
    assert datagram_arrives(net, "hastb", "hasta")
    assert datagram_arrives(net, "hasta", "hastb")


def _ping(node: LabNode, address: str) -> tuple[int, str, str, float]:
    """The witness guard's call, from outside the host: the shim enters its namespace."""
    started = time.monotonic()
    done = subprocess.run(
        [str(node.paths.command("ping")), "-c", "1", "-t", "1", "-q", address],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


@pytest.mark.parametrize("direction", ["both", "in", "out"])
def test_ping_shim_pings_from_the_host_namespace(
    net: ClusterNet, tmp_path: Path, direction: Direction
) -> None:
    host, peer = net.host("hasta"), net.host("hastb")
    node = create_node(
        tmp_path / "hasta",
        netns=host.netns,
        address=host.address,
        peer_address=peer.address,
        start=False,
    )
    client = net.host("client").address

    code, out, err, _ = _ping(node, client)
    assert code == 0, err
    assert out.startswith(f"PING {client} ({client}): 56 data bytes\n\n--- {client} ping")
    assert "1 packets transmitted, 1 packets received, 0.0% packet loss\n" in out
    assert out.splitlines()[-1].startswith("round-trip min/avg/max/stddev = ")

    net.cut("hasta", direction)
    code, out, err, took = _ping(node, client)
    assert (code, err) == (2, "")
    assert out.endswith("1 packets transmitted, 0 packets received, 100.0% packet loss\n")
    assert 0.9 < took < 3.0  # -t 1: FreeBSD's ping waits its timeout out
    net.heal("hasta")
    assert _ping(node, client)[0] == 0

    # an address of no attached network: no route (nothing leaves the namespace)
    code, out, err, took = _ping(node, "198.19.255.1")
    assert (code, err) == (2, "ping: sendto: No route to host\n")
    assert 0.9 < took < 3.0


def test_cut_cable_makes_both_masters_and_heal_leaves_one(make_cluster: object) -> None:
    assert callable(make_cluster)
    cluster: Cluster = make_cluster()

    cluster.cut("hasta")

    assert cluster.wait_for(lambda: cluster.masters() == ["hasta", "hastb"], 30)
    cluster.heal("hasta")
    cluster.wait_master("hasta")  # the lower skew wins when the adverts meet again
    assert not cluster.holds_vip("hastb")


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carpswitch", "lab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _wait_file(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "point",
    [None, "state/network.json", "var/run/hastd.pid", "var/run/ucarp.json"],
    ids=["recorded", "nodes-made", "hastd-started", "ucarp-started"],
)
def test_lab_down_after_a_killed_lab_up_leaves_nothing(point: str | None) -> None:
    cluster_id = unique_id()
    up = subprocess.Popen(
        [sys.executable, "-m", "carpswitch", "lab", "up", "--id", cluster_id],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_file(registry.record_path(cluster_id))
        record = registry.load(cluster_id)
        if point is not None:
            _wait_file(Path(record.hosts["hasta"]) / point)
    finally:
        os.kill(up.pid, signal.SIGKILL)
        up.wait()
        assert up.returncode != 0
        ports = tgtd_ports(record)
        status = _lab("status", cluster_id)
        down = _lab("down", cluster_id)
    assert status.returncode == 0, status.stderr  # status works on what a crash left
    assert down.returncode == 0, down.stderr
    assert leftovers(record, ports) == []
    again = _lab("down", cluster_id)
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stdout


def test_down_detaches_mounts_ends_frozen_hosts_and_can_run_twice(make_cluster: object) -> None:
    assert callable(make_cluster)
    cluster: Cluster = make_cluster()
    record = cluster.record
    mountpoint = Path(record.hosts["hasta"]) / "mnt" / "scratch"
    mountpoint.mkdir(parents=True)
    run(["mount", "-t", "tmpfs", "-o", "size=1m", "cswtest", str(mountpoint)])
    busy = subprocess.Popen(  # keeps the mount busy: only a lazy unmount detaches it
        in_netns(cluster.net.host("hasta").netns, ["sleep", "600"]), cwd=mountpoint
    )
    cluster.freeze("hastb")
    ports = tgtd_ports(record)

    cluster.down()
    cluster.down()  # twice is fine

    assert busy.wait(timeout=10) == -signal.SIGKILL
    assert leftovers(record, ports) == []


def test_down_removes_the_control_files_of_its_own_dead_tgtd_only(
    make_cluster: Callable[..., Cluster],
) -> None:
    """/var/run/tgtd is shared: a SIGKILLed tgtd's files go at `down`, another
    cluster's files in the same candidate range stay."""
    cluster = make_cluster(resources=[LabResource("tank", "raw")], services=["ctld"])

    def tgtd_serving() -> bool:  # ctld records the port before tgtd makes its files
        return any(
            port_in_use(p) and (TGT_RUN_DIR / f"socket.{p}").exists()
            for p in tgtd_ports(cluster.record)
        )

    assert cluster.wait_for(tgtd_serving, 60), "ctld started no tgtd"
    ports = tgtd_ports(cluster.record)
    netns = cluster.net.host("hasta").netns
    foreign = next(p for p in candidate_ports(netns) if p not in ports and not port_in_use(p))
    planted = [TGT_RUN_DIR / f"socket.{foreign}", TGT_RUN_DIR / f"socket.{foreign}.lock"]
    try:
        for path in planted:
            path.touch(exist_ok=False)
        cluster.kill("hasta")  # SIGKILL: tgtd leaves socket.PORT and its lock
        assert any((TGT_RUN_DIR / f"socket.{p}").exists() for p in ports)

        cluster.down()

        assert leftovers(cluster.record, ports) == []
        assert not [p for p in ports if (TGT_RUN_DIR / f"socket.{p}.lock").exists()]
        assert all(path.exists() for path in planted)
    finally:
        if not port_in_use(foreign):  # not a tgtd of another cluster that took it meanwhile
            for path in planted:
                path.unlink(missing_ok=True)
