"""The daemon's memory over a long run: RSS sampled every 1,000 events.

`carpswitch daemon` runs on a lab node; the benchmark plays devd (a SOCK_SEQPACKET
listener at the config's devd_socket, records as sbin/devd/devd.cc sends them) and, for a
share of the events, runs the real hook. Each block of events starts with a CARP flip, so
the daemon promotes and demotes in turn; the rest repeat the state CARP is in. RSS is read
from /proc/PID/status once the daemon is idle after each block.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.clirun import carpswitch_argv
from bench.nodes import BenchNode
from bench.stats import Figure, at_most, within_of
from carpswitch.lab.paths import NODE_MARKER_ENV

EVENTS_PER_SAMPLE = 1000


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its reaped children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def bare_python_rss() -> float:
    """RSS of a bare `python -c "import time; time.sleep(9)"` (the baseline)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(9)"])
    try:
        time.sleep(1.0)
        return rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()


def wait_idle(pid: int, quiet: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until `pid` used no CPU for `quiet` seconds (its transition is over)."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise RuntimeError(f"daemon {pid} still busy after {timeout} s")


class FakeDevd:
    """devd's end of the seqpacket socket: accepts the daemon, sends it records."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.server.bind(str(path))
        self.server.listen(10)
        self.server.settimeout(60)
        self.client: socket.socket | None = None

    def accept(self) -> None:
        self.client, _ = self.server.accept()
        self.client.shutdown(socket.SHUT_RD)  # devd never reads from its clients

    def carp(self, state: str) -> None:
        assert self.client is not None
        self.client.send(f"!system=CARP subsystem=1@vtnet0 type={state}\n".encode())

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.server.close()


def measure(node: BenchNode, events: int, hook_every: int) -> list[Figure]:
    """Run the daemon through `events` events; RSS figures (absolute and growth)."""
    base = bare_python_rss()
    devd_path = node.node.path / "devd.pipe"
    config = node.node.path / "daemon.toml"
    text = node.node.config_path.read_text()
    text = text.replace("[paths]\n", f'[paths]\ndevd_socket = "{devd_path}"\n', 1)
    config.write_text(text + "\n[intake]\nsettle = 0.1\nflap_limit = 600\ntimer = 600\n")
    devd = FakeDevd(devd_path)
    env = {**os.environ, NODE_MARKER_ENV: str(node.node.path)}  # node.stop() ends leftovers
    log = (node.node.path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        carpswitch_argv("-c", str(config), "daemon"), env=env, stdout=log, stderr=log
    )
    samples: list[float] = []
    try:
        devd.accept()
        wait_idle(daemon.pid)
        state = "BACKUP"
        for block in range(events // EVENTS_PER_SAMPLE):
            state = "MASTER" if state == "BACKUP" else "BACKUP"
            node.node.set_carp(state)
            for i in range(EVENTS_PER_SAMPLE):
                if i % hook_every == hook_every - 1:
                    subprocess.run(
                        carpswitch_argv("-c", str(config), state, "1@vtnet0"),
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                else:
                    devd.carp(state)
            wanted = "primary" if state == "MASTER" else "secondary"
            _wait_role(node, wanted, daemon)
            wait_idle(daemon.pid)
            samples.append(rss_mb(daemon.pid))
            print(
                f"  daemon RSS after {(block + 1) * EVENTS_PER_SAMPLE} events: "
                f"{samples[-1]:.1f} MB",
                flush=True,
            )
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        devd.close()
        log.close()
    series = " ".join(f"{s:.1f}" for s in samples)
    total = f"{len(samples) * EVENTS_PER_SAMPLE:,} events"
    return [
        Figure(
            f"daemon RSS after {total}",
            "bare python sleeping",
            base,
            samples[-1],
            "MB",
            at_most(35.0, "<= 35 MB"),
            note=f"every 1,000: {series}",
        ),
        Figure(
            f"daemon RSS growth, 1,000 -> {total}",
            "RSS after 1,000 events",
            samples[0],
            samples[-1],
            "MB",
            within_of(0.5, "MB"),
        ),
    ]


def _wait_role(node: BenchNode, wanted: str, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"daemon exited {daemon.returncode}")
        if all(node.node.role(name) == wanted for name in node.names):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the daemon did not make {node.names} {wanted}")
