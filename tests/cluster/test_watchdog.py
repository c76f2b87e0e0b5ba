"""The hosts' watchdog(4) hardware (carpswitch.lab.cluster.watchdog): a frozen host whose
watchdog is not patted is reset and boots again; a patted or disarmed one is left alone;
the watcher is no host process and `lab down` takes it away."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from carpswitch.lab.cluster import watchdog
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.state import SysctlState, WatchdogState

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

#: Bounds, not speeds: a reset comes within the timeout and a few checks; a boot and the
#: reconcile to secondary take seconds.
RESET_BOUND = 30.0
BOOT_BOUND = 90.0


def _boottime(cluster: Cluster, name: str) -> tuple[int, int]:
    sysctls = cluster.node(name).store.read(SysctlState)
    return sysctls.boottime_sec, sysctls.boottime_usec


def _pat(cluster: Cluster, name: str, seconds: int) -> None:
    done = cluster.node(name).run("watchdog", "-t", str(seconds))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _resets(cluster: Cluster, name: str) -> int:
    messages = cluster.node(name).paths.var_log / "messages"
    return messages.read_text().count(watchdog.RESET_LINE) if messages.exists() else 0


def _watcher(cluster: Cluster) -> psutil.Process:
    pid = int((Path(cluster.record.directory) / watchdog.PIDFILE).read_text())
    return psutil.Process(pid)


def test_a_frozen_host_is_reset_and_a_patted_one_is_not(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(guards=False)  # no daemon pats: the shim alone arms it
    watcher = _watcher(cluster)
    assert watcher.is_running()
    assert watcher.pid not in cluster.host("hasta").pids() | cluster.host("hastb").pids()

    # patted faster than its timeout, then disarmed: hastb is left alone
    booted = _boottime(cluster, "hastb")
    end = time.monotonic() + 6.0
    while time.monotonic() < end:
        _pat(cluster, "hastb", 3)
        time.sleep(0.5)
    _pat(cluster, "hastb", 0)
    time.sleep(4.0)
    assert (_boottime(cluster, "hastb"), _resets(cluster, "hastb")) == (booted, 0)

    # armed, then the whole host hangs: the watchdog resets it, it boots as a secondary
    booted = _boottime(cluster, "hasta")
    frozen = cluster.host("hasta").pids()
    _pat(cluster, "hasta", 2)
    cluster.freeze("hasta")
    assert watcher.status() != psutil.STATUS_STOPPED
    assert cluster.wait_for(lambda: _boottime(cluster, "hasta") != booted, RESET_BOUND)
    assert _resets(cluster, "hasta") == 1
    assert not frozen & cluster.host("hasta").pids()  # every frozen process is gone
    cluster.wait_serving("hastb", timeout=BOOT_BOUND)
    assert cluster.wait_for(lambda: cluster.secondary("hasta"), BOOT_BOUND)
    assert _resets(cluster, "hasta") == 1  # a boot disarms: no second reset

    cluster.down()
    assert _gone(watcher)


def test_the_daemon_pats_and_a_frozen_daemon_host_is_reset(
    make_cluster: Callable[..., Cluster],
) -> None:
    """The lab's [guards] watchdog (8 s): each daemon arms it through the shim at start; a
    reload re-arms it with a new timeout (3 s); frozen, the host is reset, boots secondary
    and its daemon arms the watchdog again."""
    cluster = make_cluster()
    node = cluster.node("hasta")
    both = ("hasta", "hastb")
    assert cluster.wait_for(lambda: all(_armed(cluster, n) == 8 for n in both), RESET_BOUND)
    config = node.config_path.read_text()
    assert "\nwatchdog = 8\n" in config
    node.config_path.write_text(config.replace("\nwatchdog = 8\n", "\nwatchdog = 3\n"))
    (daemon,) = (
        p for p in map(psutil.Process, cluster.host("hasta").pids()) if _is_daemon(p.cmdline())
    )
    daemon.send_signal(signal.SIGHUP)
    assert cluster.wait_for(lambda: node.store.read(WatchdogState).timeout == 3, RESET_BOUND)

    booted = _boottime(cluster, "hasta")
    cluster.freeze("hasta")
    assert cluster.wait_for(lambda: _boottime(cluster, "hasta") != booted, RESET_BOUND)
    assert _resets(cluster, "hasta") == 1
    cluster.wait_serving("hastb", timeout=BOOT_BOUND)
    assert cluster.wait_for(lambda: cluster.secondary("hasta"), BOOT_BOUND)
    assert cluster.wait_for(lambda: node.store.read(WatchdogState).timeout == 3, BOOT_BOUND)
    assert _resets(cluster, "hasta") == 1


def _armed(cluster: Cluster, name: str) -> int:
    """The timeout the host's watchdog is armed with (0: disarmed)."""
    return cluster.node(name).store.read(WatchdogState).timeout


def _is_daemon(cmdline: list[str]) -> bool:
    """`python -m carpswitch -v daemon`, not the daemon(8) that supervises it."""
    return cmdline[-4:] == ["-m", "carpswitch", "-v", "daemon"] and "supervise" not in cmdline


def _gone(process: psutil.Process) -> bool:
    """Ended (a zombie whose reaper has not come by yet counts: it runs no more)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
