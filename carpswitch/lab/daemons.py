"""Start detached daemons and look at one pid, with the standard library only.

The shims (hastd, service) start daemons and ask whether a pid lives on every call, so
this stays free of psutil; finding and stopping a node's processes is carpswitch.lab.procs.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from carpswitch.lab.paths import NODE_MARKER_ENV

#: How long a starting daemon may take to say it is ready.
READY_TIMEOUT = 10.0


class DaemonStartError(Exception):
    """A daemon reported a failure (or nothing) instead of readiness."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        self.message = message
        super().__init__(message)


def spawn_daemon(module: str, args: Sequence[str], node_root: Path) -> None:
    """Start `python -m module args...` as a daemon and wait until it reports readiness.

    Like daemon(3): fork, setsid, fork again, stdin/stdout/stderr on /dev/null (callers
    that capture our output get EOF at once). The daemon is marked with the node directory
    in its environment and gets `--ready-fd N`: it writes `ok` there when ready, or
    `error CODE MESSAGE` (then this raises DaemonStartError).
    """
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            _exec_daemon(module, args, node_root, write_end)
        finally:
            os._exit(70)
    os.close(write_end)
    os.waitpid(first, 0)
    try:
        reply = _read_all(read_end, READY_TIMEOUT)
    finally:
        os.close(read_end)
    if reply.startswith("ok"):
        return
    if reply.startswith("error "):
        code, _, message = reply[len("error ") :].partition(" ")
        raise DaemonStartError(int(code) if code.isdigit() else 70, message.rstrip("\n"))
    raise DaemonStartError(70, f"{module} did not report readiness within {READY_TIMEOUT:g} s")


def _exec_daemon(
    module: str, args: Sequence[str], node_root: Path, ready_fd: int
) -> None:  # pragma: no cover - runs in the child
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.set_inheritable(ready_fd, True)
    env = {**os.environ, NODE_MARKER_ENV: str(node_root)}
    argv = [sys.executable, "-m", module, *args, "--ready-fd", str(ready_fd)]
    os.execve(sys.executable, argv, env)  # noqa: S606 - argv list, no shell


def _read_all(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def report_ready(ready_fd: int | None, message: str = "ok") -> None:
    """Tell the starter we are ready (or `error CODE MESSAGE`) and close the pipe."""
    if ready_fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(ready_fd, f"{message}\n".encode())
    with contextlib.suppress(OSError):
        os.close(ready_fd)


def pid_alive(pid: int) -> bool:
    """True if `pid` is a live (non-zombie) process (Linux /proc/PID/stat state)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return False
    state = data[data.rfind(b")") + 2 : data.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"")


def process_title(pid: int) -> str | None:
    """The process title (`ps -o command`-like: cmdline joined, padding dropped).

    Split as psutil's Process.cmdline does on Linux: NUL-separated, or by spaces when a
    setproctitle() wrote the title as one string.
    """
    try:
        with open(f"/proc/{pid}/cmdline", encoding="utf-8", errors="surrogateescape") as f:
            data = f.read()
    except OSError:
        return None
    if not data:
        return None if not pid_alive(pid) else ""
    sep = "\x00" if data.endswith("\x00") else " "
    if data.endswith(sep):
        data = data[:-1]
    parts = data.split(sep)
    if sep == "\x00" and len(parts) == 1 and " " in data:
        parts = data.split(" ")
    return " ".join(part for part in parts if part)
