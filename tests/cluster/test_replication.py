"""The replicating simulated hastd: two lab nodes in two network namespaces, one veth pair.

hasta (198.18.0.1) and hastb (198.18.0.2) each run their own hastd, which enters its
node's namespace and replicates to the other over TCP 8457, as HAST does
(freebsd-interfaces.md §2). Writes go through /dev/hast/tank on the primary, a FUSE file
served by the primary worker.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from carpswitch.cli import main as carpswitch_main
from carpswitch.lab.cli import main as lab_main
from carpswitch.lab.hastd.provider import is_mounted, mount_path
from carpswitch.lab.node import LabNode, create_node
from tests.node.conftest import wait_until as wait_for

pytestmark = pytest.mark.cluster

MIB = 1024 * 1024
#: hastd's guard thread retries every 10 s (HAST_KEEPALIVE); a reconnect comes within it.
RECONNECT = 25.0


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, FUSE mounts)"
    for binary in ("ip", "fusermount3"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    try:
        importlib.import_module("mfusepy")  # loads libfuse
    except (ImportError, OSError) as exc:
        return f"mfusepy is not usable: {exc}"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Pair:
    """Two replicating nodes joined by a veth pair."""

    a: LabNode
    b: LabNode


@pytest.fixture
def make_pair(tmp_path: Path) -> Iterator[Callable[..., Pair]]:
    """Factory: two started nodes (all roles init) in namespaces of their own."""
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    unique = uuid.uuid4().hex[:8]
    namespaces = [f"csw-{unique}-a", f"csw-{unique}-b"]
    nodes: list[LabNode] = []

    def make(hast_timeout: int = 3) -> Pair:
        for namespace in namespaces:
            _ip("netns", "add", namespace)
        _ip(
            "link", "add", "name", "hv0", "netns", namespaces[0],
            "type", "veth", "peer", "name", "hv1", "netns", namespaces[1],
        )  # fmt: skip
        for namespace, device, address in zip(
            namespaces, ("hv0", "hv1"), ("198.18.0.1", "198.18.0.2"), strict=True
        ):
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            _ip("-n", namespace, "link", "set", device, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        for name, peer, address, peer_address, namespace in (
            ("hasta", "hastb", "198.18.0.1", "198.18.0.2", namespaces[0]),
            ("hastb", "hasta", "198.18.0.2", "198.18.0.1", namespaces[1]),
        ):
            nodes.append(
                create_node(
                    tmp_path / name,
                    name=name,
                    peer=peer,
                    address=address,
                    peer_address=peer_address,
                    netns=namespace,
                    replication=True,
                    hast_timeout=hast_timeout,
                )
            )
        return Pair(nodes[0], nodes[1])

    yield make
    errors: list[object] = []
    for node in nodes:
        for process in node.processes():  # a SIGSTOPped worker would not see its SIGTERM
            os.kill(process.pid, signal.SIGCONT)
        try:
            node.stop()
        except Exception as exc:  # keep cleaning up
            errors.append(exc)
        errors += node.processes()
    for namespace in namespaces:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)
    mounts = [mount_path(node.paths.provider("tank")) for node in nodes]
    assert not [m for m in mounts if is_mounted(m)], "a FUSE provider survived teardown"
    assert not errors, f"teardown: {errors}"


def connected_pair(make_pair: Callable[..., Pair], hast_timeout: int = 3) -> Pair:
    """hastb secondary, hasta primary, connected (status complete on both)."""
    pair = make_pair(hast_timeout)
    assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert pair.a.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_for(lambda: pair.a.status("tank").status == "complete", 10)
    assert wait_for(lambda: pair.b.status("tank").status == "complete", 10)
    return pair


def write_provider(node: LabNode, data: bytes, offset: int) -> None:
    fd = os.open(node.paths.provider("tank"), os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def component(node: LabNode, offset: int = 0, size: int | None = None) -> bytes:
    with node.paths.disk("tank").open("rb") as disk:
        disk.seek(offset)
        return disk.read(-1 if size is None else size)


def hastd_log(node: LabNode) -> str:
    return (node.paths.var_log / "hastd.log").read_text()


def dirty_line(node: LabNode) -> str:
    return next(
        line.strip()
        for line in node.run("hastctl", "list", "tank").stdout.splitlines()
        if line.strip().startswith("dirty:")
    )


def test_a_write_through_the_primary_lands_in_the_secondarys_component(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    data = os.urandom(64 * 1024)
    write_provider(pair.a, data, 5 * MIB + 512)
    # memsync: acknowledged once hastb has received it; its own write follows at once
    assert wait_for(lambda: component(pair.b, 5 * MIB + 512, len(data)) == data, 5)
    assert component(pair.a, 5 * MIB + 512, len(data)) == data
    status = pair.a.run("hastctl", "status", "tank").stdout
    assert status.splitlines()[1].split() == [
        "tank", "complete", "primary", str(pair.a.paths.disk("tank")), "198.18.0.2",
    ]  # fmt: skip
    assert "secondary" in pair.b.run("hastctl", "status", "tank").stdout
    assert dirty_line(pair.a) == "dirty: 0 (0B)"
    assert "Connected to 198.18.0.2." in hastd_log(pair.a)


def test_a_dead_secondary_leaves_writes_local_and_dirty_until_a_restart_resyncs(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    hastd_b = pair.b.hastd_pid()
    assert hastd_b is not None
    os.kill(hastd_b, signal.SIGKILL)  # its worker follows (PR_SET_PDEATHSIG)
    assert wait_for(lambda: pair.a.status("tank").status == "degraded", 10)
    data = os.urandom(3 * MIB)
    write_provider(pair.a, data, 1 * MIB)  # extents 0 and 1 (2 MiB each)
    assert component(pair.a, 1 * MIB, len(data)) == data
    assert component(pair.b, 1 * MIB, len(data)) != data
    assert dirty_line(pair.a) == "dirty: 4194304 (4.0MB)"
    assert pair.a.run("hastctl", "status", "tank").stdout.splitlines()[1].split()[1] == "degraded"

    pair.b.start()  # hastd comes back in init; the peer reconnects once it is secondary
    assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert wait_for(lambda: dirty_line(pair.a) == "dirty: 0 (0B)", RECONNECT)
    assert pair.a.status("tank").status == "complete"
    assert component(pair.b) == component(pair.a)
    assert wait_for(lambda: "Synchronization complete. 4.0MB synchronized" in hastd_log(pair.a), 5)
    log = hastd_log(pair.a)
    assert "Disconnected from 198.18.0.2." in log
    assert "Synchronization started. 4.0MB to go." in log


def test_a_rebooted_primary_still_knows_its_dirty_extents(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    pair.b.stop()
    assert wait_for(lambda: pair.a.status("tank").status == "degraded", 10)
    data = os.urandom(512)
    write_provider(pair.a, data, 9 * MIB)  # extent 4
    pair.a.reboot()  # the activemap is on disk: it survives, the worker does not
    assert pair.a.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_for(lambda: pair.a.serves_io("tank"), 10)
    assert dirty_line(pair.a) == "dirty: 2097152 (2.0MB)"
    pair.b.start()
    assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert wait_for(lambda: dirty_line(pair.a) == "dirty: 0 (0B)", RECONNECT)
    assert component(pair.b, 9 * MIB, 512) == data


def test_a_cut_link_degrades_the_primary_and_a_mended_one_resynchronises(
    make_pair: Callable[..., Pair],
) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed")
    pair = connected_pair(make_pair)
    namespace = pair.b.facts.netns
    assert namespace is not None
    rules = (
        "table inet cswcut {\n"
        " chain in { type filter hook input priority 0; policy drop; }\n"
        " chain out { type filter hook output priority 0; policy drop; }\n"
        "}\n"
    )
    subprocess.run(
        ["ip", "netns", "exec", namespace, "nft", "-f", "-"],
        input=rules, text=True, check=True, timeout=10,
    )  # fmt: skip
    data = os.urandom(4096)
    writer = threading.Thread(target=write_provider, args=(pair.a, data, 11 * MIB))
    writer.start()
    writer.join(15)  # the reply is overdue after `timeout` (3 s): the link is dropped
    assert not writer.is_alive()
    assert pair.a.status("tank").status == "degraded"
    assert dirty_line(pair.a) == "dirty: 2097152 (2.0MB)"
    subprocess.run(
        ["ip", "netns", "exec", namespace, "nft", "delete", "table", "inet", "cswcut"],
        check=True, timeout=10,
    )  # fmt: skip
    assert wait_for(lambda: dirty_line(pair.a) == "dirty: 0 (0B)", RECONNECT + 10)
    assert component(pair.b, 11 * MIB, 4096) == data
    assert pair.a.status("tank").status == "complete"


def test_an_out_of_date_primary_synchronises_from_the_secondary(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    pair.b.stop()
    assert wait_for(lambda: pair.a.status("tank").status == "degraded", 10)
    data = os.urandom(4096)
    write_provider(pair.a, data, 13 * MIB)  # only hasta has it
    pair.a.stop()
    pair.b.start()
    assert pair.b.run("hastctl", "role", "primary", "tank").returncode == 0  # stale, unwritten
    assert wait_for(lambda: pair.b.serves_io("tank"), 10)
    pair.a.start()
    assert pair.a.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert wait_for(lambda: pair.b.status("tank").status == "complete", RECONNECT)
    assert wait_for(lambda: dirty_line(pair.b) == "dirty: 0 (0B)", 10)
    assert component(pair.b, 13 * MIB, 4096) == data  # copied from the secondary
    fd = os.open(pair.b.paths.provider("tank"), os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 13 * MIB) == data
    finally:
        os.close(fd)
    assert component(pair.a) == component(pair.b)


def test_a_resync_under_continuous_writes_copies_what_the_degraded_primary_wrote(
    make_pair: Callable[..., Pair],
) -> None:
    """The sync thread waits for the writes in flight on an extent (primary.c rangelocks)
    instead of passing it by: clients that never stop writing to an extent must not leave
    the degraded time's data there on one node only while the sync says complete."""
    pair = connected_pair(make_pair)
    pair.b.stop()
    assert wait_for(lambda: pair.a.status("tank").status == "degraded", 10)
    for extent in range(8):  # 16 MiB to copy before the sync gets to the clients' extent
        write_provider(pair.a, b"d" * 512, extent * 2 * MIB)
    busy = 16 * MIB  # extent 8
    alone = os.urandom(64 * 1024)
    write_provider(pair.a, alone, busy + 256 * 1024)  # only hasta has it
    stop = threading.Event()
    written: list[int] = []

    def keep_writing(first: int) -> None:  # a client writing 32 KiB after 32 KiB
        fd = os.open(pair.a.paths.provider("tank"), os.O_WRONLY)
        try:
            while not stop.is_set():
                offset = first + len(written) % 2 * 32 * 1024
                os.pwrite(fd, os.urandom(32 * 1024), offset)
                written.append(offset)
        finally:
            os.close(fd)

    # Clients side by side: when the sync gets to extent 8 a write is in flight there.
    firsts = [busy + k * 64 * 1024 for k in range(4)]
    writers = [threading.Thread(target=keep_writing, args=(first,)) for first in firsts]
    for writer in writers:
        writer.start()
    try:
        pair.b.start()
        assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
        assert wait_for(lambda: "Synchronization complete." in hastd_log(pair.a), RECONNECT)
        assert dirty_line(pair.a) == "dirty: 0 (0B)"
    finally:
        stop.set()
        for writer in writers:
            writer.join(10)
    assert not any(writer.is_alive() for writer in writers)
    assert written, "the clients wrote nothing during the resynchronisation"
    log = hastd_log(pair.a)
    assert "Synchronization started. 18MB to go." in log
    assert "Synchronization complete. 18MB synchronized" in log  # none passed by
    assert component(pair.b, busy + 256 * 1024, len(alone)) == alone
    assert component(pair.b, 14 * MIB, 512) == b"d" * 512
    clients = 256 * 1024
    assert wait_for(lambda: component(pair.b, busy, clients) == component(pair.a, busy, clients), 5)


def test_two_primaries_refuse_each_other_and_overwrite_nothing(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    write_provider(pair.a, b"A" * 4096, 0)
    assert pair.b.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_for(lambda: pair.b.provider_exists("tank") and pair.b.serves_io("tank"), 15)
    write_provider(pair.a, b"a" * 4096, 8 * MIB)  # both write while apart
    write_provider(pair.b, b"b" * 4096, 16 * MIB)
    log_b = hastd_log(pair.b)
    assert "(primary) Waiting for remote node to become secondary for 3s." in log_b
    assert "Remote node acts as primary for the resource and not as secondary." in log_b
    assert "Remote node is still primary, starting anyway." in log_b
    assert (
        "[tank] (primary) We act as primary for the resource and not as secondary as "
        "requested by tcp://198.18.0.2:" in hastd_log(pair.a)
    )
    assert pair.a.status("tank").status == "degraded"
    assert pair.b.status("tank").status == "degraded"

    # hastb gives in; when hasta's guard thread reconnects, the counters say both changed data.
    assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert wait_for(lambda: "Split-brain detected, exiting." in hastd_log(pair.b), RECONNECT)
    assert wait_for(lambda: "[tank] (primary) Split-brain condition!" in hastd_log(pair.a), 5)
    assert wait_for(
        lambda: "(secondary) Worker process exited ungracefully" in hastd_log(pair.b), 5
    )
    assert component(pair.b, 16 * MIB, 4096) == b"b" * 4096  # nothing was overwritten
    assert component(pair.b, 8 * MIB, 4096) == bytes(4096)
    assert component(pair.a, 16 * MIB, 4096) == bytes(4096)
    assert pair.a.status("tank").status == "degraded"
    assert pair.b.status("tank").status is None  # no worker on the refusing secondary


def test_a_memsync_write_returns_only_once_the_secondary_has_it(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair, hast_timeout=20)
    assert "replication: memsync" in pair.a.run("hastctl", "list", "tank").stdout
    worker = pair.b.worker_pid("tank")
    assert worker is not None
    data = b"m" * 4096
    os.kill(worker, signal.SIGSTOP)
    writer = threading.Thread(target=write_provider, args=(pair.a, data, 3 * MIB))
    try:
        writer.start()
        writer.join(1.0)
        assert writer.is_alive(), "the write returned while the secondary could not take it"
        assert component(pair.b, 3 * MIB, 4096) != data
    finally:
        os.kill(worker, signal.SIGCONT)
    writer.join(10)
    assert not writer.is_alive()
    assert wait_for(lambda: component(pair.b, 3 * MIB, 4096) == data, 5)
    assert pair.a.status("tank").status == "complete"


def test_sigkill_of_the_primary_worker_leaves_no_fuse_mount(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    provider = pair.a.paths.provider("tank")
    behind = mount_path(provider)
    worker = pair.a.worker_pid("tank")
    assert worker is not None and is_mounted(behind)
    os.kill(worker, signal.SIGKILL)
    # hastd detaches what the dead worker left, then restarts it (1 s later) with a new mount.
    assert wait_for(lambda: pair.a.worker_pid("tank") not in (None, worker), 10)
    assert wait_for(lambda: pair.a.status("tank").status == "complete", RECONNECT)
    assert _mounts_on(behind) == 1
    write_provider(pair.a, b"k" * 512, 0)
    assert wait_for(lambda: component(pair.b, 0, 512) == b"k" * 512, 5)
    assert "Detaching hast/tank left by worker" in hastd_log(pair.a)

    assert pair.a.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert not is_mounted(behind)
    assert not provider.exists()  # only a primary has /dev/hast/NAME
    assert not behind.exists()
    # hastb's worker lived only while a primary was connected
    assert wait_for(lambda: pair.b.worker_pid("tank") is None, 5)
    assert pair.b.status("tank").status is None


def test_a_new_primarys_io_waits_until_the_old_primary_is_secondary(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair(hast_timeout=20)
    assert pair.b.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_for(lambda: pair.b.serves_io("tank"), 10)  # hasta is in init: no wait
    assert pair.a.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_for(lambda: pair.a.provider_exists("tank"), 10)
    got: list[bytes] = []

    def read() -> None:
        fd = os.open(pair.a.paths.provider("tank"), os.O_RDONLY)
        try:
            got.append(os.pread(fd, 512, 0))
        finally:
            os.close(fd)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(1.0)
    assert reader.is_alive(), "I/O was served before init_remote ended"
    waiting = "Waiting for remote node to become secondary for 20s."
    assert wait_for(lambda: waiting in hastd_log(pair.a), 5)
    assert pair.b.run("hastctl", "role", "secondary", "tank").returncode == 0
    reader.join(10)  # the next retry (1 s) finds hastb secondary
    assert got == [bytes(512)]
    assert pair.a.status("tank").status == "complete"
    assert "Remote node is still primary" not in hastd_log(pair.a)


def test_roles_flapping_between_the_nodes_leave_one_provider_and_a_connected_pair(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    for _ in range(10):
        for node, role in (
            (pair.a, "secondary"),
            (pair.b, "primary"),
            (pair.b, "secondary"),
            (pair.a, "primary"),
        ):
            assert node.run("hastctl", "role", role, "tank").returncode == 0
    assert wait_for(lambda: pair.a.status("tank").status == "complete", RECONNECT)
    data = os.urandom(4096)
    write_provider(pair.a, data, 0)
    assert wait_for(lambda: component(pair.b, 0, 4096) == data, 5)
    assert is_mounted(mount_path(pair.a.paths.provider("tank")))
    assert not is_mounted(mount_path(pair.b.paths.provider("tank")))
    assert not pair.b.provider_exists("tank")
    assert "Split-brain" not in hastd_log(pair.a) + hastd_log(pair.b)


def test_lab_stop_detaches_a_provider_whose_hastd_and_worker_were_killed(
    make_pair: Callable[..., Pair],
) -> None:
    pair = connected_pair(make_pair)
    provider = pair.a.paths.provider("tank")
    hastd, worker = pair.a.hastd_pid(), pair.a.worker_pid("tank")
    assert hastd is not None and worker is not None
    os.kill(hastd, signal.SIGSTOP)  # it must not reap (and detach) before it dies
    os.kill(worker, signal.SIGKILL)
    os.kill(hastd, signal.SIGKILL)
    assert wait_for(lambda: not pair.a.processes(), 10)
    assert is_mounted(mount_path(provider))  # the dead worker's mount: nobody answers it
    pair.a.stop()
    assert not is_mounted(mount_path(provider))
    assert not provider.exists()
    assert not mount_path(provider).exists()


def _carpswitch(node: LabNode, verb: str) -> int:
    try:
        return carpswitch_main(["-c", str(node.config_path), verb])
    except SystemExit as exc:
        return int(exc.code or 0)


def test_the_unchanged_controller_fails_over_a_replicated_resource(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair()
    assert _carpswitch(pair.b, "demote") == 0  # boot on a backup: init -> secondary
    assert _carpswitch(pair.a, "demote") == 0
    pair.a.set_carp("MASTER")
    assert _carpswitch(pair.a, "promote") == 0
    assert wait_for(lambda: pair.a.status("tank").status == "complete", 10)
    first = os.urandom(8192)
    write_provider(pair.a, first, 2 * MIB)
    pair.a.set_carp("BACKUP")
    assert _carpswitch(pair.a, "demote") == 0
    assert not pair.a.provider_exists("tank")
    pair.b.set_carp("MASTER")
    assert _carpswitch(pair.b, "promote") == 0  # waits for hasta's session to end
    assert wait_for(lambda: pair.b.status("tank").status == "complete", RECONNECT)
    second = os.urandom(8192)
    write_provider(pair.b, second, 4 * MIB)
    assert wait_for(lambda: component(pair.a, 4 * MIB, 8192) == second, 5)
    fd = os.open(pair.b.paths.provider("tank"), os.O_RDONLY)
    try:
        assert os.pread(fd, 8192, 2 * MIB) == first  # what hasta acknowledged is on hastb
    finally:
        os.close(fd)


def test_lab_peer_refuses_on_a_replicating_node(
    make_pair: Callable[..., Pair], capsys: pytest.CaptureFixture[str]
) -> None:
    pair = make_pair()
    assert lab_main(["peer", str(pair.a.path), "connect", "tank"]) != 0
    error = capsys.readouterr().err
    assert "replicates to a real peer hastd" in error
    assert len(error.strip().splitlines()) == 1
    assert pair.a.worker_pid("tank") is None


def _mounts_on(path: Path) -> int:
    with open("/proc/self/mountinfo") as mountinfo:
        return sum(1 for line in mountinfo if line.split(" ")[4] == str(path))
