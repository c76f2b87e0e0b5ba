"""How long devd waits for `carpswitch master|backup ARG`, next to bare Python startup.

    .venv/bin/python bench/hook_latency.py [-n CALLS]

Prints the median and p99 wall time of `python -c pass` and of the hook in the same run,
and their ratio. The hook runs against a temporary run_dir where a socket plays the
daemon (so every call takes the "handed to the daemon" path), then with the intake lock
held (the path of a burst: "recorded for the worker already acting"). Nothing is started
and nothing is asserted: these are figures to read (issue 5: under 60 ms, and never more
than Python's start-up plus a few ms).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.wire import intake_socket_path


def timed_runs(argv: Sequence[str], calls: int) -> list[float]:
    """Wall time in ms of `calls` runs of `argv` (one warm-up run first, not counted)."""
    subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def p99(times: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]


def hook_argv(config: Path) -> list[str]:
    """The hook as devd runs it: the console script when installed, else `python -m`."""
    script = Path(sys.executable).parent / "carpswitch"
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "carpswitch"]
    return [*prefix, "-c", str(config), "MASTER", "1@vtnet0"]


def drain_forever(sock: socket.socket) -> Callable[[], None]:
    """Read the hook's datagrams in a thread (as the daemon would); return a stopper."""
    stop = threading.Event()

    def loop() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                sock.recv(8192)
            except TimeoutError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join()

    return stopper


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--calls", type=int, default=200, help="calls per row (200)")
    calls = parser.parse_args(argv).calls
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as directory:
        root = Path(directory)
        run_dir = root / "run"
        run_dir.mkdir()
        config = root / "carpswitch.toml"
        config.write_text(f'[paths]\nrun_dir = "{run_dir}"\nstate_dir = "{root}/db"\n')
        rows = [("python -c pass", timed_runs([sys.executable, "-c", "pass"], calls))]
        daemon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        daemon.bind(intake_socket_path(str(run_dir)))
        stop = drain_forever(daemon)
        rows.append(("hook, daemon listening", timed_runs(hook_argv(config), calls)))
        stop()
        daemon.close()
        os.unlink(intake_socket_path(str(run_dir)))
        lock = IntakeLock(str(run_dir), "worker")
        lock.try_acquire()
        rows.append(("hook, worker acting", timed_runs(hook_argv(config), calls)))
        lock.release()
    base = statistics.median(rows[0][1])
    print(f"{calls} calls each; wall time in ms ({' '.join(hook_argv(Path('C'))[:1])})")
    print(f"{'':<24} {'median':>8} {'p99':>8} {'x python':>9}")
    for name, times in rows:
        median = statistics.median(times)
        print(f"{name:<24} {median:8.1f} {p99(times):8.1f} {median / base:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
