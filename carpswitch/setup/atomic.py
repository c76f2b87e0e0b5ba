"""One atomic write for set-up (standard library only: `setup init` must start fast).

A temporary file in the same directory, written in full, fsync, rename over the path,
fsync the directory: a crash leaves the old file or the new, never half of one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

#: os.write, replaceable by a test that fakes a full disk.
Writer = Callable[[int, bytes], int]


def write_atomic(path: str, data: bytes, mode: int, write: Writer = os.write) -> None:
    """Replace `path` by `data` with `mode`; OSError leaves the old file as it was."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.carpswitch-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # left by a killed writer of the same pid (never another's)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[write(fd, bytes(view)) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
