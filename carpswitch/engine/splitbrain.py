"""Split-brain marks: `state_dir/split-brain/NAME`, one file per HAST resource hastd said
was in split-brain (its `exec` hook, `carpswitch hast-event split-brain NAME`).

A marked resource is never promoted automatically (devd, daemon, boot reconcile): only an
admin's `promote --force` may, and only `carpswitch split-brain clear NAME` drops the mark
(`carpswitch clear` has no power over it: it lifts a hold of failed promotions, and a
split-brain is no failure of this node that waiting or clearing could mend).

One file per resource, so that the hooks hastd forks at once (one per resource, not waited
for) never read-modify-write a shared file: the file's existence is the mark, created with
O_EXCL so that exactly one hook raises the alarm; its content (when, by whom) is for the
admin only, and a mark whose content cannot be read is still a mark. A directory that
cannot be listed (not a directory, a symlink, unreadable) may have named any resource: it
counts as a mark on every resource (`Marks.unreadable`), and nothing sets it aside, since
an empty directory in its place would let a promotion through.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from carpswitch.statefiles import (
    FILE_MODE,
    describe_os_error,
    fsync_directory,
    make_private_dir,
    read_state_file,
)

MARKS_DIR = "split-brain"
#: What an operator runs next, in every refusal and status line.
WHAT_TO_RUN = "run carpswitch split-brain status"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Marks(NamedTuple):
    """The resources marked in split-brain; `unreadable` (why) means every resource is.
    (A NamedTuple: the hook imports this, and dataclasses would import inspect.)"""

    resources: frozenset[str] = frozenset()
    unreadable: str | None = None
    details: Mapping[str, str] = {}  # name -> since (read only)

    def covers(self, name: str) -> bool:
        """Whether `name` counts as in split-brain (an unreadable directory: every name)."""
        return self.unreadable is not None or name in self.resources

    def reason(self, names: Sequence[str]) -> str | None:
        """The refusal reason for a group of these resources, or None when none is marked."""
        if self.unreadable is not None and names:
            return f"split-brain marks unreadable ({self.unreadable}): {WHAT_TO_RUN}"
        marked = [n for n in names if n in self.resources]
        if not marked:
            return None
        return f"split-brain on {', '.join(marked)}: {WHAT_TO_RUN}"


def file_name(resource: str) -> str:
    """`resource` as one file name: `%` and `/` escaped, and a leading dot (never a mark:
    replace_file's temporaries start with one)."""
    name = resource.replace("%", "%25").replace("/", "%2F")
    return "%2E" + name[1:] if name.startswith(".") else name


def resource_name(name: str) -> str:
    """The resource a mark's file name stands for (file_name reversed)."""
    lead, rest = (".", name[3:]) if name.startswith("%2E") else ("", name)
    return lead + rest.replace("%2F", "/").replace("%25", "%")


class SplitBrainMarks:
    """The marks under `state_dir`."""

    def __init__(self, state_dir: str) -> None:
        self.directory = os.path.join(state_dir, MARKS_DIR)

    def path(self, resource: str) -> str:
        return os.path.join(self.directory, file_name(resource))

    def read(self) -> Marks:
        """The marks now; never raises (an unreadable directory marks every resource)."""
        try:
            fd = os.open(
                self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
        except FileNotFoundError:
            return Marks()
        except OSError as exc:
            return Marks(unreadable=f"{self.directory}: {describe_os_error(exc)}")
        try:
            names = [n for n in os.listdir(fd) if not n.startswith(".")]
        except OSError as exc:
            return Marks(unreadable=f"{self.directory}: {describe_os_error(exc)}")
        finally:
            os.close(fd)
        details = {resource_name(n): self._since(n) for n in names}
        return Marks(resources=frozenset(details), details=details)

    def _since(self, name: str) -> str:
        try:
            return str(json.loads(read_state_file(os.path.join(self.directory, name)))["since"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unknown (mark unreadable: {type(exc).__name__})"

    def mark(self, resource: str, event_id: str) -> bool:
        """Mark `resource`; True when this call made the mark (False: it was marked).

        Raises OSError when the mark cannot be made (a full disk, a broken state_dir).
        """
        make_private_dir(self.directory)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            fd = os.open(self.path(resource), _CREATE, FILE_MODE)
        except FileExistsError:
            return False
        try:
            text = json.dumps({"resource": resource, "since": since, "event": event_id})
            os.write(fd, text.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(self.directory)
        return True

    def clear(self, resource: str) -> bool:
        """Drop `resource`'s mark; False when it had none. Raises OSError."""
        try:
            os.unlink(self.path(resource))
        except FileNotFoundError:
            return False
        fsync_directory(self.directory)
        return True
