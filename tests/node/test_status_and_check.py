"""`carpswitch status --json` and `check` against a simulated node, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from carpswitch.lab.node import LabResource


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carpswitch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def node_dir(tmp_path: Path):
    directory = tmp_path / "n1"
    made = cli("lab", "node", str(directory), "--resource", "tank:raw", "--carp", "BACKUP")
    assert made.returncode == 0, made.stderr
    yield directory
    stopped = cli("lab", "stop", str(directory))
    assert stopped.returncode == 0, stopped.stderr


def status(node_dir: Path) -> dict[str, Any]:
    result = cli("-c", str(node_dir / "carpswitch.toml"), "status", "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_status_json_shows_the_node_and_follows_its_changes(node_dir):
    first = status(node_dir)
    assert first["node"] == "hasta"
    assert first["carp"] == [
        {
            "interface": "vtnet0",
            "vhid": 1,
            "state": "BACKUP",
            "advbase": 1,
            "advskew": 0,
            "peer": "224.0.0.18",
            "peer6": "ff02::12",
        }
    ]
    tank = first["resources"][0]
    assert (tank["name"], tank["role"], tank["status"], tank["dirty"], tank["device_present"]) == (
        "tank",
        "init",
        None,
        0,
        False,
    )
    assert first["problems"] == []
    assert first["demotion"] == 0
    assert first["groups"][0]["name"] == "storage"

    bin_dir = node_dir / "bin"
    subprocess.run([bin_dir / "hastctl", "role", "primary", "tank"], check=True, timeout=30)
    subprocess.run(
        [bin_dir / "ifconfig", "vtnet0", "vhid", "1", "state", "master"], check=True, timeout=30
    )
    deadline = time.monotonic() + 10
    while not (node_dir / "dev" / "hast" / "tank").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = status(node_dir)
    assert second["carp"][0]["state"] == "MASTER"
    tank = second["resources"][0]
    assert (tank["role"], tank["status"], tank["device_present"]) == ("primary", "degraded", True)
    assert isinstance(tank["worker_pid"], int)


def test_status_reports_a_stopped_hastd_as_a_problem(node_dir):
    assert cli("lab", "stop", str(node_dir)).returncode == 0
    result = cli("-c", str(node_dir / "carpswitch.toml"), "status")
    assert result.returncode == 1
    assert "Unable to connect to hastd" in result.stdout
    assert "PROBLEMS" in result.stdout


def test_check_accepts_the_lab_config_and_lists_every_problem(make_lab_node):
    node = make_lab_node(resources=[LabResource("tank", "raw")])
    ok = cli("-c", str(node.config_path), "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "configuration OK" in ok.stdout
    config = Path(node.config_path)
    text = config.read_text().replace('resources = ["tank"]', 'resources = ["tank", "ghost"]')
    text = text.replace("vhid = 1", "vhid = 7")
    config.write_text(text + '\n[[resource]]\nname = "phantom"\n')
    bad = cli("-c", str(config), "check")
    assert bad.returncode == 78
    assert "group 'storage': resource 'ghost' is not in" in bad.stdout
    assert "resource 'phantom' is in the config but not in" in bad.stdout
    assert "group 'storage': CARP vhid 7 on vtnet0 is not configured" in bad.stdout
