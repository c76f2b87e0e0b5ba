"""Read carpswitch.toml without trusting it: standard library only (the devd hook uses it).

What an admin (or a hostile local user) may hand us instead of a config: an empty `-c ''`,
a FIFO that blocks an open() forever, /dev/zero, a directory, a huge file, bytes that are
not UTF-8, TOML nested deep enough to exhaust the parser's recursion. Each is one
ConfigError line naming the file; nothing is ever opened blocking. Symbolic links are
followed (configs under /usr/local/etc are often links), but what they end at must be a
regular file. `read_regular_file` does the reading for hast.conf too.

`tomllib` and `re` are imported only when a file is decoded: the devd hook reads the bytes
and the identity of the file (`read_config`) and decodes them only when its validated
summary does not match (carpswitch.intake.summary).
"""

from __future__ import annotations

import errno
import os
import stat

from carpswitch.errors import ConfigError
from carpswitch.strictmodes import check_config_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: A carpswitch.toml is a few kilobytes; anything this big is not one.
MAX_BYTES = 1 << 20

_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_TOML_POSITION = r"(?P<message>.*) \(at (?P<where>line \d+, column \d+|end of document)\)"


class NotAFile(OSError):
    """What is at the path is no regular file, or too big to be the file we want."""


def read_regular_file(path: str, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path` (symlinks followed), never blocking.

    stat() first, so a FIFO or a device is never opened; the open is O_NONBLOCK and the
    descriptor is checked again (the path may have been swapped in between). Raises
    NotAFile (its strerror says what it is instead), or the OSError of stat/open/read.
    """
    return read_regular_file_as_opened(path, max_bytes)[0]


def read_regular_file_as_opened(path: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """`read_regular_file`, and the fstat of the file the bytes were read from."""
    before = os.stat(path)
    _require_regular(before)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        opened = os.fstat(descriptor)
        _require_regular(opened)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise NotAFile(errno.EAGAIN, "was replaced while it was being read")
        raw = _read_at_most(descriptor, max_bytes + 1)
    finally:
        os.close(descriptor)
    if len(raw) > max_bytes:
        raise NotAFile(errno.EFBIG, f"larger than {max_bytes // 1024} KiB")
    return raw, opened


def read_toml(path: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
    """The decoded TOML of the regular file `path`; None if it is missing and `missing_ok`.

    Raises ConfigError (one problem, naming `path`) for anything else that is wrong.
    """
    found = read_config(path, missing_ok=missing_ok)
    return None if found is None else parse_toml(found[0], path)


def read_config(path: str, *, missing_ok: bool = False) -> tuple[bytes, os.stat_result] | None:
    """The bytes of config file `path` and its fstat, not decoded; None as `read_toml`.

    Raises ConfigError as `read_toml` does for a file that is missing, no regular file,
    too big, unreadable, or that another user owns or can write (StrictModes).
    """
    if not path:
        raise ConfigError("''", ["the config path is empty"])
    try:
        found = read_regular_file_as_opened(path, MAX_BYTES)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError(path, ["no such file"]) from None
    except NotAFile as exc:
        suffix = ": not a carpswitch.toml" if exc.errno == errno.EFBIG else ""
        raise ConfigError(path, [f"{exc.strerror}{suffix}"]) from None
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    check_config_file(path)  # before a word of it counts: no other user may steer carpswitch
    return found


def parse_toml(raw: bytes, path: str) -> dict[str, Any]:
    """Decode `raw` (UTF-8 TOML); ConfigError naming `path` and the line when it is not."""
    import tomllib

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            path, [f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})"]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [_toml_problem(str(exc))]) from None
    except RecursionError:
        raise ConfigError(path, ["not valid TOML: arrays or tables nested too deeply"]) from None


def _toml_problem(message: str) -> str:
    """`line 3, column 7: not valid TOML: Expected ...`: the position said once, first."""
    import re

    found = re.fullmatch(_TOML_POSITION, message)
    if found is None:
        return f"not valid TOML: {message}"
    return f"{found['where']}: not valid TOML: {found['message']}"


def _require_regular(status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(status.st_mode), "something else")
        raise NotAFile(errno.EINVAL, f"{what}, not a regular file")


def _read_at_most(descriptor: int, limit: int) -> bytes:
    chunks = []
    left = limit
    while left > 0:
        chunk = os.read(descriptor, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
