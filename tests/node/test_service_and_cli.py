"""service shim (rc.subr texts) and `carpswitch lab` command line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import psutil

from carpswitch.lab.cli import main as lab_main
from carpswitch.lab.faults import load_plan
from carpswitch.lab.node import LabNode
from carpswitch.model import CarpState
from carpswitch.parse.service import parse_service_status


def test_service_lifecycle_prints_rc_subr_texts(make_lab_node) -> None:
    node = make_lab_node(services=["nfsd"])
    stopped = node.run("service", "nfsd", "status")
    assert (stopped.returncode, stopped.stdout) == (1, "nfsd is not running.\n")
    started = node.run("service", "nfsd", "start")
    assert (started.returncode, started.stdout) == (0, "Starting nfsd.\n")
    pid = node.service_pid("nfsd")
    assert pid is not None and psutil.Process(pid).cmdline()[0] == "nfsd"
    status = node.run("service", "nfsd", "status")
    assert status.stdout == f"nfsd is running as pid {pid}.\n"
    assert parse_service_status("nfsd", status.stdout, status.returncode).running
    again = node.run("service", "nfsd", "start")
    # rc.subr: echo 1>&2 "${name} already running? " "(pid=$rc_pid)." -> two spaces
    assert (again.returncode, again.stderr) == (1, f"nfsd already running?  (pid={pid}).\n")
    stop = node.run("service", "nfsd", "stop")
    assert stop.stdout == f"Stopping nfsd.\nWaiting for PIDS: {pid}.\n"
    missing = node.run("service", "nfsd", "stop")
    assert missing.stderr == "nfsd not running?\n"  # rc.d/nfsd sets no pidfile
    ctld = make_lab_node(name="hastb", peer="hasta", services=["ctld"])
    ctld_missing = ctld.run("service", "ctld", "stop")
    assert (
        ctld_missing.stderr == f"ctld not running? (check {ctld.paths.service_pidfile('ctld')}).\n"
    )


def test_reload_sends_sighup_and_prints_nothing(make_lab_node) -> None:
    node = make_lab_node(services=["ctld"])
    node.run("service", "ctld", "onestart")
    reload = node.run("service", "ctld", "reload")
    assert (reload.returncode, reload.stdout, reload.stderr) == (0, "", "")
    from carpswitch.lab.state import ServiceState
    from tests.node.conftest import wait_until

    assert wait_until(lambda: node.store.read(ServiceState).services["ctld"].reloads == 1)


def test_unknown_service_prints_services_two_lines(lab_node: LabNode) -> None:
    result = lab_node.run("service", "nosuch", "start")
    assert result.returncode == 1
    assert result.stdout == (
        "nosuch does not exist in /etc/rc.d or the local startup\n"
        "directories (/usr/local/etc/rc.d), or is not executable\n"
    )


def test_lab_config_points_the_controller_at_the_shims(make_lab_node) -> None:
    node = make_lab_node(services=["nfsd"])
    config = tomllib.loads(node.config_path.read_text())
    assert config["node"]["name"] == "hasta"
    assert config["commands"]["hastctl"] == str(node.paths.command("hastctl"))
    assert set(config["commands"]) == {
        "hastctl",
        "ifconfig",
        "sysctl",
        "mount",
        "umount",
        "fsck",
        "zpool",
        "zfs",
        "service",
        "ping",  # the guards' witness (the lab's ping shim)
        "watchdog",  # the guards' watchdog(4) (the lab's watchdog shim)
    }
    assert config["paths"]["dev_hast"] == str(node.paths.dev_hast)
    assert config["resource"] == [{"name": "tank", "kind": "raw"}]
    assert config["group"][0]["resources"] == ["tank"]
    assert config["group"][0]["services"] == ["nfsd"]


def test_cli_creates_steers_and_stops_a_node(tmp_path: Path, capsys) -> None:
    directory = tmp_path / "hastb"
    try:
        code = lab_main(
            [
                "node",
                str(directory),
                "--name",
                "hastb",
                "--peer",
                "hasta",
                "--resource",
                "tank:ufs",
                "--resource",
                "pool:zfs",
                "--carp",
                "master",
            ]
        )
        assert code == 0
        node = LabNode(directory)
        assert node.hastd_pid() is not None
        assert [r.kind for r in node.facts.resources] == ["ufs", "zfs"]
        assert lab_main(["carp", str(directory), "backup"]) == 0
        assert node.carp()[0].state == CarpState.BACKUP
        hastd_before = node.hastd_pid()
        assert lab_main(["reboot", str(directory), "--carp", "master"]) == 0
        assert node.carp()[0].state == CarpState.MASTER
        assert node.hastd_pid() not in (None, hastd_before)
        assert lab_main(["fault", str(directory), "add", "zpool", "^import", "--exit", "1"]) == 0
        assert lab_main(["fault", str(directory), "add", "hastctl", "", "--hang", "0.1"]) == 0
        assert [f.command for f in load_plan(node.paths.faults)] == ["zpool", "hastctl"]
        assert lab_main(["fault", str(directory), "clear"]) == 0
        assert load_plan(node.paths.faults) == []
        lab_main(["node", str(directory), "--no-start"])  # already a node
        assert "already holds a lab node" in capsys.readouterr().err
    finally:
        assert lab_main(["stop", str(directory)]) == 0
    assert LabNode(directory).processes() == []


def test_cli_bad_usage_exits_64(tmp_path: Path) -> None:
    assert lab_main([]) == 64
    assert lab_main(["carp", str(tmp_path), "SIDEWAYS"]) == 64
    assert lab_main(["node", str(tmp_path / "x"), "--freebsd", "12"]) == 64
    assert lab_main(["--help"]) == 0
