"""One look at the node per phase of a transition.

Each fact (`hastctl list`, `mount -p`, `zpool list`, one `service NAME onestatus` per
service) is read once, the first time a step needs it, and every later step of the phase
decides from that answer: N resources cost one `hastctl list`, not one per step. A read
that failed is kept as failed: every step that needs the fact raises the read's error, as
it did when it read the node itself (a promotion step fails `unread`, a demotion acts).

A step that changes the node says what it changed (`changed_hast(name)`, `changed_mounts()`,
...); the next step that asks about that fact reads it again (only that resource for
hastctl: `hastctl list NAME`), so no step decides from a fact an earlier step changed.
A change noted while a read runs keeps the fact stale: generations, not flags.
Waits (release, device, peer) do not use a snapshot: they poll the live node.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from carpswitch.errors import CommandError, ParseError
from carpswitch.model import HastResource, Mount, NodeState, Pool, ServiceStatus
from carpswitch.system.observe import Observer

T = TypeVar("T")

#: Errors that mean "the fact could not be read" (what Observer's reads raise).
READ_ERRORS = (CommandError, ParseError)


class _Fact(Generic[T]):
    """One fact: read at most once until something changed it; the read's error is kept.

    A change is noted for a key (a mount point, a pool): a look about another key still
    takes the kept answer, a look about that key (or about everything) reads again.
    """

    def __init__(self, read: Callable[[], T], clock: Callable[[], int]) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._error: Exception | None = None
        self._read_at = -1  # generation at which the kept answer was read; -1: none
        self._changed_at: dict[str | None, int] = {}  # key (None: all of it) -> generation

    def seed(self, value: T) -> None:
        """Take an answer read just before the phase began (the reconcile's look)."""
        with self._lock:
            self._value, self._error, self._read_at = value, None, self._clock()

    def changed(self, key: str | None = None) -> None:
        with self._lock:
            self._changed_at[key] = self._clock()

    def _stale(self, key: str | None) -> bool:
        if key is None:
            return any(self._read_at <= at for at in self._changed_at.values())
        latest = max(self._changed_at.get(key, -1), self._changed_at.get(None, -1))
        return self._read_at <= latest

    def get(self, key: str | None = None) -> T:
        """The answer, read again when `key` (None: anything) changed since it was read."""
        with self._lock:  # parallel chains wait for the one read, not run their own
            if self._read_at < 0 or self._stale(key):
                self._read_at = self._clock()
                try:
                    self._value, self._error = self._read(), None
                except READ_ERRORS as exc:
                    self._value, self._error = None, exc
            if self._error is not None:
                raise self._error
            assert self._value is not None
            return self._value


class Snapshot:
    """What one phase saw of the node; thread-safe (resource chains run in parallel)."""

    def __init__(self, observer: Observer, seen: NodeState | None = None) -> None:
        self.observer = observer
        self._tick = itertools.count()
        self._clock_lock = threading.Lock()
        self._hast = _Fact(self._read_hast, self._clock)
        self._mounts = _Fact(lambda: self.observer.mounts(), self._clock)
        self._pools = _Fact(lambda: self.observer.pools(), self._clock)
        self._services: dict[str, _Fact[ServiceStatus]] = {}
        self._lock = threading.Lock()
        self._stale: dict[str, int] = {}  # resource -> generation its role was changed at
        self._fresh: dict[str, tuple[int, HastResource | None]] = {}  # re-read since
        self._hast_read_at = -1
        if seen is not None:
            self._seed(seen)

    def _clock(self) -> int:
        with self._clock_lock:
            return next(self._tick)

    def _seed(self, seen: NodeState) -> None:
        """Take what the look just before read; a fact it could not read is left for the
        phase to read itself (once): a failed read is never a reason to act, and a second
        try costs one command, not one per step."""
        if "hast" not in seen.unreadable:
            self._hast_read_at = self._clock()
            self._hast.seed(seen.resources)
        if "mounts" not in seen.unreadable and seen.mounts:  # empty: not read (no UFS)
            self._mounts.seed(seen.mounts)
        if "pools" not in seen.unreadable and seen.pools:
            self._pools.seed(seen.pools)
        for status in seen.services:
            self._service(status.name).seed(status)

    # -- reads -------------------------------------------------------------------------

    def _read_hast(self) -> list[HastResource]:
        self._hast_read_at = self._clock()
        return self.observer.hast()

    def hast(self, name: str) -> HastResource | None:
        """What hastctl said of `name` (None: not reported); raises when it was unreadable.

        A resource whose role a step changed is read again alone (`hastctl list NAME`).
        """
        everything = self._hast.get()
        with self._lock:
            changed_at = self._stale.get(name, -1)
            fresh = self._fresh.get(name)
            if changed_at < self._hast_read_at:
                return next((r for r in everything if r.name == name), None)
            if fresh is not None and fresh[0] > changed_at:
                return fresh[1]
            read_at = self._clock()
        found = next((r for r in self.observer.hast([name]) if r.name == name), None)
        with self._lock:
            if self._fresh.get(name, (-1, None))[0] < read_at:
                self._fresh[name] = (read_at, found)
        return found

    def mounts(self, mountpoint: str | None = None) -> list[Mount]:
        """`mount -p` as this phase saw it, read again when a step changed what is mounted
        at `mountpoint` (None: anywhere)."""
        return self._mounts.get(mountpoint)

    def pools(self, pool: str | None = None) -> list[Pool]:
        """`zpool list` as this phase saw it, read again when a step imported or exported
        `pool` (None: any pool)."""
        return self._pools.get(pool)

    def service(self, name: str) -> ServiceStatus:
        """`service NAME onestatus` as this phase saw it."""
        return self._service(name).get()

    def _service(self, name: str) -> _Fact[ServiceStatus]:
        with self._lock:
            if name not in self._services:
                self._services[name] = _Fact(lambda: self.observer.service(name), self._clock)
            return self._services[name]

    # -- what steps changed ------------------------------------------------------------

    def changed_hast(self, name: str) -> None:
        """A step changed (or may have changed) the role of `name`."""
        with self._lock:
            self._stale[name] = self._clock()

    def changed_mounts(self, mountpoint: str | None = None) -> None:
        """A step mounted or unmounted something at `mountpoint` (None: anywhere)."""
        self._mounts.changed(mountpoint)

    def changed_pools(self, pool: str | None = None) -> None:
        """A step imported or exported `pool` (None: any pool)."""
        self._pools.changed(pool)

    def changed_service(self, name: str) -> None:
        """A step started, reloaded or stopped `name`."""
        self._service(name).changed()
