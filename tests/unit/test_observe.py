"""The observer turns command output into a NodeState and lists what it could not read."""

from pathlib import Path

import pytest

from carpswitch.config import parse_config
from carpswitch.errors import CommandFailed
from carpswitch.parse.hastconf import parse_hast_conf
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.topology import build_topology
from tests.fakes import FakeRunner

FIXTURES = Path(__file__).parent.parent / "fixtures"
HAST_CONF = """\
resource disk1 {
	on hasta {
		local /dev/ada1
		remote 198.18.0.2
	}
}
"""
IFCONFIG = (FIXTURES / "ifconfig" / "vtnet0_freebsd14_master_with_peer.txt").read_text()
HAST_LIST = (FIXTURES / "hastctl_list" / "init_degraded_and_missing.txt").read_text()


def setup(tmp_path, runner, config=None):
    config = parse_config(config or {"paths": {"dev_hast": str(tmp_path)}})
    observer = Observer(runner, config)
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"])
    return observer, topology


def test_node_state_from_exact_freebsd_output(tmp_path):
    (tmp_path / "mirror1").touch()  # disk1's provider name is mirror1
    runner = FakeRunner()
    runner.reply(commands.hastctl_list("/etc/hast.conf"), HAST_LIST, exit_status=1)
    runner.reply(commands.sysctl_get("net.inet.carp.demotion"), "240\n")
    observer, topology = setup(tmp_path, runner)
    runner.reply(commands.ifconfig_show("vtnet0"), IFCONFIG)
    carp = observer.carp(["vtnet0"])
    state = observer.node_state("hasta", topology, carp)
    assert [(v.interface, v.vhid, v.state) for v in state.carp] == [
        (v.interface, v.vhid, v.state) for v in carp
    ]
    assert carp and carp[0].interface == "vtnet0"
    disk1 = state.resource("disk1")
    assert disk1 is not None and disk1.role == "primary" and disk1.dirty == 134217728
    assert disk1.device_present is True
    assert state.resource("disk0").device_present is False
    assert state.demotion == 240
    assert state.problems == []
    assert ("hastctl", "list", "-c", "/etc/hast.conf") in runner.calls


def test_failures_become_problems_not_exceptions(tmp_path):
    runner = FakeRunner()
    runner.reply(
        commands.hastctl_list("/etc/hast.conf"),
        exit_status=71,
        stderr="[ERROR] Unable to connect to hastd via /var/run/hastctl: Connection refused.\n",
    )
    runner.reply(commands.sysctl_get("net.inet.carp.demotion"), "garbage\n")
    observer, topology = setup(tmp_path, runner)
    state = observer.node_state("hasta", topology, [])
    assert state.resources == []
    assert state.demotion is None
    assert len(state.problems) == 2
    assert state.problems[0].startswith("hast: ")
    assert "exit status 71: [ERROR] Unable to connect to hastd" in state.problems[0]
    assert state.problems[1].startswith("demotion: cannot parse output of sysctl")


def test_mounts_pools_and_services_are_read_only_when_needed(tmp_path):
    runner = FakeRunner()
    runner.reply(commands.hastctl_list("/etc/hast.conf"), "")
    runner.reply(commands.sysctl_get("net.inet.carp.demotion"), "0\n")
    observer, topology = setup(tmp_path, runner)
    observer.node_state("hasta", topology, [])
    assert not any(call[0] in ("mount", "zpool", "service") for call in runner.calls)


def test_service_status_exit_1_means_stopped(tmp_path):
    runner = FakeRunner()
    runner.reply(commands.service_status("ctld"), "ctld is not running.\n", exit_status=1)
    runner.reply(commands.service_status("nfsd"), "nfsd is running as pid 812 813.\n")
    observer, _ = setup(tmp_path, runner)
    assert observer.service("ctld").running is False
    nfsd = observer.service("nfsd")
    assert nfsd.running and nfsd.pids == (812, 813)


def test_observation_commands_are_bounded_by_the_observe_timeout(tmp_path):
    runner = FakeRunner()
    runner.reply(commands.sysctl_get("net.inet.carp.demotion"), timed_out=True)
    observer, topology = setup(tmp_path, runner, {"timeouts": {"observe": 2}})
    state = observer.node_state("hasta", topology, [])
    assert any("timed out after 2 s" in p for p in state.problems)


def test_an_interface_that_does_not_exist_has_no_vhid_but_is_read(tmp_path):
    runner = FakeRunner()
    runner.reply(
        commands.ifconfig_show("vtnet0"),
        exit_status=1,
        stderr="ifconfig: interface vtnet0 does not exist\n",
    )
    observer, _ = setup(tmp_path, runner)
    assert observer.carp_state(["vtnet0"]) == ([], {})


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"timed_out": True}, "timed out after 10 s"),
        ({"exit_status": 1, "stderr": "ifconfig: ioctl (SIOCGIFINDEX): Device busy\n"}, "busy"),
        ({"stdout": "\tcarp: SOMETHING vhid 1\n"}, "cannot parse output of ifconfig vtnet0"),
    ],
    ids=["timeout", "other-error", "garbage"],
)
def test_an_interface_that_cannot_be_read_is_an_unreadable_fact(tmp_path, reply, error):
    runner = FakeRunner()
    runner.reply(commands.ifconfig_show("vtnet0"), **reply)
    runner.reply(commands.ifconfig_show("em0"), IFCONFIG.replace("vtnet0", "em0"))
    observer, _ = setup(tmp_path, runner)
    vhids, unreadable = observer.carp_state(["vtnet0", "em0"])
    assert [v.interface for v in vhids] == ["em0"]  # the other interface is still read
    assert list(unreadable) == ["carp vtnet0"]
    assert error in unreadable["carp vtnet0"] and "\n" not in unreadable["carp vtnet0"]


def test_unreadable_facts_are_named_one_line_each(tmp_path):
    runner = FakeRunner()
    runner.reply(commands.hastctl_list("/etc/hast.conf"), "")
    runner.reply(commands.sysctl_get("net.inet.carp.demotion"), "0\n")
    runner.reply(commands.mount_list(), exit_status=1, stderr="mount: first\nsecond\n")
    config = {"resource": [{"name": "disk1", "kind": "ufs", "mountpoint": "/hast/disk1"}]}
    observer, topology = setup(tmp_path, runner, {"paths": {"dev_hast": str(tmp_path)}, **config})
    state = observer.node_state("hasta", topology, [], {"carp vtnet0": "timed out"})
    assert state.unreadable == {
        "carp vtnet0": "timed out",
        "mounts": "mount -p: exit status 1: mount: first second",
    }


def test_hastctl_list_exit_1_without_any_resource_is_a_failed_read(tmp_path):
    # exit 1 reports per-resource errors inside the output; with no resource at all,
    # hastctl failed as a whole (e.g. no reply from hastd): nothing was read
    runner = FakeRunner()
    observer, _ = setup(tmp_path, runner)
    reset = "[ERROR] [hastctl] cannot receive reply from hastd: Connection reset by peer.\n"
    runner.reply(commands.hastctl_list("/etc/hast.conf"), "", exit_status=1, stderr=reset)
    with pytest.raises(CommandFailed):
        observer.hast()
    runner.reply(commands.hastctl_list("/etc/hast.conf"), HAST_LIST, exit_status=1)
    assert [r.name for r in observer.hast()]  # per-resource errors: still a reading
