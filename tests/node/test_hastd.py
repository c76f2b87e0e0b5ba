"""The simulated hastd: workers, titles, providers, restarts, peers, pid file (§1.3, §2)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable

import psutil
import pytest

from carpswitch.lab.node import LabError, LabNode, LabResource
from tests.node.conftest import wait_until


def _worker(node: LabNode, resource: str) -> psutil.Process:
    pid = node.worker_pid(resource)
    assert pid is not None
    return psutil.Process(pid)


def test_all_resources_start_in_init_without_workers(lab_node: LabNode) -> None:
    assert lab_node.role("tank") == "init"
    assert lab_node.worker_pid("tank") is None
    assert [p.pid for p in lab_node.processes()] == [lab_node.hastd_pid()]


def test_primary_worker_has_hastds_process_title(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    worker = _worker(lab_node, "tank")
    # Linux pads the rewritten argv area with NULs; psutil shows them as empty strings.
    assert worker.cmdline()[0] == "hastd: tank (primary)"
    assert [part for part in worker.cmdline() if part] == ["hastd: tank (primary)"]
    assert worker.name() == "hastd: tank (primary)"
    assert worker.ppid() == lab_node.hastd_pid()
    found = subprocess.run(
        ["pgrep", "-f", r"hastd: tank \(primary\)"], capture_output=True, text=True, check=False
    )
    assert str(worker.pid) in found.stdout.split()


def test_role_secondary_removes_the_provider_even_when_mounted(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank", "ufs")])
    node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: node.provider_exists("tank"))
    device = str(node.paths.provider("tank"))
    assert node.run("mount", device, str(node.paths.mnt / "tank")).returncode == 0
    assert node.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert not node.provider_exists("tank")
    assert [m.device for m in node.mounts()] == [device]  # still in the mount table
    assert node.fs_state("tank") == "dirty"  # lost its device while mounted


def test_secondary_role_has_no_worker_until_the_peer_connects(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "secondary", "tank")
    assert lab_node.worker_pid("tank") is None
    lab_node.connect_peer("tank")
    worker = _worker(lab_node, "tank")
    assert worker.cmdline()[0] == "hastd: tank (secondary)"
    assert lab_node.status("tank").status == "complete"
    assert not lab_node.provider_exists("tank")
    lab_node.disconnect_peer("tank")
    assert lab_node.worker_pid("tank") is None
    assert not worker.is_running()


def test_peer_connected_for_some_seconds_leaves_by_itself(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "secondary", "tank")
    lab_node.connect_peer("tank", seconds=0.3)
    assert lab_node.worker_pid("tank") is not None
    assert wait_until(lambda: lab_node.worker_pid("tank") is None, timeout=2.0)


def test_primary_with_connected_peer_is_complete(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    assert lab_node.status("tank").status == "degraded"
    lab_node.connect_peer("tank")
    assert lab_node.status("tank").status == "complete"


def test_primary_with_remote_none_stays_degraded(make_lab_node) -> None:
    node = make_lab_node(start=False)
    conf = node.paths.hast_conf
    conf.write_text(conf.read_text().replace("remote 198.18.0.2", "remote none"))
    node.start()
    node.run("hastctl", "role", "primary", "tank")
    node.connect_peer("tank")
    assert node.status("tank").status == "degraded"
    assert node.status("tank").remoteaddr == "none"


def test_promotion_kills_the_secondary_worker_first(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "secondary", "tank")
    lab_node.connect_peer("tank")
    secondary = _worker(lab_node, "tank")
    lab_node.run("hastctl", "role", "primary", "tank")
    assert not secondary.is_running() or secondary.status() == psutil.STATUS_ZOMBIE
    assert _worker(lab_node, "tank").cmdline()[0] == "hastd: tank (primary)"


def test_primary_worker_killed_by_a_signal_is_restarted(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    first = _worker(lab_node, "tank")
    assert wait_until(lambda: lab_node.provider_exists("tank"))
    first.kill()
    assert wait_until(lambda: lab_node.worker_pid("tank") not in (None, first.pid), timeout=3.0)
    assert lab_node.role("tank") == "primary"
    assert wait_until(lambda: lab_node.provider_exists("tank"))


def test_secondary_worker_killed_is_not_restarted(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "secondary", "tank")
    lab_node.connect_peer("tank")
    _worker(lab_node, "tank").kill()
    assert wait_until(lambda: lab_node.worker_pid("tank") is None)
    assert lab_node.role("tank") == "secondary"


def test_second_hastd_is_refused_with_exit_75(lab_node: LabNode) -> None:
    result = lab_node.run("hastd")
    assert result.returncode == 75
    assert result.stderr == (
        f"[ERROR] Another hastd is already running, pidfile: {lab_node.paths.hastd_pidfile}, "
        f"pid: {lab_node.hastd_pid()}.\n"
    )


def test_hastd_daemonises_with_its_output_closed(lab_node: LabNode) -> None:
    daemon = psutil.Process(lab_node.hastd_pid())
    assert daemon.ppid() != os.getpid()
    assert os.getsid(daemon.pid) != os.getsid(os.getpid())  # setsid: a session of its own
    for fd in (0, 1, 2):  # a caller capturing our output sees EOF at once
        assert os.readlink(f"/proc/{daemon.pid}/fd/{fd}") == "/dev/null"


def test_sigterm_to_hastd_stops_workers_and_removes_provider(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    worker = _worker(lab_node, "tank")
    assert wait_until(lambda: lab_node.provider_exists("tank"))
    pid = lab_node.hastd_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: not lab_node.processes())
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert not lab_node.provider_exists("tank")
    assert not lab_node.paths.hastd_pidfile.exists()
    assert not lab_node.paths.control_socket.exists()


def test_workers_die_when_hastd_is_killed(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    worker = _worker(lab_node, "tank")
    psutil.Process(lab_node.hastd_pid()).kill()
    assert wait_until(lambda: not worker.is_running() or worker.status() == "zombie")


def test_stop_leaves_no_process_even_after_sigkill(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank"), LabResource("data")], services=["nfsd"])
    node.run("hastctl", "role", "primary", "tank", "data")
    node.run("service", "nfsd", "start")
    assert len(node.processes()) == 4
    psutil.Process(node.hastd_pid()).kill()
    node.stop()
    assert node.processes() == []
    assert list(node.paths.dev_hast.iterdir()) == []


def test_service_hastd_stop_sets_roles_to_init_first(lab_node: LabNode) -> None:
    lab_node.run("hastctl", "role", "primary", "tank")
    result = lab_node.run("service", "hastd", "stop")
    assert result.returncode == 0
    assert result.stdout.startswith("Stopping hastd.\n")
    assert lab_node.hastd_pid() is None
    again = lab_node.run("service", "hastd", "onestart")
    assert (again.returncode, again.stdout) == (0, "Starting hastd.\n")
    assert lab_node.role("tank") == "init"


def test_a_replicating_hastd_without_its_namespace_does_not_start(
    make_lab_node: Callable[..., LabNode],
) -> None:
    # hastd enters facts.netns itself (setns), however it is started (LabNode.start also
    # wraps it in nsenter); here it is started plainly, as `service hastd onestart` would.
    namespace = f"csw-absent-{os.getpid()}"
    node = make_lab_node(netns=namespace, replication=True, start=False)
    result = node.run("hastd")
    assert result.returncode == 71
    assert result.stderr == (
        f"[ERROR] Unable to enter network namespace {namespace}: No such file or directory.\n"
    )
    assert node.hastd_pid() is None


def test_a_replicating_hastd_that_cannot_bind_its_listen_address_does_not_start(
    make_lab_node: Callable[..., LabNode],
) -> None:
    # 198.18.0.1 is nobody's address outside the lab's namespaces
    expected = re.escape("Unable to listen on address 198.18.0.1:8457: Cannot assign")
    with pytest.raises(LabError, match=expected):
        make_lab_node(replication=True)


def test_lab_peer_steers_only_a_stand_alone_node(lab_node: LabNode) -> None:
    lab_node.connect_peer("tank")  # a stand-alone node: the steered peer, as before
    assert lab_node.run("hastctl", "role", "secondary", "tank").returncode == 0
    assert lab_node.worker_pid("tank") is not None
