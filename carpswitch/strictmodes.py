"""StrictModes for carpswitch: refuse a config, state_dir or run_dir another user can change.

Whoever can write carpswitch.toml, state_dir or run_dir (or a directory on the way to
them) can plant a symlink that makes root truncate a file, forge `paused` or the failure
book, or point `[commands] hastctl` at their own script. So, as sshd's StrictModes does,
the config file, run_dir and state_dir, and every directory and symlink the kernel passes
on the way to them must be owned by root (or by the user carpswitch runs as) and must not
be writable by group or others; a world-writable ancestor with the sticky bit (/tmp) is
fine, since there nobody renames what is not theirs.

Standard library only: the devd hook imports this module.
"""

from __future__ import annotations

import os
import stat

from carpswitch.errors import ConfigError

#: Symlinks followed while resolving one path before giving up (as the kernel does).
MAX_SYMLINKS = 32


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
