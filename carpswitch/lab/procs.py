"""Process plumbing of the lab: start detached daemons, find and stop a node's processes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from carpswitch.lab.paths import NODE_MARKER_ENV

#: How long a starting daemon may take to say it is ready.
READY_TIMEOUT = 10.0
#: UNIX socket paths longer than this do not fit sockaddr_un.sun_path (108 bytes on Linux).
_SUN_PATH_MAX = 100


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


def node_processes(node_root: Path) -> list[psutil.Process]:
    """Live processes marked as belonging to the node at `node_root`."""
    marker = str(node_root)
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(NODE_MARKER_ENV) == marker:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [p for p in found if _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def terminate(processes: Sequence[psutil.Process], grace: float = 3.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left and wait."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGTERM)
    alive = wait_gone(processes, grace)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    wait_gone(alive, grace)


def wait_gone(processes: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes are gone (zombies count as gone); return the survivors.

    Daemons are not our children, so psutil.wait_procs would wait for their zombies to be
    reaped by whoever adopted them; a zombie has finished all we care about.
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [p for p in alive if _alive(p)]
    return alive


def process_title(pid: int) -> str | None:
    """The process title (`ps -o command`-like: cmdline joined, padding dropped)."""
    try:
        parts = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return " ".join(part for part in parts if part)


def pid_alive(pid: int) -> bool:
    """True if `pid` is a live (non-zombie) process."""
    try:
        return _alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """A sun_path usable for `path`, even when `path` is longer than sockaddr_un allows.

    Long paths are reached through /proc/self/fd/N of an O_PATH descriptor of the directory.
    """
    text = str(path)
    if len(text.encode()) <= _SUN_PATH_MAX:
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """Connect a stream socket to the UNIX socket at `path` (raises OSError)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with unix_address(path) as address:
            sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock
