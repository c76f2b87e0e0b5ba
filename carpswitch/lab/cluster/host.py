"""One host of the two-node lab: its node, its namespace, boot and the host faults.

Boot order, as FreeBSD's rc does it: devd, hastd (every resource `init`), then
rc.d/carpswitch (`carpswitch reconcile --boot`, then `carpswitch daemon`), then the CARP
speaker (ucarp; on FreeBSD the vhid is configured earlier by netif, but it is BACKUP until
the master-down time has passed, long after the rest has started).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from carpswitch.lab.cluster import ucarp
from carpswitch.lab.cluster.command import ClusterError, in_netns
from carpswitch.lab.cluster.detach import spawn_detached
from carpswitch.lab.cluster.devd import RULES_DIR
from carpswitch.lab.cluster.net import ClusterNet, HostNet, netns_pids
from carpswitch.lab.cluster.teardown import marked_pids, signal_pids
from carpswitch.lab.daemons import pid_alive
from carpswitch.lab.node import LabNode
from carpswitch.lab.paths import NODE_MARKER_ENV
from carpswitch.lab.state import NetworkState, WatchdogState

#: The project's devd rules (what an install puts into /usr/local/etc/devd).
DEVD_CONF = Path(__file__).resolve().parents[3] / "conf" / "devd-carp.conf"
_RECONCILE_TIMEOUT = 120.0
_SWEEPS = 20
_DEVD_READY = 20.0


def _holds_pid(pidfile: Path, pid: int) -> bool:
    try:
        return pidfile.read_text().split() == [str(pid)]
    except OSError:
        return False


#: rc.d/carpswitch's `daemon -R 5`: seconds before a dead carpswitch daemon is restarted.
DAEMON_RESTART = 5


class ClusterHost:
    """`hasta` or `hastb`: a LabNode living in a network namespace of the cluster."""

    def __init__(self, node: LabNode, net: ClusterNet) -> None:
        self.node = node
        self.net = net
        self.name = node.facts.name
        self.hostnet: HostNet = net.host(self.name)

    def __repr__(self) -> str:
        return f"ClusterHost({self.name!r}, {str(self.node.path)!r})"

    # --- installing and booting ------------------------------------------------------

    def install(self, *, devd_rules: bool = True) -> None:
        """What the admin installs once: the devd rules (unless set-up renders them) and
        ucarp's scripts."""
        rules = self.node.path / RULES_DIR
        rules.mkdir(parents=True, exist_ok=True)
        if devd_rules:
            if not DEVD_CONF.is_file():
                raise ClusterError(f"{DEVD_CONF} is missing (the lab runs from a source tree)")
            shutil.copyfile(DEVD_CONF, rules / "carpswitch.conf")
        ucarp.write_scripts(self.node.paths)

    def env(self) -> dict[str, str]:
        """Environment of the host's long-lived processes (marked as the node's)."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "CARPSWITCH_CONFIG": str(self.node.config_path),
            NODE_MARKER_ENV: str(self.node.path),
        }

    def boot(self, *, daemon: bool = True) -> None:
        """devd, hastd, rc.d/carpswitch (boot reconcile, daemon), then ucarp."""
        self.net.set_link(self.name, up=True)
        self.net.remove_address(self.name, self.node.facts.vip)
        devd = self._spawn(
            [sys.executable, "-m", "carpswitch.lab.cluster.devd", str(self.node.path)],
            "devd-stdout.log",
        )
        self._wait_devd(devd)
        self.node.start()
        self.controller("reconcile", "--boot", timeout=_RECONCILE_TIMEOUT)
        if daemon:  # under daemon(8) -R 5, as rc.d/carpswitch runs it
            self._spawn(
                [
                    sys.executable,
                    "-m",
                    "carpswitch.lab.cluster.supervise",
                    str(DAEMON_RESTART),
                    sys.executable,
                    "-m",
                    "carpswitch",
                    "-v",
                    "daemon",
                ],
                "carpswitch.log",
            )
        ucarp.start(self.node.path)

    def controller(
        self, *args: str, timeout: float = _RECONCILE_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run `carpswitch ARGS` on the host (its namespace, its config); log its output."""
        done = subprocess.run(
            in_netns(self.hostnet.netns, [sys.executable, "-m", "carpswitch", *args]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env(),
        )
        with (self.node.paths.var_log / "carpswitch.log").open("a") as log:
            log.write(f"# carpswitch {' '.join(args)}: exit {done.returncode}\n")
            log.write(done.stdout + done.stderr)
        return done

    def _wait_devd(self, pid: int) -> None:
        """Until devd reads devctl (it writes its pid file then): an event ucarp's script
        sends before that would be dropped."""
        pidfile = self.node.paths.var_run / "devd.pid"
        deadline = time.monotonic() + _DEVD_READY
        while not _holds_pid(pidfile, pid):
            if time.monotonic() >= deadline or not pid_alive(pid):
                raise ClusterError(f"{self.name}: devd did not start (see devd-stdout.log)")
            time.sleep(0.02)

    def _spawn(self, argv: list[str], log: str) -> int:
        return spawn_detached(
            in_netns(self.hostnet.netns, argv), self.env(), self.node.paths.var_log / log
        )

    # --- processes and faults --------------------------------------------------------

    def pids(self) -> set[int]:
        """Every live process of the host: in its namespace or marked as its node's."""
        found = set(netns_pids(self.hostnet.netns)) | marked_pids(self.node.path)
        return found - {os.getpid()}

    def signal_all(self, sig: signal.Signals) -> set[int]:
        """Send `sig` to every process of the host, sweeping until no new one appears."""
        done: set[int] = set()
        for _ in range(_SWEEPS):
            fresh = self.pids() - done
            if not fresh:
                break
            signal_pids(fresh, sig)
            done |= fresh
        return done

    def kill(self) -> None:
        """A dead host: SIGKILL everything; its address goes, its link goes down.

        After SIGKILL ucarp runs no downscript, so the CARP address would stay on the
        interface; a FreeBSD host that died takes its addresses with it. Its recorded vhid
        state becomes INIT: nothing is MASTER there any more, and its watchdog(4) is off (a
        machine without power is not reset by it).
        """
        for _ in range(_SWEEPS):
            if not self.signal_all(signal.SIGKILL):
                break
        self.net.remove_address(self.name, self.node.facts.vip)
        self.net.set_link(self.name, up=False)
        with self.node.store.update(NetworkState) as network:  # no kernel, no CARP state
            for interface in network.interfaces:
                for vhid in interface.vhids:
                    vhid.state = "INIT"
            self.node.store.write(WatchdogState())

    def freeze(self) -> None:
        """SIGSTOP every process of the host (a hung machine: it neither acts nor answers)."""
        self.signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT every process of the host."""
        self.signal_all(signal.SIGCONT)

    def power_on(self, *, daemon: bool = True) -> None:
        """After `kill`: the kernel's state reset (vhids BACKUP, no rc.shutdown ran), boot."""
        self.node.reboot("BACKUP", start=False)
        self.boot(daemon=daemon)
