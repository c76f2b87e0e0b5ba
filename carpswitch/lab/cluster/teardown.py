"""Remove everything a cluster record names: processes, mounts, namespaces, files.

Works from the record alone, whatever state `lab up` left (crashed half way, hosts
frozen, FUSE servers dead) and as often as it is called. Processes are found by
namespace (`ip netns pids`) and by the node marker in their environment (a host's
processes carry CARPSWITCH_LAB_NODE=DIR); each sweep SIGKILLs them all, until a sweep
finds none (a process may fork while the sweep runs). Then the FUSE and other mounts
under the cluster directory (/proc/mounts) are detached, the namespaces deleted, the
directory removed and, last, the record.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import psutil

from carpswitch.lab.cluster import registry, watchdog
from carpswitch.lab.cluster.command import ClusterError, run
from carpswitch.lab.cluster.iscsi import used_ports
from carpswitch.lab.cluster.net import netns_pids, remove_namespaces
from carpswitch.lab.cluster.tgt import port_in_use, remove_control_files
from carpswitch.lab.paths import NODE_MARKER_ENV, NodePaths

_SWEEPS = 50


def teardown(record: registry.ClusterRecord) -> None:
    """Remove every process, mount, namespace and file of the cluster, then its record."""
    kill_all(record)  # first: a ctld still running could start a tgtd on a new port
    for port in tgtd_ports(record):  # a SIGKILLed tgtd leaves its control files (a shared /var/run)
        if not port_in_use(port):
            remove_control_files(port)
    for mountpoint in mounts_under(Path(record.directory)):
        run(["umount", "-l", mountpoint], check=False)
    kill_all(record)  # a process that was blocked on a mount
    remove_namespaces(list(record.namespaces))
    leftovers = mounts_under(Path(record.directory))
    if leftovers:
        raise ClusterError(f"mounts left under {record.directory}: {leftovers}")
    _remove_files(record)
    registry.forget(record.id)


def tgtd_ports(record: registry.ClusterRecord) -> set[int]:
    """The tgtd control ports the cluster's ctlds recorded (iscsi.ports_file): the only
    ones whose files in the shared /var/run/tgtd are the cluster's."""
    return {port for node in record.hosts.values() for port in used_ports(NodePaths.of(node))}


def cluster_pids(record: registry.ClusterRecord) -> set[int]:
    """Live processes of the cluster: in its namespaces or marked with a node under it."""
    pids = {pid for netns in record.namespaces for pid in netns_pids(netns)}
    pids |= marked_pids(Path(record.directory))
    return pids - _ourselves()


def marked_pids(directory: Path) -> set[int]:
    """Processes whose node marker is `directory` or a directory under it."""
    prefix = str(directory).rstrip("/") + "/"
    found = set()
    for process in psutil.process_iter():
        try:
            marker = process.environ().get(NODE_MARKER_ENV)
            mine = marker is not None and (marker + "/").startswith(prefix)
            if mine and process.status() != psutil.STATUS_ZOMBIE:
                found.add(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kill_all(record: registry.ClusterRecord) -> None:
    """SIGKILL the cluster's processes, sweep after sweep, until none is left."""
    for _ in range(_SWEEPS):
        pids = cluster_pids(record)
        if not pids:
            return
        signal_pids(pids, signal.SIGKILL)
        _wait_gone(pids, 2.0)
    raise ClusterError(f"processes of cluster {record.id} keep coming: {sorted(pids)}")


def signal_pids(pids: set[int], sig: signal.Signals) -> None:
    """Send `sig` to each of `pids` that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pids: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and not _zombie(p)]
        if not alive:
            return
        time.sleep(0.02)


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _ourselves() -> set[int]:
    """This process and its ancestors (a `lab down` run from inside a host)."""
    found = {os.getpid()}
    with contextlib.suppress(psutil.NoSuchProcess):
        found |= {p.pid for p in psutil.Process().parents()}
    return found


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or under `directory`, deepest first (/proc/mounts)."""
    prefix = str(directory).rstrip("/")
    found = []
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 2:
                continue
            mountpoint = fields[1].replace("\\040", " ")
            if mountpoint == prefix or mountpoint.startswith(prefix + "/"):
                found.append(mountpoint)
    return sorted(found, key=len, reverse=True)


def _remove_files(record: registry.ClusterRecord) -> None:
    directory = Path(record.directory)
    if record.made_directory:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        for node in record.hosts.values():
            shutil.rmtree(node, ignore_errors=True)
        for name in (watchdog.PIDFILE, watchdog.LOG):
            (directory / name).unlink(missing_ok=True)
    if directory.exists() and record.made_directory:
        raise ClusterError(f"could not remove {directory}")
