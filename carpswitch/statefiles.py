"""State files: private directories, files opened with O_NOFOLLOW, unreadable ones set aside.

carpswitch runs as root and keeps its memory in state_dir (journal, failure book, pause
flag), its locks and inbox in run_dir. carpswitch.strictmodes makes sure no other user
can write those directories; here, carpswitch creates them 0700 and its files 0600, never
follows a symlink, never blocks on a FIFO, and keeps an unreadable file under a stamped
name instead of deleting it, so that an admin can look at what broke.

Standard library only: the devd hook imports this module.
"""

from __future__ import annotations

import errno
import os
import stat
import time

#: Mode of the directories carpswitch creates.
PRIVATE_MODE = 0o700
#: Mode of the files carpswitch creates.
FILE_MODE = 0o600
#: Marker between a file's name and the time it was set aside.
CORRUPT_MARK = ".corrupt-"

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
#: errno for "not a regular file": FreeBSD has EFTYPE, Linux does not.
_NOT_REGULAR = getattr(errno, "EFTYPE", errno.EINVAL)


def make_private_dir(path: str) -> None:
    """Create `path` (mode 0700) and missing parents (0755) if absent; raise OSError."""
    if os.path.isdir(path):
        return
    _make_parents(os.path.dirname(os.path.abspath(path)))
    try:
        os.mkdir(path, PRIVATE_MODE)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_MODE)  # the umask cannot loosen 0700, but may have tightened it


def _make_parents(path: str) -> None:
    """Create the missing parents of a private directory, 0755 whatever the umask."""
    if os.path.isdir(path):
        return
    _make_parents(os.path.dirname(path))
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return
    os.chmod(path, 0o755)  # noqa: S103 - like /var/db: others pass, only root writes


def read_state_file(path: str, offset: int = 0) -> bytes:
    """The content of state file `path` (from `offset`): never through a symlink, never a
    FIFO or device.

    Raises FileNotFoundError when it is absent and OSError when it is not a regular file
    (ELOOP for a symlink) or cannot be read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
    try:
        _require_regular(fd, path)
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def append_line(path: str, line: bytes) -> None:
    """Append `line` (ending in a newline) to `path` and make it durable.

    A previous line torn by a full disk or a crash is ended first, so that this line is
    never glued to it and lost with it.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, FILE_MODE)
    try:
        size = _require_regular(fd, path).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        _write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def rotate_numbered(path: str, keep: int, *, missing_ok: bool = False) -> None:
    """Move `path` to `path.1`, `path.1` to `path.2`, ... up to `path.KEEP` (the oldest is
    overwritten). A rotated file another process moved first is skipped; `path` itself
    missing raises FileNotFoundError unless `missing_ok` (a racing rotation was first)."""
    for number in range(keep - 1, 0, -1):
        try:  # not contextlib.suppress: the hook imports this module (see open_lock_file)
            os.replace(f"{path}.{number}", f"{path}.{number + 1}")
        except FileNotFoundError:
            continue
    try:
        os.replace(path, f"{path}.1")
    except FileNotFoundError:
        if not missing_ok:
            raise


def replace_file(
    path: str,
    data: bytes,
    keep_old_as: str | None = None,
    durable: bool = True,
    mode: int = FILE_MODE,
) -> None:
    """Replace `path` atomically: a private temporary file, fsync, rename, fsync the dir.

    With `keep_old_as`, what was at `path` stays there under that name (a hard link, or a
    rename for what cannot be linked), and `path` is never missing meanwhile. Without
    `durable` nothing is fsynced: for caches, which a crash may leave empty or old. A
    `mode` other than 0600 is set whatever the umask (a file another daemon reads).
    """
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    _unlink_if_there(temporary)  # left by a process of ours that died, its pid now ours
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, FILE_MODE)
    try:
        try:
            if mode != FILE_MODE:
                os.fchmod(fd, mode)
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if keep_old_as is not None:
            _keep(path, keep_old_as)
        os.replace(temporary, path)
    except BaseException:
        _unlink_if_there(temporary)
        raise
    if durable:
        fsync_directory(directory)


def _keep(path: str, name: str) -> None:
    try:
        os.link(path, name, follow_symlinks=False)
    except FileNotFoundError:
        return
    except OSError:
        os.rename(path, name)  # a directory: it has to move out of the way anyway


def open_lock_file(path: str) -> int:
    """A read-write descriptor on lock file `path` (created 0600), never through a symlink.

    Whatever else sits at `path` (a symlink, a directory, a FIFO) is set aside: a lock file
    has no content worth keeping, and nobody can hold a lock on it.
    """
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _OPEN_FLAGS, FILE_MODE)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR):
                raise
        else:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return fd
            os.close(fd)
        try:  # not contextlib.suppress: contextlib costs the devd hook ~1 ms to import
            set_aside(path)
        except FileNotFoundError:  # another process was first
            continue
    raise OSError(_NOT_REGULAR, "not a regular file", path)


def aside_name(path: str, now: float | None = None) -> str:
    """A free name to keep an unreadable state file under: `NAME.corrupt-YYYYmmddTHHMMSSZ`."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = f"{path}{CORRUPT_MARK}{stamp}"
    number = 1
    while os.path.lexists(target):
        number += 1
        target = f"{path}{CORRUPT_MARK}{stamp}-{number}"
    return target


def set_aside(path: str) -> str:
    """Rename an unreadable state file out of the way (`aside_name`); return the new name.

    rename(2) moves a symlink or a directory itself, never what it points to.
    """
    target = aside_name(path)
    os.rename(path, target)
    return target


def set_aside_files(directory: str) -> list[str]:
    """Names of the files set aside in `directory`, oldest first (for `status`)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted((n for n in names if CORRUPT_MARK in n), key=lambda n: n.split(CORRUPT_MARK)[1])


def describe_os_error(exc: OSError) -> str:
    """`symbolic link, not followed` or the strerror, for one-line reports."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link (not followed)"
    return exc.strerror or str(exc)


def _require_regular(fd: int, path: str) -> os.stat_result:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(_NOT_REGULAR, "not a regular file", path)
    return info


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_if_there(path: str) -> None:
    try:  # not contextlib.suppress: see open_lock_file
        os.unlink(path)
    except FileNotFoundError:
        return


def fsync_directory(directory: str) -> None:
    """Make the names in `directory` durable (a file created or renamed there)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
