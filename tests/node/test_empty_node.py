"""An empty node (resources=()) and a FreeBSD-default hast.conf on a lab node."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from carpswitch.lab.node import LabNode
from tests.node.conftest import wait_until

#: What set-up renders (no control, pidfile or listen); `timeout 1` only so that the new
#: primary stops waiting for its absent peer after 1 s instead of hastd's 20.
DEFAULT_HAST_CONF = """\
timeout 1

resource hastvol {
\ton hasta {
\t\tlocal /dev/zvol/tank/hastvol
\t\tremote 198.18.0.2
\t}
\ton hastb {
\t\tlocal /dev/zvol/tank/hastvol
\t\tremote 198.18.0.1
\t}
}
"""


def _carpswitch(node: LabNode, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carpswitch", "-c", str(node.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_empty_node_runs_hastd_without_resources_and_carpswitch_status_works(
    make_lab_node: Callable[..., LabNode],
) -> None:
    node = make_lab_node(resources=())
    assert node.hastd_pid() is not None
    listed = node.run("hastctl", "list")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "", "")
    config = node.config_path.read_text()
    assert "[[resource]]" not in config and "[[group]]" not in config
    assert "[paths]" in config and "[commands]" in config
    status = _carpswitch(node, "status")
    assert status.returncode == 0, status.stderr
    assert "HAST: no resource reported by hastctl" in status.stdout
    assert node.carp() == []  # CARP comes with set-up's rc.conf.d/netif


def test_freebsd_default_hast_conf_works_inside_the_node(
    make_lab_node: Callable[..., LabNode],
) -> None:
    node = make_lab_node(resources=(), start=False)
    created = node.run("zfs", "create", "-V", "64M", "tank/hastvol")
    assert created.returncode == 0, created.stderr
    node.paths.hast_conf.write_text(DEFAULT_HAST_CONF)
    provider = node.paths.zvol("tank/hastvol")
    fresh = node.run("hastctl", "dump", "hastvol")  # metadata.c: nv_ntoh of zeros fails
    assert (fresh.returncode, fresh.stdout) == (255, ""), fresh
    assert fresh.stderr == f"[ERROR] Metadata read from {provider} is invalid: Invalid argument.\n"
    made = node.run("hastctl", "create", "hastvol")
    assert (made.returncode, made.stderr) == (0, "")
    dumped = node.run("hastctl", "dump", "hastvol")
    assert dumped.returncode == 0 and dumped.stdout.startswith("resource: hastvol\n"), dumped
    node.start()
    assert (node.paths.var_run / "hastctl").is_socket()  # uds:///var/run/hastctl inside
    assert node.hastd_pid() is not None  # /var/run/hastd.pid inside
    assert node.run("hastctl", "role", "primary", "hastvol").returncode == 0
    assert wait_until(lambda: node.serves_io("hastvol"), timeout=10)
    with node.paths.provider("hastvol").open("r+b") as device:
        device.seek(1 << 20)
        device.write(b"carpswitch")
    with node.paths.zvol("tank/hastvol").open("rb") as zvol:
        assert b"carpswitch" in zvol.read(4 << 20)  # written through to the zvol


def test_lab_carpswitch_wrapper_reads_the_nodes_config_and_paths_point_inside(
    make_lab_node: Callable[..., LabNode],
) -> None:
    node = make_lab_node(resources=())
    config = node.config_path.read_text()
    for key, path in (
        ("devd_conf", node.path / "usr/local/etc/devd/carpswitch.conf"),
        ("rc_conf_d", node.path / "etc/rc.conf.d"),
        ("loader_conf_d", node.path / "boot/loader.conf.d"),
        ("ctl_conf", node.path / "etc/ctl.conf"),
    ):
        assert f'{key} = "{path}"' in config
    shown = subprocess.run(
        [str(node.bin / "carpswitch"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},  # no CARPSWITCH_CONFIG from outside
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "idle"  # status's state word, then the node
    assert any(line.startswith("node hasta ") for line in shown.stdout.splitlines())
    assert not (node.bin / "ssh").exists()  # only a cluster node has a namespace to enter
