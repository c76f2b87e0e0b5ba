"""UNIX sockets of a node, also for paths too long for sockaddr_un (no psutil here: the
hastctl shim connects with this on every call)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

#: UNIX socket paths longer than this do not fit sockaddr_un.sun_path (108 bytes on Linux).
_SUN_PATH_MAX = 100


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
