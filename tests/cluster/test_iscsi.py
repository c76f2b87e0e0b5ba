"""ctld as tgt in a node's network namespace, and the qemu-io initiator's ledger.

Each test builds its own namespaces (`csw` + a unique part): one per target node and one
for the client, joined by veth pairs in 198.18.0.0/15. Nodes are stopped and namespaces
deleted at teardown, also when the test fails; a tgtd that survives fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from carpswitch.engine.step import wait_until
from carpswitch.lab.cluster.ctl_conf import (
    CtlConfError,
    ctl_conf_path,
    ctl_conf_text,
    lun_serial,
    parse_ctl_conf,
    target_iqn,
)
from carpswitch.lab.cluster.initiator import (
    BLOCK_SIZE,
    Initiator,
    InitiatorError,
    LunAddress,
    block_bytes,
    describe_block,
    parse_dump,
    parse_serial,
    write_results,
)
from carpswitch.lab.cluster.tgt import TGT_RUN_DIR, Tgtadm, parse_targets
from carpswitch.lab.node import LabNode, LabResource, create_node
from carpswitch.system.runner import STUCK_GRACE

pytestmark = pytest.mark.cluster

_PROGRAMS = ("ip", "nsenter", "tgtd", "tgtadm", "qemu-io", "iscsi-inq", "stdbuf")
_QEMU_ISCSI = Path("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so")
_CLIENT_TIMEOUT = 3.0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Net:
    """Namespaces of one test: a client and target nodes, each target on its own veth pair."""

    tag: str
    client: str
    namespaces: list[str]

    def add_target(self, index: int) -> tuple[str, str]:
        """Namespace of target node `index` (1, 2, ...), joined to the client: (netns, address)."""
        netns = f"csw{self.tag}t{index}"
        _ip("netns", "add", netns)
        self.namespaces.append(netns)
        near, far = f"csw{self.tag}{index}a", f"csw{self.tag}{index}b"
        _ip("link", "add", near, "type", "veth", "peer", "name", far)
        _ip("link", "set", near, "netns", netns)
        _ip("link", "set", far, "netns", self.client)
        address = f"198.18.{index}.1"
        _ip("-n", netns, "addr", "add", f"{address}/24", "dev", near)
        _ip("-n", self.client, "addr", "add", f"198.18.{index}.254/24", "dev", far)
        for namespace, link in ((netns, near), (self.client, far), (netns, "lo")):
            _ip("-n", namespace, "link", "set", link, "up")
        return netns, address


@pytest.fixture
def net() -> Iterator[Net]:
    """A client namespace; targets are added with `net.add_target(i)`; all deleted after."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces and tgtd need root")
    missing = [p for p in _PROGRAMS if shutil.which(p) is None]
    if missing or not _QEMU_ISCSI.exists():
        pytest.skip(
            f"missing {missing or [str(_QEMU_ISCSI)]} "
            "(Debian tgt, qemu-utils, qemu-block-extra, libiscsi-bin)"
        )
    tag = uuid.uuid4().hex[:6]
    client = f"csw{tag}c"
    _ip("netns", "add", client)
    _ip("-n", client, "link", "set", "lo", "up")
    made = Net(tag, client, [client])
    try:
        yield made
    finally:
        for namespace in made.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)


@dataclass
class Target:
    """A lab node serving `tank` over iSCSI from its namespace, and a client for it."""

    node: LabNode
    address: str
    client: Initiator

    def service(self, directive: str) -> subprocess.CompletedProcess[str]:
        return self.node.run("service", "ctld", directive)

    def tgtd(self) -> tuple[int, int]:
        """(pid, control port) of the tgtd this node's ctld drives."""
        pid, port = (self.node.paths.var_run / "ctld.tgtd").read_text().split()
        return int(pid), int(port)


@pytest.fixture
def make_target(
    net: Net, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Target]]:
    """Factory: node `name` (index 1 or 2) in its namespace, tank primary, ctld started."""
    nodes: list[LabNode] = []
    root = tmp_path_factory.mktemp("csw")  # short: hast.conf's control socket must fit

    def make(
        name: str = "hasta", index: int = 1, start: bool = True, enabled: bool = True
    ) -> Target:
        netns, address = net.add_target(index)
        node = create_node(
            root / name,
            name=name,
            peer="hastb" if name == "hasta" else "hasta",
            address=address,
            netns=netns,
            services=["ctld"],
            disabled_services=[] if enabled else ["ctld"],
            resources=[LabResource("tank", "raw")],
        )
        nodes.append(node)
        assert node.run("hastctl", "role", "primary", "tank").returncode == 0
        iqn = target_iqn("tank")
        client = Initiator(LunAddress(address, iqn), netns=net.client, timeout=_CLIENT_TIMEOUT)
        target = Target(node, address, client)
        if start:
            started = target.service("start")
            assert (started.returncode, started.stdout) == (0, "Starting ctld.\n"), started
        return target

    yield make
    leftovers = []
    for node in nodes:
        for process in _tgtd_of(node):  # a tgtd stopped (SIGSTOP) by a test must die too
            process.send_signal(signal.SIGCONT)
        node.stop()
        leftovers += node.processes()
    assert not leftovers, f"processes survived teardown: {leftovers}"


def _tgtd_of(node: LabNode) -> list[psutil.Process]:
    return [p for p in node.processes() if "tgtd" in " ".join(p.cmdline())]


# --- through the address ---------------------------------------------------------------


def test_client_writes_and_reads_back_through_the_address(
    make_target: Callable[..., Target], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("carpswitch.lab.cluster.initiator._READ_CHUNK", 4)  # 3 reads of 9
    target = make_target()
    records = target.client.write(8) + target.client.write(1)
    assert [r.acknowledged for r in records] == [True] * 9
    assert records[3].words == f"wrote 512/512 bytes at offset {3 * BLOCK_SIZE}"
    assert records[3].exit_status == 0
    result = target.client.check()
    assert (result.ok, result.checked, result.lost) == (True, 9, ())
    disk = target.node.paths.disk("tank").read_bytes()[: 9 * BLOCK_SIZE]
    assert disk == b"".join(block_bytes(target.client.run, n) for n in range(9))
    pid = target.node.service_pid("ctld")
    assert target.service("status").stdout == f"ctld is running as pid {pid}.\n"


def test_both_nodes_serve_the_same_iqn_and_serial(make_target: Callable[..., Target]) -> None:
    first, second = make_target("hasta", 1), make_target("hastb", 2)
    confs = [parse_ctl_conf(ctl_conf_path(t.node.facts).read_text()) for t in (first, second)]
    assert [c.targets[0].iqn for c in confs] == [target_iqn("tank")] * 2
    serials = [first.client.serial(), second.client.serial()]
    assert serials == [lun_serial(first.node.facts, "tank")] * 2
    assert first.tgtd()[1] != second.tgtd()[1]  # two tgtd, two control ports


def test_stop_leaves_no_tgtd_and_no_target(make_target: Callable[..., Target]) -> None:
    target = make_target()
    assert target.client.write(2)[1].acknowledged
    ctld = target.node.service_pid("ctld")
    pid, port = target.tgtd()
    stopped = target.service("stop")
    assert (stopped.returncode, stopped.stdout) == (
        0,
        f"Stopping ctld.\nWaiting for PIDS: {ctld}.\n",
    )
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert _tgtd_of(target.node) == []
    assert not Tgtadm(port).answers()
    assert not (TGT_RUN_DIR / f"socket.{port}").exists()
    assert not (TGT_RUN_DIR / f"socket.{port}.lock").exists()
    assert target.service("status").stdout == "ctld is not running.\n"
    assert not target.client.probe(timeout=_CLIENT_TIMEOUT)
    assert target.client.wait_until_answers(bound=1.0) is None
    again = target.service("stop")
    assert again.returncode == 1
    assert (
        again.stderr == f"ctld not running? (check {target.node.paths.service_pidfile('ctld')}).\n"
    )


def test_rc_subr_directives_of_a_disabled_ctld(make_target: Callable[..., Target]) -> None:
    """ctld_enable not YES: start refuses (rc.subr), onestart/onerestart/onestop serve."""
    target = make_target(start=False, enabled=False)
    refused = target.service("start")
    assert refused.stdout == (
        "Cannot 'start' ctld. Set ctld_enable to YES in /etc/rc.conf or use 'onestart' "
        "instead of 'start'.\n"
    )
    assert _tgtd_of(target.node) == []
    assert target.service("onestart").stdout == "Starting ctld.\n"
    first, _ = target.tgtd()
    assert target.client.write(1)[0].acknowledged
    restarted = target.service("onerestart")
    assert restarted.returncode == 0
    assert restarted.stdout.endswith("Starting ctld.\n"), restarted.stdout
    assert target.tgtd()[0] != first  # a graceful stop ended the old tgtd
    assert [p.pid for p in _tgtd_of(target.node)] == [target.tgtd()[0]]
    assert target.client.check().checked == 1
    assert target.service("onestop").returncode == 0
    assert _tgtd_of(target.node) == []


def test_ctld_exits_when_tgtd_dies_and_starts_a_new_one(make_target: Callable[..., Target]) -> None:
    target = make_target()
    pid, _ = target.tgtd()
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: target.node.service_pid("ctld") is None, 10.0)
    assert (
        f"tgtd (pid {pid}) exited; exiting" in (target.node.paths.var_log / "ctld.log").read_text()
    )
    assert target.service("stop").returncode == 1  # rc.subr: not running
    assert target.service("start").returncode == 0
    assert target.tgtd()[0] != pid
    recovery = target.client.wait_until_answers(bound=10.0)
    assert recovery is not None and recovery >= 0
    assert target.client.write(1)[0].acknowledged


def test_sigkilled_ctld_leaves_the_lun_served_and_a_new_ctld_takes_it_over(
    make_target: Callable[..., Target],
) -> None:
    """ctld.8: SIGKILL leaves LUNs and sessions in place; the next ctld compares and keeps."""
    target = make_target()
    assert target.client.write(3)[2].acknowledged
    pid, port = target.tgtd()
    ctld = target.node.service_pid("ctld")
    assert ctld is not None
    os.kill(ctld, signal.SIGKILL)
    assert wait_until(lambda: target.node.service_pid("ctld") is None, 10.0)
    assert target.client.write(1)[0].acknowledged  # the "kernel" still serves
    assert target.service("start").returncode == 0
    assert target.tgtd() == (pid, port)
    log = (target.node.paths.var_log / "ctld.log").read_text()
    assert f"taking over tgtd (pid {pid}, control port {port}) of a previous ctld" in log
    assert target.client.check().checked == 4
    assert target.service("stop").returncode == 0
    assert _tgtd_of(target.node) == []


def test_reload_applies_what_changed_in_ctl_conf(make_target: Callable[..., Target]) -> None:
    target = make_target()
    conf = ctl_conf_path(target.node.facts)
    conf.write_text(conf.read_text().replace(lun_serial(target.node.facts, "tank"), "CSWRELOADED"))
    assert target.service("reload").returncode == 0

    def reloaded() -> bool:
        try:  # while tgt swaps the LUN, a login may find none (LOGICAL_UNIT_NOT_SUPPORTED)
            return target.client.serial() == "CSWRELOADED"
        except InitiatorError:
            return False

    assert wait_until(reloaded, 10.0)
    conf.write_text("target broken {")
    assert target.service("reload").returncode == 0
    log = target.node.paths.var_log / "ctld.log"
    assert wait_until(lambda: "keeping the configuration" in log.read_text(), 10.0)
    assert target.client.serial() == "CSWRELOADED"


def test_start_fails_when_a_lun_cannot_be_opened(make_target: Callable[..., Target]) -> None:
    target = make_target(start=False)
    assert target.node.run("hastctl", "role", "secondary", "tank").returncode == 0
    started = target.service("start")
    assert started.returncode == 1
    assert started.stderr.endswith(
        "ctld: failed to apply configuration; exiting\n"
        "/etc/rc.d/ctld: WARNING: failed to start ctld\n"
    ), started.stderr
    assert _tgtd_of(target.node) == []


# --- the ledger ------------------------------------------------------------------------


def test_ledger_names_a_lost_acknowledged_write(make_target: Callable[..., Target]) -> None:
    target = make_target()
    assert all(r.acknowledged for r in target.client.write(6))
    with target.node.paths.disk("tank").open("r+b") as disk:  # behind the target's back
        disk.seek(2 * BLOCK_SIZE)
        disk.write(bytes(BLOCK_SIZE))
        disk.seek(4 * BLOCK_SIZE)
        disk.write(block_bytes(target.client.run, 5))
    result = target.client.check()
    assert not result.ok
    assert result.lost == (
        "block 2 (offset 1024): acknowledged ('wrote 512/512 bytes at offset 1024') "
        "but holds zeros",
        "block 4 (offset 2048): acknowledged ('wrote 512/512 bytes at offset 2048') but holds "
        f"carpswitch-lab-block run={target.client.run} block=5",
    )


def test_a_hanging_target_fails_the_clients_calls_within_their_bound(
    make_target: Callable[..., Target],
) -> None:
    target = make_target()
    assert target.client.write(1)[0].acknowledged
    pid, _ = target.tgtd()
    os.kill(pid, signal.SIGSTOP)
    bound = _CLIENT_TIMEOUT + STUCK_GRACE + 2.0  # the runner's kill, its grace, slack
    started = time.monotonic()
    [record] = target.client.write(1)
    assert time.monotonic() - started < bound
    assert (record.acknowledged, record.exit_status) == (False, 1)  # qemu's iSCSI timeout
    assert record.words.startswith("exit status 1: qemu-io: can't open: iSCSI: ")
    assert record.words.endswith("command timed out"), record.words
    started = time.monotonic()
    assert not target.client.probe(timeout=1.0)
    assert time.monotonic() - started < 1.0 + STUCK_GRACE + 2.0
    with pytest.raises(InitiatorError):
        target.client.check()
    stopped = target.service("stop")  # ctld's stop is bounded too: it kills a stuck tgtd
    assert stopped.returncode == 0
    assert _tgtd_of(target.node) == []
    assert "refused to stop" in (target.node.paths.var_log / "ctld.log").read_text()


def test_an_unreachable_portal_fails_at_once(make_target: Callable[..., Target]) -> None:
    target = make_target()
    nobody = Initiator(
        LunAddress("198.18.1.77", target_iqn("tank")), netns=target.client.netns, timeout=2.0
    )
    assert not nobody.probe(timeout=2.0)
    [record] = nobody.write(1)
    assert not record.acknowledged
    wrong = Initiator(LunAddress(target.address, target_iqn("nope")), netns=target.client.netns)
    [record] = wrong.write(1)
    assert (record.acknowledged, record.exit_status) == (False, 1)
    assert "Target not found" in record.words


# --- parsers, against the exact text of tgt 1.0.85, qemu-io 7.2, iscsi-inq -------------

_TGTADM_SHOW = """\
Target 1: iqn.2026-12.org.carpswitch:tank
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Backing store type: null
            Backing store path: None
            Backing store flags: {}
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: CSW0123456789AB
            Size: 67 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /tmp/cswexp.img
            Backing store flags: {}
    Account information:
    ACL information:
        ALL
""".format("", "")


def test_parse_targets_keeps_disk_luns_with_path_and_serial() -> None:
    [target] = parse_targets(_TGTADM_SHOW)
    assert (target.tid, target.iqn, list(target.luns)) == (
        1,
        "iqn.2026-12.org.carpswitch:tank",
        [1],
    )
    assert (target.luns[1].path, target.luns[1].serial) == ("/tmp/cswexp.img", "CSW0123456789AB")


def test_ctl_conf_round_trip_and_refusals(tmp_path: Path) -> None:
    node = create_node(
        tmp_path / "hasta",
        services=["ctld"],
        resources=[LabResource("tank"), LabResource("u", "ufs")],
        start=False,
    )
    conf = parse_ctl_conf(ctl_conf_text(node.facts))
    assert conf.listen == "0.0.0.0:3260"
    [target] = conf.targets  # the UFS resource is no LUN
    assert (target.iqn, target.allow_all) == (target_iqn("tank"), True)
    assert [(lun.number, lun.path, lun.serial) for lun in target.luns] == [
        (1, str(node.paths.provider("tank")), lun_serial(node.facts, "tank"))
    ]
    zero = parse_ctl_conf("target iqn.x:a {\n\tlun 0 {\n\t\tpath /dev/zvol/tank/vol0\n\t}\n}\n")
    assert [lun.number for lun in zero.targets[0].luns] == [1]  # ctld's LUN 0 is tgt's 1
    with pytest.raises(CtlConfError, match="unsupported 'chap user secret'"):
        parse_ctl_conf("target iqn.x:a {\n\tchap user secret\n}\n")
    denied = parse_ctl_conf("# ctld's default auth-group denies all\ntarget iqn.x:a {\n}\n")
    assert not denied.targets[0].allow_all


def test_qemu_io_words_and_dump() -> None:
    out = (
        "wrote 512/512 bytes at offset 0\n"
        "512 bytes, 1 ops; 00.00 sec (2.052 MiB/sec and 525.4090 ops/sec)\n"
        "write failed: Input/output error\n"
    )
    assert write_results(out, 3) == [
        "wrote 512/512 bytes at offset 0",
        "write failed: Input/output error",
        None,
    ]
    dump = (
        "00000000:  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  ................\n"
        "00000010:  30 31 32 33                                      0123\n"
        "read 20/20 bytes at offset 0\n"
        "20 bytes, 1 ops; 00.00 sec (20.490 KiB/sec and 327.8388 ops/sec)\n"
    )
    assert parse_dump(dump, 0, 20) == bytes(range(16)) + b"0123"
    with pytest.raises(InitiatorError):
        parse_dump(dump, 0, 32)
    assert (
        parse_serial("Unit Serial Number:[                     CSW0123456789AB]\n")
        == "CSW0123456789AB"
    )
    block = bytearray(block_bytes("r1", 7))
    assert describe_block(bytes(block)) == "carpswitch-lab-block run=r1 block=7"
    block[100] ^= 1
    assert describe_block(bytes(block)) == "a carpswitch block with a wrong checksum"


def _landed(disk: Path, run: str, number: int) -> bool:
    """Block `number` of `run` is in the target's backing file."""
    with disk.open("rb") as image:
        image.seek(number * BLOCK_SIZE)
        return image.read(BLOCK_SIZE) == block_bytes(run, number)


def test_stop_under_load_drops_the_session_and_keeps_every_acknowledged_write(
    make_target: Callable[..., Target],
) -> None:
    target = make_target()
    loader = Initiator(target.client.target, netns=target.client.netns, timeout=4.0)
    disk = target.node.paths.disk("tank")
    writer = threading.Thread(target=loader.write, args=(2000,))
    writer.start()
    try:
        assert wait_until(lambda: _landed(disk, loader.run, 20), 10.0)
        stopped = target.service("stop")
    finally:
        writer.join(timeout=30)
    assert stopped.returncode == 0
    assert _tgtd_of(target.node) == []
    log = (target.node.paths.var_log / "ctld.log").read_text()
    assert "refused to stop" not in log  # the busy LUN was waited for, not killed
    acknowledged = [r.number for r in loader.ledger if r.acknowledged]
    assert 20 < len(acknowledged) < 2000
    assert acknowledged == list(range(len(acknowledged)))  # in order, then none
    assert loader.ledger[-1].words == "no answer within 4 s (killed)"  # libiscsi reconnects
    assert target.service("start").returncode == 0
    result = loader.check()
    assert (result.ok, result.checked) == (True, len(acknowledged)), result.lost


def test_a_target_back_within_the_bound_takes_the_session_over(
    make_target: Callable[..., Target],
) -> None:
    """As after a failover: a new tgtd behind the same address; libiscsi logs in again and
    reissues the write in flight, so the run goes on and every write is acknowledged."""
    target = make_target()
    loader = Initiator(target.client.target, netns=target.client.netns, timeout=30.0)
    disk = target.node.paths.disk("tank")
    writer = threading.Thread(target=loader.write, args=(2000,))
    writer.start()
    try:
        assert wait_until(lambda: _landed(disk, loader.run, 20), 10.0)
        first, _ = target.tgtd()
        assert target.service("restart").returncode == 0
        assert target.tgtd()[0] != first
    finally:
        writer.join(timeout=40)
    assert [r.number for r in loader.ledger if not r.acknowledged] == []
    result = loader.check()
    assert (result.ok, result.checked) == (True, 2000), result.lost
