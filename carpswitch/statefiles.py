"""State files and private directories that no other local user can steer.

carpswitch runs as root. Its memory lives in state_dir (journal, failure book, pause flag),
its locks and inbox in run_dir, its orders in carpswitch.toml. Whoever can write one of
those (or a directory on the way to it) can plant a symlink that makes root truncate a
file, forge `paused` or the failure book, or point `[commands] hastctl` at a script. So,
as sshd's StrictModes does, the config file, run_dir and state_dir, every directory and
symlink the kernel passes on the way to them must be owned by root (or by the user
carpswitch runs as) and must not be writable by group or others; a world-writable
ancestor with the sticky bit (/tmp) is fine, since there nobody renames what is not
theirs. The files inside are opened with O_NOFOLLOW and must be regular files.

Standard library only: the devd hook imports this module.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time

from carpswitch.errors import ConfigError

#: Mode of the directories carpswitch creates.
PRIVATE_MODE = 0o700
#: Mode of the files carpswitch creates.
FILE_MODE = 0o600
#: Symlinks followed while resolving one path before giving up (as the kernel does).
MAX_SYMLINKS = 32
#: Marker between a file's name and the time it was set aside.
CORRUPT_MARK = ".corrupt-"

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
#: errno for "not a regular file": FreeBSD has EFTYPE, Linux does not.
_NOT_REGULAR = getattr(errno, "EFTYPE", errno.EINVAL)


class UnsafePath(ConfigError):
    """A config file or state directory that another user could change, or of the wrong type."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, [problem])


# --- checking paths ----------------------------------------------------------------


def check_config_file(path: str) -> None:
    """Refuse a config file that another user owns or can write, or that is not a file.

    A missing file is left to the caller (the default config may be absent).
    """
    _check(path, want_directory=False)


def check_private_dir(path: str) -> None:
    """Refuse run_dir or state_dir when another user owns or can write it (or the way to
    it), or when it is not a directory. A missing one is fine if the way to it is safe:
    carpswitch creates it (`make_private_dir`)."""
    _check(path, want_directory=True)


def _check(path: str, want_directory: bool) -> None:
    trusted = _trusted_uids()
    passed, final, found = _resolve(os.path.abspath(path))
    for entry, entry_stat in passed:
        problem = _ancestor_problem(entry_stat, trusted)
        if problem:
            raise UnsafePath(path, f"{entry} is {problem}")
    if found is None:
        return
    problem = _final_problem(found, trusted, want_directory)
    if problem:
        where = "" if final == os.path.abspath(path) else f" (resolved to {final})"
        raise UnsafePath(path, f"{problem}{where}")


def _trusted_uids() -> frozenset[int]:
    return frozenset((0, os.geteuid()))


def _ancestor_problem(entry: os.stat_result, trusted: frozenset[int]) -> str | None:
    """What makes a directory or symlink on the way unsafe (None: nothing)."""
    if entry.st_uid not in trusted:
        return _owner_problem(entry)
    if stat.S_ISLNK(entry.st_mode):
        return None  # a symlink's own mode means nothing; its owner could re-point it
    if entry.st_mode & 0o022 and not entry.st_mode & stat.S_ISVTX:
        return f"writable by {_writers(entry)} without the sticky bit (mode {_mode(entry)})"
    return None


def _final_problem(
    entry: os.stat_result, trusted: frozenset[int], want_directory: bool
) -> str | None:
    if want_directory and not stat.S_ISDIR(entry.st_mode):
        return "not a directory"
    if not want_directory and not stat.S_ISREG(entry.st_mode):
        return "not a regular file"
    if entry.st_uid not in trusted:
        return _owner_problem(entry)
    if entry.st_mode & 0o022:
        return f"writable by {_writers(entry)} (mode {_mode(entry)})"
    return None


def _owner_problem(entry: os.stat_result) -> str:
    import pwd  # only on this error path: the hook's start-up stays fast

    try:
        owner = f"{pwd.getpwuid(entry.st_uid).pw_name} (uid {entry.st_uid})"
    except KeyError:
        owner = f"uid {entry.st_uid}"
    return f"owned by {owner}, not by root"


def _writers(entry: os.stat_result) -> str:
    group, other = entry.st_mode & 0o020, entry.st_mode & 0o002
    return "group and others" if group and other else "group" if group else "others"


def _mode(entry: os.stat_result) -> str:
    return f"{stat.S_IMODE(entry.st_mode):04o}"


Passed = list[tuple[str, os.stat_result]]


def _resolve(path: str) -> tuple[Passed, str, os.stat_result | None]:
    """Resolve absolute `path` as the kernel does, with lstat of every entry on the way.

    Returns (every directory and symlink passed, the resolved path, its lstat or None
    when it does not exist). Raises UnsafePath for a symlink loop or a component that is
    not a directory.
    """
    passed: Passed = []
    current = "/"
    found: os.stat_result | None = os.lstat(current)
    pending = [p for p in reversed(path.split("/")) if p not in ("", ".")]
    links = 0
    while pending:
        name = pending.pop()
        if name == "..":
            current = os.path.dirname(current)
            found = os.lstat(current)
            continue
        if found is not None:
            passed.append((current, found))
        candidate = os.path.join(current, name)
        try:
            found = os.lstat(candidate)
        except FileNotFoundError:
            return passed, candidate, None
        except NotADirectoryError:
            raise UnsafePath(path, f"{current} is not a directory") from None
        if not stat.S_ISLNK(found.st_mode):
            current = candidate
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise UnsafePath(path, "too many levels of symbolic links")
        passed.append((candidate, found))
        target = os.readlink(candidate)
        if target.startswith("/"):
            current = "/"
        pending += [p for p in reversed(target.split("/")) if p not in ("", ".")]
        found = os.lstat(current)
    return passed, current, found


# --- creating and using state files ------------------------------------------------


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


def read_state_file(path: str) -> bytes:
    """The content of state file `path`: never through a symlink, never a FIFO or device.

    Raises FileNotFoundError when it is absent and OSError when it is not a regular file
    (ELOOP for a symlink) or cannot be read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
    try:
        _require_regular(fd, path)
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


def replace_file(path: str, data: bytes, keep_old_as: str | None = None) -> None:
    """Replace `path` atomically: a private temporary file, fsync, rename, fsync the dir.

    With `keep_old_as`, what was at `path` stays there under that name (a hard link, or a
    rename for what cannot be linked), and `path` is never missing meanwhile.
    """
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    _unlink_if_there(temporary)  # left by a process of ours that died, its pid now ours
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, FILE_MODE)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if keep_old_as is not None:
            _keep(path, keep_old_as)
        os.replace(temporary, path)
    except BaseException:
        _unlink_if_there(temporary)
        raise
    _fsync_directory(directory)


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
        with contextlib.suppress(FileNotFoundError):  # another process was first
            set_aside(path)
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
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
