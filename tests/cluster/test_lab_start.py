"""`lab up --empty` + files as set-up renders them + `lab start` = a working failover pair."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carpswitch.lab.cluster import demo, sshd
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.host import DEVD_CONF
from carpswitch.lab.cluster.net import VIP
from carpswitch.lab.node import LabNode
from tests.node.test_empty_node import DEFAULT_HAST_CONF

pytestmark = pytest.mark.cluster

#: What set-up renders, written by hand (render.py is another helper's; the lead joins):
#: hast.conf as a FreeBSD-default one, identical on both hosts.
HAST_CONF = DEFAULT_HAST_CONF
SHARED_TOML = """
[[resource]]
name = "hastvol"
kind = "raw"

[[group]]
name = "storage"
vhid = 7
interface = "vtnet0"
resources = ["hastvol"]
services = []
"""


CTL_CONF = """\
portal-group pg0 {
\tdiscovery-auth-group no-authentication
\tlisten 0.0.0.0:3260
}

target iqn.2026-01.org.carpswitch:hastvol {
\tauth-group no-authentication
\tportal-group pg0
\tlun 0 {
\t\tpath /dev/hast/hastvol
\t\tserial CSW0123456789AB
\t\tdevice-id CSW-hastvol
\t}
}
"""


def _render_by_hand(node: LabNode, advskew: int, *, iscsi: bool = False) -> None:
    paths = node.paths
    assert node.run("zfs", "create", "-V", "64M", "tank/hastvol").returncode == 0
    paths.hast_conf.write_text(HAST_CONF)
    assert node.run("hastctl", "create", "hastvol").returncode == 0
    paths.devd_conf.write_text(DEVD_CONF.read_text())
    (paths.rc_conf_d / "hastd").write_text('hastd_enable="YES"\n')
    (paths.rc_conf_d / "carpswitch").write_text('carpswitch_enable="YES"\n')
    (paths.rc_conf_d / "netif").write_text(
        f'ifconfig_vtnet0_alias0="inet vhid 7 advbase 1 advskew {advskew} pass s3cret {VIP}/24"\n'
    )
    with paths.config.open("a") as config:
        services = 'services = ["ctld"]' if iscsi else "services = []"
        config.write(SHARED_TOML.replace("services = []", services))
    if iscsi:
        (paths.rc_conf_d / "ctld").write_text('ctld_enable="NO"\n')
        paths.ctl_conf.write_text(CTL_CONF)


def _serving(node: LabNode) -> bool:
    try:
        return node.role("hastvol") == "primary" and node.serves_io("hastvol")
    except (OSError, ValueError):
        return False


def test_lab_start_boots_both_hosts_from_the_rendered_files(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(up=False, resources=())
    cluster.up_empty()
    assert cluster.node("hasta").hastd_pid() is None  # empty: nothing runs but sshd
    _render_by_hand(cluster.node("hastb"), advskew=100)
    _render_by_hand(cluster.node("hasta"), advskew=0)
    assert cluster.start() == ["hasta", "hastb"]
    with pytest.raises(ClusterError, match="started already"):
        cluster.start()  # a second start would run a second devd, daemon and ucarp
    hasta, hastb = cluster.node("hasta"), cluster.node("hastb")
    deadline = time.monotonic() + 60
    while not (_serving(hasta) and hastb.role("hastvol") == "secondary"):
        assert time.monotonic() < deadline, "hasta never served with hastb secondary"
        time.sleep(0.1)
    assert cluster.holds_vip("hasta") and not cluster.holds_vip("hastb")
    ucarp_log = (hasta.paths.var_log / "ucarp.log").read_text()
    assert "s3cret" not in ucarp_log  # (ucarp does not log its password)
    assert [v.vhid for v in hasta.carp()] == [7] and hastb.carp()[0].advskew == 100

    cluster.kill("hasta")  # the master dies: hastb takes over from its own files
    cluster.wait_master("hastb", timeout=30)
    deadline = time.monotonic() + 60
    while not _serving(hastb):
        assert time.monotonic() < deadline, "hastb never served after hasta died"
        time.sleep(0.1)


def test_lab_start_names_a_missing_file_and_starts_nothing(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(up=False, resources=())
    cluster.up_empty()
    _render_by_hand(cluster.node("hasta"), advskew=0)
    _render_by_hand(cluster.node("hastb"), advskew=100)
    netif = cluster.node("hastb").paths.rc_conf_d / "netif"
    netif.unlink()
    with pytest.raises(ClusterError, match=str(netif)):
        cluster.start()
    assert cluster.node("hasta").hastd_pid() is None
    assert not (cluster.node("hasta").paths.var_run / "devd.pid").exists()
    assert Path(sshd.SshFiles.of(cluster.node("hasta").paths).pidfile).exists()  # only sshd


def test_lab_demo_runs_against_a_started_cluster(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(up=False, resources=())
    cluster.up_empty()
    _render_by_hand(cluster.node("hasta"), advskew=0, iscsi=True)
    _render_by_hand(cluster.node("hastb"), advskew=100, iscsi=True)
    cluster.start()
    lines: list[str] = []
    assert demo.run(lines.append, cluster.id) == 0, "\n".join(lines)
    said = "\n".join(lines)
    assert "iqn.2026-01.org.carpswitch:hastvol" in said  # the rendered target, not the lab's
    assert "none lost" in said and "recovery time:" in said
    assert cluster.serving("hastb")  # left up, hastb primary
