"""ifconfig and sysctl shims: CARP state, demotion, texts and exit codes (§4)."""

from __future__ import annotations

from carpswitch.lab.node import LabNode
from carpswitch.model import CarpState
from carpswitch.parse.ifconfig import parse_ifconfig_carp
from carpswitch.parse.sysctl import parse_sysctl_int, parse_sysctl_set


def test_ifconfig_on_freebsd_14_prints_carp_and_peer_lines(lab_node: LabNode) -> None:
    result = lab_node.run("ifconfig", "vtnet0")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "vtnet0: flags=8863<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500"
    )
    carp = lines.index("\tcarp: BACKUP vhid 1 advbase 1 advskew 0")
    assert lines[carp - 1] == "\tinet 198.18.0.100 netmask 0xffffffff broadcast 198.18.0.100 vhid 1"
    assert lines[carp + 1] == "\t      peer 224.0.0.18 peer6 ff02::12"
    parsed = parse_ifconfig_carp(result.stdout, "vtnet0")
    assert [(v.vhid, v.state, v.peer) for v in parsed] == [(1, CarpState.BACKUP, "224.0.0.18")]


def test_ifconfig_on_freebsd_13_has_no_peer_line(make_lab_node) -> None:
    node = make_lab_node(freebsd_version=13, carp_state="MASTER")
    result = node.run("ifconfig", "vtnet0")
    assert "\tcarp: MASTER vhid 1 advbase 1 advskew 0\n\tmedia:" in result.stdout
    assert "peer6" not in result.stdout
    assert parse_ifconfig_carp(result.stdout)[0].state == CarpState.MASTER


def test_plain_ifconfig_lists_every_interface(lab_node: LabNode) -> None:
    result = lab_node.run("ifconfig")
    assert result.stdout.startswith("vtnet0: flags=")
    assert "\nlo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n" in result.stdout


def test_unknown_interface_exits_1(lab_node: LabNode) -> None:
    result = lab_node.run("ifconfig", "vtnet9")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "ifconfig: interface vtnet9 does not exist\n"


def test_state_change_is_case_insensitive_and_ignored_while_init(lab_node: LabNode) -> None:
    assert lab_node.run("ifconfig", "vtnet0", "vhid", "1", "state", "Master").returncode == 0
    assert lab_node.carp()[0].state == CarpState.MASTER
    lab_node.set_carp("INIT")
    assert lab_node.run("ifconfig", "vtnet0", "vhid", "1", "state", "backup").returncode == 0
    assert lab_node.carp()[0].state == CarpState.INIT


def test_advskew_is_set_per_vhid_and_bad_state_fails(lab_node: LabNode) -> None:
    assert lab_node.run("ifconfig", "vtnet0", "vhid", "1", "advskew", "100").returncode == 0
    assert lab_node.carp()[0].advskew == 100
    bad = lab_node.run("ifconfig", "vtnet0", "vhid", "1", "state", "sideways")
    assert (bad.returncode, bad.stderr) == (1, "ifconfig: unknown state\n")


def test_interface_down_goes_init_and_demotes_by_240(lab_node: LabNode) -> None:
    lab_node.run("ifconfig", "vtnet0", "down")
    assert lab_node.carp()[0].state == CarpState.INIT
    assert lab_node.demotion() == 240
    lab_node.run("ifconfig", "vtnet0", "up")
    assert (lab_node.carp()[0].state, lab_node.demotion()) == (CarpState.BACKUP, 0)


def test_writing_demotion_adds_to_it(lab_node: LabNode) -> None:
    first = lab_node.run("sysctl", "net.inet.carp.demotion=240")
    second = lab_node.run("sysctl", "net.inet.carp.demotion=-40")
    assert first.stdout == "net.inet.carp.demotion: 0 -> 240\n"
    assert parse_sysctl_set(second.stdout, "net.inet.carp.demotion") == (240, 200)
    read = lab_node.run("sysctl", "-n", "net.inet.carp.demotion")
    assert parse_sysctl_int(read.stdout, "net.inet.carp.demotion") == 200
    assert lab_node.demotion() == 200


def test_sysctl_reads_hostname_and_writes_preempt(lab_node: LabNode) -> None:
    assert lab_node.run("sysctl", "kern.hostname").stdout == "kern.hostname: hasta\n"
    result = lab_node.run("sysctl", "net.inet.carp.preempt=1")
    assert result.stdout == "net.inet.carp.preempt: 0 -> 1\n"
    assert lab_node.sysctl("net.inet.carp.preempt") == 1


def test_unknown_oid_fails_but_other_names_are_still_shown(lab_node: LabNode) -> None:
    result = lab_node.run("sysctl", "net.inet.carp.bogus", "net.inet.carp.log")
    assert result.returncode == 1
    assert result.stderr == "sysctl: unknown oid 'net.inet.carp.bogus'\n"
    assert result.stdout == "net.inet.carp.log: 1\n"


def test_bad_values_and_read_only_oids_are_refused(lab_node: LabNode) -> None:
    bad = lab_node.run("sysctl", "net.inet.carp.demotion=lots")
    assert (bad.returncode, bad.stderr) == (1, "sysctl: invalid integer 'lots'\n")
    ro = lab_node.run("sysctl", "kern.osrelease=15.0")
    assert (ro.returncode, ro.stderr) == (1, "sysctl: oid 'kern.osrelease' is read only\n")


def test_carp_allow_zero_puts_vhids_in_init(lab_node: LabNode) -> None:
    lab_node.run("sysctl", "net.inet.carp.allow=0")
    assert lab_node.carp()[0].state == CarpState.INIT
