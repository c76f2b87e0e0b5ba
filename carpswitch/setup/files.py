"""The files set-up owns on a node: compare, show as a unified diff, write atomically.

A write never leaves a half-written file: a temporary file in the same directory, fsync,
rename over the path, fsync the directory (a crash leaves the old file or the new). The
old text, when it differs, is kept as `PATH.carpswitch-backup` so an admin can go back.
A full disk or an unwritable directory is a one-line SetupError naming the path, and the
old file is left as it was.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from carpswitch.errors import CarpswitchError
from carpswitch.setup.render import NodeFile
from carpswitch.statefiles import replace_file

BACKUP_SUFFIX = ".carpswitch-backup"


class SetupError(CarpswitchError):
    """Set-up cannot go on: one line that says what and where (nothing was changed)."""


@dataclass(frozen=True)
class FileChange:
    """One file that differs from what set-up renders (text or mode)."""

    file: NodeFile
    old_text: str | None  # None: the file does not exist
    old_mode: int | None

    @property
    def diff(self) -> str:
        """`--- PATH` / `+++ PATH (new)` unified diff; a mode change as a note line."""
        old = [] if self.old_text is None else self.old_text.splitlines(keepends=True)
        new = self.file.text.splitlines(keepends=True)
        path = self.file.path
        lines = list(difflib.unified_diff(old, new, path, f"{path} (new)"))
        text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        if self.old_mode is not None and self.old_mode != self.file.mode:
            text += f"mode {self.old_mode:04o} -> {self.file.mode:04o}: {path}\n"
        return text


def read_current(path: str) -> tuple[str | None, int | None]:
    """(text, mode) of `path`, or (None, None) when it does not exist.

    A file that exists but cannot be read is a SetupError: an unreadable file is never a
    reason to overwrite it.
    """
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode & 0o7777
            data = handle.read()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data.decode("utf-8", "replace"), mode


def changes(files: tuple[NodeFile, ...]) -> tuple[FileChange, ...]:
    """The files whose text or mode differs from what is on disk, in `files`' order."""
    found = []
    for file in files:
        text, mode = read_current(file.path)
        if text != file.text or mode != file.mode:
            found.append(FileChange(file, text, mode))
    return tuple(found)


def write_file(file: NodeFile, old_text: str | None) -> None:
    """Write `file` atomically with its mode; back up a differing old text first.

    Raises SetupError (one line, the path and the reason); the old file is then intact.
    """
    path = file.path
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        if old_text is not None and old_text != file.text:
            replace_file(path + BACKUP_SUFFIX, old_text.encode())  # 0600: it may hold the pass
        replace_file(path, file.text.encode(), mode=file.mode)
    except OSError as exc:
        raise SetupError(f"cannot write {path}: {exc.strerror or exc}") from exc
