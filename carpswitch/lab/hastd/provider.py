"""/dev/hast/NAME of a replicating node: a FUSE file served by the primary worker.

On FreeBSD the primary worker creates a GEOM Gate provider and every request on it
passes through hastd; here the worker mounts a FUSE file system whose root is a regular
file (mfusepy over libfuse, direct_io so that every read and write reaches the worker)
onto the regular file DIR/dev/hast/.NAME.ggate, and only then makes DIR/dev/hast/NAME, a
symlink to it: a mount needs its file to exist first, and /dev/hast/NAME must not exist
before it is served (callers poll for it, then open it). The provider goes away with the
worker: on SIGTERM it removes the symlink, detaches its mount lazily and exits (a process
that has it open then gets ENOTCONN, as a forcibly destroyed ggate provider gives I/O
errors); after a SIGKILL the daemon removes what the dead worker left (`fusermount3 -uz`).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

#: How long a new FUSE mount may take to appear.
MOUNT_WAIT = 5.0
#: Bound on fusermount3.
_UNMOUNT_TIMEOUT = 5.0


class ProviderError(Exception):
    """The FUSE provider could not be created."""


def is_mounted(path: Path) -> bool:
    """True if something is mounted on `path` (this mount namespace's mountinfo)."""
    target = _mountinfo_path(str(path))
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
            return any(line.split(" ")[4] == target for line in mountinfo if line.count(" ") > 4)
    except OSError:
        return False


def _mountinfo_path(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    for char in ("\\", " ", "\t", "\n"):
        path = path.replace(char, f"\\{ord(char):03o}")
    return path


def detach(path: Path) -> None:
    """Lazily unmount whatever is mounted on `path` (`fusermount3 -uz`), if anything."""
    if not is_mounted(path):
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["fusermount3", "-uz", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_UNMOUNT_TIMEOUT,
            check=False,
        )


def mount_path(provider: Path) -> Path:
    """The regular file the FUSE provider of /dev/hast/NAME is mounted on."""
    return provider.with_name(f".{provider.name}.ggate")


def remove(provider: Path) -> None:
    """Remove /dev/hast/NAME, then detach and remove the mount behind it (if any); given
    a mount file itself (a sweep of DIR/dev/hast), detach and remove just that."""
    mounted = provider.name.startswith(".") and provider.name.endswith(".ggate")
    for path in (provider,) if mounted else (provider, mount_path(provider)):
        if path.name.endswith(".ggate"):
            detach(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class Requests(Protocol):
    """What the provider asks of the worker: sized reads and writes that may block."""

    @property
    def size(self) -> int:
        """Media size of the provider."""
        ...

    def read(self, size: int, offset: int) -> bytes:
        """`size` bytes at `offset` (blocks while hastd does not serve I/O)."""
        ...

    def write(self, data: bytes, offset: int) -> int:
        """Write `data` at `offset`; return its length once it is acknowledged."""
        ...

    def flush(self) -> None:
        """BIO_FLUSH."""
        ...


def serve(provider: Path, requests: Requests) -> threading.Thread:
    """Mount the provider from a thread, then make `provider`; return the thread."""
    mfusepy: Any = importlib.import_module("mfusepy")  # untyped
    operations = _file_operations(mfusepy, requests)
    behind = mount_path(provider)
    detach(behind)  # what a killed worker left: taken over ("Device ... recovered.")
    behind.touch(exist_ok=True)

    def loop() -> None:
        with contextlib.suppress(RuntimeError):
            mfusepy.FUSE(
                operations,
                str(behind),
                foreground=True,
                direct_io=True,
                fsname="hast",
                allow_other=True,
            )

    thread = threading.Thread(target=loop, name="ggate", daemon=True)
    thread.start()
    deadline = time.monotonic() + MOUNT_WAIT
    while not is_mounted(behind):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ProviderError(f"Unable to create {provider}")
        time.sleep(0.01)
    temporary = provider.with_name(f".{provider.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(behind.name)
    os.replace(temporary, provider)
    return thread


def _file_operations(mfusepy: Any, requests: Requests) -> Any:
    """An mfusepy Operations object whose root is the provider (a regular file)."""

    class Provider(mfusepy.Operations):  # type: ignore[misc]  # mfusepy is untyped
        use_ns = True

        def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
            if path != "/":
                raise mfusepy.FuseOSError(errno.ENOENT)
            now = time.time_ns()
            return {
                "st_mode": stat.S_IFREG | 0o640,
                "st_nlink": 1,
                "st_size": requests.size,
                "st_blksize": 512,
                "st_atime": now,
                "st_mtime": now,
                "st_ctime": now,
            }

        def open(self, path: str, flags: int) -> int:
            return 0

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            return requests.read(max(0, min(size, requests.size - offset)), offset)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            if offset + len(data) > requests.size:
                raise mfusepy.FuseOSError(errno.ENOSPC)
            return requests.write(data, offset)

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            return 0  # a disk keeps its size

        def flush(self, path: str, fh: int) -> int:
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            requests.flush()
            return 0

        def release(self, path: str, fh: int) -> int:
            return 0

    return Provider()


def local_size(path: str) -> int:
    """Size of the local component (a regular file in the lab)."""
    return os.stat(path).st_size
