"""How long devd waits for `carpswitch master|backup VHID@IF`, next to bare Python start-up.

    .venv/bin/python -m bench.hook_latency [-n CALLS]

The hook runs with a lab node's config (a group on vhid 1@vtnet0, so the event concerns
it and takes the whole path), in two situations:

* daemon listening: a stand-in daemon bound at run_dir/intake.sock drains the datagrams
  (a real daemon would act on them and load the machine while we measure);
* no daemon, a worker acting: run_dir/intake.lock is held (flock), so the hook records the
  event in the inbox for that worker (the path of every call of a burst but the first).

Both files are the documented hand-over between hook and daemon (docs/intake.md).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from bench.clirun import carpswitch_argv
from bench.stats import Figure, median, percentile, text_table, within_of

#: The hook's target: at most this many ms above bare Python, median and p90 (issue 9).
ALLOWANCE_MS = 15.0


def timed_runs(argv: Sequence[str], calls: int) -> list[float]:
    """Wall time in ms of `calls` runs of `argv` (two warm-up runs first, not counted)."""
    for _ in range(2):
        subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


@contextmanager
def stand_in_daemon(run_dir: Path) -> Iterator[list[int]]:
    """A datagram socket at run_dir/intake.sock, read in a thread as the daemon would.

    Yields a one-item list: how many datagrams arrived (a check that the hook handed on).
    """
    path = run_dir / "intake.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    stop = threading.Event()
    received = [0]

    def drain() -> None:
        while not stop.is_set():
            try:
                sock.recv(65536)
            except TimeoutError:
                continue
            received[0] += 1

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join()
        sock.close()
        path.unlink()


@contextmanager
def worker_acting(run_dir: Path) -> Iterator[list[int]]:
    """Hold run_dir/intake.lock as an acting worker does (yields [-1]: nothing to count)."""
    fd = os.open(run_dir / "intake.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} worker\n".encode())
        yield [-1]
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def measure(config: Path, run_dir: Path, calls: int) -> list[Figure]:
    """The hook's figures: median, p90, p99 against `python -c pass` in the same run."""
    hook = carpswitch_argv("-c", str(config), "MASTER", "1@vtnet0")
    python = timed_runs([sys.executable, "-c", "pass"], calls)
    situations: list[tuple[str, Callable[[Path], AbstractContextManager[list[int]]]]] = [
        ("daemon listening", stand_in_daemon),
        ("no daemon, worker acting", worker_acting),
    ]
    figures = []
    for name, situation in situations:
        with situation(run_dir) as received:
            times = timed_runs(hook, calls)
            time.sleep(0.3)  # the drain thread's last reads
        if received[0] not in (-1, calls + 2):
            raise RuntimeError(f"hook {name}: {received[0]} datagrams for {calls + 2} calls")
        for label, fraction in (("median", 0.5), ("p90", 0.9), ("p99", 0.99)):
            target = within_of(ALLOWANCE_MS, "ms") if label != "p99" else None
            figures.append(
                Figure(
                    f"hook {label}, {name} ({calls} calls)",
                    f"python -c pass {label}",
                    _pick(python, fraction),
                    _pick(times, fraction),
                    "ms",
                    target,
                )
            )
    return figures


def _pick(times: list[float], fraction: float) -> float:
    return median(times) if fraction == 0.5 else percentile(times, fraction)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.nodes import bench_nodes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--calls", type=int, default=200, help="calls per row (200)")
    calls = parser.parse_args(argv).calls
    with bench_nodes() as make:
        node = make(1, "raw", None, False)
        print(text_table(measure(Path(node.config), node.run_dir, calls)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
