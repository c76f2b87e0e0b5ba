"""`state_dir/hast-events.jsonl`: what hastd's `exec` hook reported, one JSON line each.

Not the transition journal: its lines are a transition's events, and a line that is not
one is reported there as torn or foreign; it also rotates only when no transition of its
own process is open. The hook is another process, forked by hastd at any moment (several
at once), so these lines get a file of their own: a single O_APPEND write(2) per event
(atomic for lines this small), fsynced, rotated by size into `hast-events.jsonl.1`...
A rotation two hooks race for loses no line (a rename moves the file under an open
descriptor, and an append always lands in one of the files); at worst the oldest file goes
one rotation early. A primary in split-brain re-fires its event every 10 s: the size bound
is what keeps that from filling state_dir.
"""

from __future__ import annotations

import json
import os
import time
from typing import NamedTuple

from carpswitch.statefiles import (
    append_line,
    make_private_dir,
    read_state_file,
    rotate_numbered,
)

EVENTS_NAME = "hast-events.jsonl"


class HastEvent(NamedTuple):
    """One call of the hook: `EVENT RESOURCE [ARGS]` as hastd gave them. (A NamedTuple and
    no uuid or datetime: the hook imports this, and dataclasses would import inspect.)"""

    id: str
    at: str  # ISO 8601, UTC
    event: str
    resource: str | None
    args: tuple[str, ...] = ()
    known: bool = True  # an event hastd may have grown since: logged, nothing done

    @classmethod
    def now(cls, event: str, resource: str | None, args: tuple[str, ...], known: bool) -> HastEvent:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return cls(os.urandom(6).hex(), at, event, resource, args, known)

    def document(self) -> dict[str, object]:
        return {**self._asdict(), "args": list(self.args)}

    def line(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode() + b"\n"


class HastEventLog:
    """The events file under `state_dir`, `keep` rotated files of about `max_bytes`."""

    def __init__(self, state_dir: str, max_bytes: int = 1 << 20, keep: int = 2) -> None:
        self.path = os.path.join(state_dir, EVENTS_NAME)
        self.max_bytes = max_bytes
        self.keep = keep

    def append(self, event: HastEvent) -> None:
        """Add one line (made durable); raises OSError."""
        make_private_dir(os.path.dirname(self.path))
        self._rotate_if_full()
        append_line(self.path, event.line())

    def _rotate_if_full(self) -> None:
        try:
            if os.lstat(self.path).st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        rotate_numbered(self.path, self.keep, missing_ok=True)  # another hook may be first

    def events(self) -> list[HastEvent]:
        """Every event still kept, oldest first; lines that are not events are skipped."""
        found = []
        for name in [f"{self.path}.{n}" for n in range(self.keep, 0, -1)] + [self.path]:
            try:
                raw = read_state_file(name)
            except OSError:
                continue
            for line in raw.splitlines():
                try:
                    data = json.loads(line)
                    data["args"] = tuple(data.get("args", ()))
                    found.append(HastEvent(**data))
                except (ValueError, TypeError):
                    continue
        return found
