"""hastctl shim against the simulated hastd: exact texts and exit codes (§1 of
freebsd-interfaces.md)."""

from __future__ import annotations

import re

import psutil

from carpswitch.lab.node import LabNode, LabResource
from carpswitch.model import HastRole, HastStatus
from carpswitch.parse.hastctl import parse_hastctl_list, parse_hastctl_status
from tests.node.conftest import wait_until

USAGE = (
    "usage: hastctl create [-d] [-c config] [-e extentsize] [-k keepdirty]\n"
    "\t\t[-m mediasize] name ...\n"
    "       hastctl role [-d] [-c config] <init | primary | secondary> all | name ...\n"
    "       hastctl list [-d] [-c config] [all | name ...]\n"
    "       hastctl status [-d] [-c config] [all | name ...]\n"
    "       hastctl dump [-d] [-c config] [all | name ...]\n"
)


def test_status_of_a_fresh_node_shows_every_resource_in_init(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank"), LabResource("data")])
    result = node.run("hastctl", "status")
    disks = node.paths.disks
    assert result.returncode == 0
    assert result.stdout == (
        "Name\tStatus\t Role\t\tComponents\n"
        f"tank\t-        init           {disks}/tank.img\t198.18.0.2\n"
        f"data\t-        init           {disks}/data.img\t198.18.0.2\n"
    )
    assert [r.role for r in parse_hastctl_status(result.stdout)] == [HastRole.INIT] * 2


def test_status_row_with_err1_is_an_unknown_resource(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "status", "tank", "foo")
    assert result.returncode == 1
    assert result.stdout.endswith("\nfoo\tERR1\n")
    parsed = parse_hastctl_status(result.stdout)
    assert parsed[1].name == "foo" and parsed[1].error == 1


def test_role_primary_is_silent_and_the_provider_appears_later(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "role", "primary", "tank")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert wait_until(lambda: lab_node.provider_exists("tank"))
    status = parse_hastctl_status(lab_node.run("hastctl", "status", "tank").stdout)[0]
    assert status.role == HastRole.PRIMARY
    assert status.status == HastStatus.DEGRADED  # no peer connected


def test_role_with_unknown_resource_warns_and_still_changes_the_others(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "role", "secondary", "foo", "tank")
    assert result.returncode == 1
    assert result.stderr == "[WARNING] [foo] Received error 1 from hastd.\n"
    assert lab_node.role("tank") == "secondary"


def test_role_with_debug_says_what_changed(lab_node: LabNode) -> None:
    changed = lab_node.run("hastctl", "role", "-d", "secondary", "tank")
    unchanged = lab_node.run("hastctl", "role", "-dd", "secondary", "tank")
    assert changed.stdout == "[DEBUG][1] [tank] Role changed from init to secondary.\n"
    assert unchanged.stdout == "[DEBUG][2] [tank] Role unchanged (secondary).\n"


def test_role_secondary_returns_after_the_provider_is_gone(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: lab_node.provider_exists("tank"))
    result = lab_node.run("hastctl", "role", "secondary", "tank")
    assert result.returncode == 0
    assert not lab_node.provider_exists("tank")  # no polling: gone when hastctl returns


def test_list_of_a_primary_is_byte_exact(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: lab_node.serves_io("tank"))  # past init_remote
    lab_node.set_dirty("tank", 134217728)
    pid = lab_node.worker_pid("tank")
    result = lab_node.run("hastctl", "list", "tank")
    assert result.returncode == 0
    assert result.stdout == (
        "tank:\n"
        "  role: primary\n"
        "  provname: tank\n"
        f"  localpath: {lab_node.paths.disks}/tank.img\n"
        "  extentsize: 2097152 (2.0MB)\n"
        "  keepdirty: 64\n"
        "  remoteaddr: 198.18.0.2\n"
        "  replication: memsync\n"
        "  status: degraded\n"
        f"  workerpid: {pid}\n"
        "  dirty: 134217728 (128MB)\n"
        "  statistics:\n"
        "    reads: 0\n"
        "    writes: 0\n"
        "    deletes: 0\n"
        "    flushes: 0\n"
        "    activemap updates: 0\n"
        "    local errors: read: 0, write: 0, delete: 0, flush: 0\n"
        # ggate_recv_thread holds one of the 256 requests while it waits for the kernel
        "    queues: local: 0, send: 0, recv: 0, done: 0, idle: 255\n"
    )
    parsed = parse_hastctl_list(result.stdout)[0]
    assert parsed.dirty == 134217728 and parsed.worker_pid == pid


def test_list_without_worker_prints_zeros_and_no_status(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "list")
    assert "  extentsize: 0 (0B)\n  keepdirty: 0\n" in result.stdout
    assert "status:" not in result.stdout and "workerpid:" not in result.stdout
    assert "  dirty: 0 (0B)\n" in result.stdout


def test_list_of_unknown_resource_prints_its_error(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "list", "foo")
    assert (result.returncode, result.stdout) == (1, "foo:\n  error: 1\n")


def test_usage_goes_to_stderr_with_exit_64(lab_node: LabNode) -> None:
    for args in ([], ["frobnicate"], ["role"], ["status", "-x"], ["role", "master", "tank"]):
        result = lab_node.run("hastctl", *args)
        assert (result.returncode, result.stdout, result.stderr) == (64, "", USAGE), args


def test_missing_config_exits_72(lab_node: LabNode) -> None:
    missing = lab_node.path / "etc" / "nope.conf"
    result = lab_node.run("hastctl", "status", "-c", str(missing))
    assert result.returncode == 72
    assert result.stderr == (
        f"[ERROR] Unable to open configuration file {missing}: No such file or directory.\n"
    )


def test_config_without_block_for_this_node_exits_78(lab_node: LabNode) -> None:
    conf = lab_node.path / "etc" / "other.conf"
    conf.write_text("resource tank {\n\ton elsewhere {\n\t\tlocal /x\n\t\tremote 1.2.3.4\n\t}\n}\n")
    result = lab_node.run("hastctl", "status", "-c", str(conf))
    assert result.returncode == 78
    assert result.stderr.startswith("[ERROR] No resource tank configuration for this node")


def test_syntax_error_in_config_exits_78(lab_node: LabNode) -> None:
    conf = lab_node.path / "etc" / "broken.conf"
    conf.write_text("resource tank {\n")
    result = lab_node.run("hastctl", "status", "-c", str(conf))
    assert result.returncode == 78
    assert result.stderr.startswith("[ERROR] Unable to parse configuration file at line ")


def test_hastd_not_running_exits_71_with_the_connect_error(make_lab_node) -> None:
    node = make_lab_node(start=False)
    result = node.run("hastctl", "status")
    assert result.returncode == 71
    assert result.stderr == (
        f"[ERROR] Unable to connect to hastd via uds://{node.paths.control_socket}: "
        "No such file or directory.\n"
    )


def test_hastd_killed_leaves_a_stale_socket_and_connection_is_refused(lab_node: LabNode) -> None:
    pid = lab_node.hastd_pid()
    psutil.Process(pid).kill()
    assert wait_until(lambda: lab_node.hastd_pid() is None)
    result = lab_node.run("hastctl", "status")
    assert result.returncode == 71
    assert result.stderr.endswith("hastctl: Connection refused.\n")


def test_dump_prints_metadata_and_unknown_resource_exits_65(lab_node: LabNode) -> None:
    result = lab_node.run("hastctl", "dump", "tank")
    assert result.returncode == 0
    assert re.fullmatch(
        r"resource: tank\n    datasize: 67104256 \(64MB\)\n    extentsize: 2097152 \(2.0MB\)\n"
        r"    keepdirty: 64\n    localoff: 4608\n    resuid: \d+\n    localcnt: 0\n"
        r"    remotecnt: 0\n    prevrole: init\n",
        result.stdout,
    )
    unknown = lab_node.run("hastctl", "dump", "foo")
    assert (unknown.returncode, unknown.stderr) == (65, "[ERROR] Unknown resource foo.\n")


def test_create_gives_the_resource_a_new_unique_id(lab_node: LabNode) -> None:
    before = lab_node.run("hastctl", "dump", "tank").stdout
    assert lab_node.run("hastctl", "create", "tank").returncode == 0
    after = lab_node.run("hastctl", "dump", "tank").stdout
    assert before != after and "resuid:" in after
    bad = lab_node.run("hastctl", "create", "-e", "lots", "tank")
    assert (bad.returncode, bad.stderr) == (64, "hastctl: Invalid extentsize\n")
