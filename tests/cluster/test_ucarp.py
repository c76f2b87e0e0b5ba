"""ucarp as the lab's CARP: the address follows ucarp, and the controller's ways of giving
it away (net.inet.carp.demotion, `ifconfig IF vhid N state backup`) really move it."""

from __future__ import annotations

import re
import time

import pytest

from carpswitch.lab.cluster import ucarp
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.net import VIP
from carpswitch.lab.cluster.status import status_text

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def ucarp_logged_state(cluster: Cluster, host: str) -> str:
    """The last `Switching to state: X` ucarp itself logged for `host`."""
    text = (cluster.node(host).paths.var_log / "ucarp.log").read_text()
    states: list[str] = re.findall(r"Switching to state: (\w+)", text)
    return states[-1]


def ifconfig_state(cluster: Cluster, host: str) -> str:
    """The state `ifconfig vtnet0` of the host's lab shim prints."""
    done = cluster.node(host).run("ifconfig", "vtnet0")
    assert done.returncode == 0, done.stderr
    found = re.search(r"\tcarp: (\w+) vhid 1 ", done.stdout)
    assert found, done.stdout
    return found.group(1)


def stays(predicate: object, seconds: float) -> bool:
    """True if `predicate()` holds at every 100 ms look for `seconds`."""
    assert callable(predicate)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(0.1)
    return True


def test_ifconfig_prints_the_state_ucarp_is_in(cluster: Cluster) -> None:
    for host, state in (("hasta", "MASTER"), ("hastb", "BACKUP")):
        assert ucarp_logged_state(cluster, host) == state
        assert ifconfig_state(cluster, host) == state
    assert cluster.holds_vip("hasta")
    assert not cluster.holds_vip("hastb")
    assert cluster.serving("hasta")
    assert cluster.secondary("hastb")
    lines = status_text(cluster).splitlines()
    assert lines[1] == f"hasta: CARP MASTER; link up; 198.18.0.1/24 {VIP}/32"
    assert re.fullmatch(r"  tank\s+\S+\s+primary\s+.*", lines[3])
    assert lines[4] == "hastb: CARP BACKUP; link up; 198.18.0.2/24"
    assert re.fullmatch(r"  tank\s+\S+\s+secondary\s+.*", lines[6])


def test_address_moves_to_the_peer_when_the_master_dies(cluster: Cluster) -> None:
    cluster.kill("hasta")

    cluster.wait_master("hastb")
    assert ucarp_logged_state(cluster, "hastb") == "MASTER"
    assert not cluster.holds_vip("hasta")  # a dead host's address is gone
    assert ifconfig_state(cluster, "hasta") == "INIT"  # and nothing is MASTER there
    assert not cluster.net.link_up("hasta")
    assert cluster.host("hasta").pids() == set()
    cluster.wait_serving("hastb")  # ucarp -> up script -> devd -> the controller


def test_address_moves_when_the_masters_ucarp_is_killed(cluster: Cluster) -> None:
    cluster.kill_ucarp("hasta")

    assert ifconfig_state(cluster, "hasta") == "INIT"
    assert not cluster.holds_vip("hasta")
    cluster.wait_master("hastb")
    cluster.wait_serving("hastb")
    assert cluster.wait_for(lambda: cluster.secondary("hasta"), 60)  # devd: INIT -> backup


def test_demotion_and_forced_backup_give_the_address_away(cluster: Cluster) -> None:
    hasta = cluster.node("hasta")

    raised = hasta.run("sysctl", "net.inet.carp.demotion=240")
    assert raised.stdout == "net.inet.carp.demotion: 0 -> 240\n"
    assert cluster.masters() == ["hasta"]  # demotion alone moves nothing (no preempt)
    forced = hasta.run("ifconfig", "vtnet0", "vhid", "1", "state", "backup")

    assert forced.returncode == 0, forced.stderr
    assert ifconfig_state(cluster, "hasta") == "BACKUP"  # when ifconfig returns
    assert ucarp_logged_state(cluster, "hasta") == "BACKUP"
    assert not cluster.holds_vip("hasta")
    cluster.wait_master("hastb")
    speaker = ucarp.running(hasta.paths)
    assert speaker is not None and speaker.advskew == 240  # advertises the demoted skew
    assert stays(lambda: cluster.masters() == ["hastb"], 4.0)
    cluster.wait_serving("hastb")


def test_taking_the_demotion_back_restores_the_skew(cluster: Cluster) -> None:
    hasta = cluster.node("hasta")
    hasta.run("sysctl", "net.inet.carp.demotion=240")
    hasta.run("ifconfig", "vtnet0", "vhid", "1", "state", "backup")
    cluster.wait_master("hastb")

    lowered = hasta.run("sysctl", "net.inet.carp.demotion=-240")

    assert lowered.stdout == "net.inet.carp.demotion: 240 -> 0\n"
    speaker = ucarp.running(hasta.paths)
    assert speaker is not None and speaker.advskew == 0
    assert stays(lambda: cluster.masters() == ["hastb"], 4.0)  # no preempt: hastb keeps it
    cluster.kill("hastb")
    cluster.wait_master("hasta")  # and hasta takes over again when hastb dies
    assert VIP not in " ".join(cluster.net.addresses("hastb"))


def test_a_rebooted_master_comes_back_as_backup_and_secondary(cluster: Cluster) -> None:
    cluster.reboot("hasta")

    assert cluster.wait_for(lambda: cluster.carp_state("hasta") == "BACKUP", 30)
    cluster.wait_master("hastb")
    cluster.wait_serving("hastb")
    assert cluster.wait_for(lambda: cluster.secondary("hasta"), 30)
    assert stays(lambda: cluster.masters() == ["hastb"], 3.0)
    assert cluster.node("hasta").demotion() == 0  # a boot starts with no demotion


def test_a_frozen_master_loses_the_address_and_takes_it_back_when_thawed(
    cluster: Cluster,
) -> None:
    cluster.freeze("hasta")

    assert cluster.wait_for(lambda: cluster.holds_vip("hastb"), 30)
    assert ucarp_logged_state(cluster, "hastb") == "MASTER"
    cluster.thaw("hasta")
    # hasta's ucarp never stopped being MASTER; its adverts (skew 0) are more frequent
    # than hastb's (100), so hastb goes BACKUP: what CARP does when two masters meet.
    cluster.wait_master("hasta")
    assert not cluster.holds_vip("hastb")
