"""The primary's map of extents that may differ between the nodes (activemap.c).

Before a write the extent goes into the on-disk map (an "activemap update" when it was
not there yet); it leaves the in-memory map when the write has reached both components,
and stays on disk, least recently used first out, up to `keepdirty` extents, so that a
primary that crashes resynchronises only those. A write that did not reach the peer
leaves its extent needing synchronisation; the sync thread copies such extents and then
clears them from both maps. hastctl's `dirty` is the extents still to synchronise times
the extent size (in flight writes are not counted: they finish within the request).
"""

from __future__ import annotations

from collections.abc import Iterable

#: hast.h defaults (hastctl create -e / -k).
EXTENT_SIZE = 2 * 1024 * 1024
KEEPDIRTY = 64


class ActiveMap:
    """Dirty extents of one resource; not thread-safe (the caller holds a lock)."""

    def __init__(
        self,
        datasize: int,
        extentsize: int = EXTENT_SIZE,
        keepdirty: int = KEEPDIRTY,
        diskmap: Iterable[int] = (),
        needsync: Iterable[int] = (),
    ) -> None:
        self.extentsize = extentsize
        self.keepdirty = keepdirty
        self.nextents = max(1, -(-datasize // extentsize))
        self.diskmap: list[int] = [e for e in dict.fromkeys(diskmap) if 0 <= e < self.nextents]
        # activemap_copyin: every extent dirty on disk may differ, so it is synchronised.
        self.needsync: set[int] = set(self.diskmap) | {
            e for e in needsync if 0 <= e < self.nextents
        }
        self._inflight: dict[int, int] = {}

    def extents(self, offset: int, length: int) -> range:
        """The extents a request at `offset` of `length` bytes touches."""
        first = offset // self.extentsize
        last = (offset + max(length, 1) - 1) // self.extentsize
        return range(first, min(last, self.nextents - 1) + 1)

    def write_start(self, extents: Iterable[int]) -> bool:
        """A write begins; True if the on-disk map changed (flush it)."""
        changed = False
        for extent in extents:
            self._inflight[extent] = self._inflight.get(extent, 0) + 1
            if extent in self.diskmap:
                self.diskmap.remove(extent)
            else:
                changed = True
            self.diskmap.append(extent)
        while len(self.diskmap) > self.keepdirty:
            victim = next(
                (e for e in self.diskmap if e not in self._inflight and e not in self.needsync),
                None,
            )
            if victim is None:
                break
            self.diskmap.remove(victim)
        return changed

    def write_complete(self, extents: Iterable[int], replicated: bool) -> bool:
        """A write finished (`replicated`: the peer has it too); True if `dirty` changed."""
        changed = False
        for extent in extents:
            left = self._inflight.get(extent, 1) - 1
            if left > 0:
                self._inflight[extent] = left
            else:
                self._inflight.pop(extent, None)
            if not replicated and extent not in self.needsync:
                self.needsync.add(extent)
                changed = True
        return changed

    def next_to_sync(self) -> int | None:
        """The lowest extent that needs synchronising (activemap_sync_offset), writes in
        flight or not: the sync thread waits for those (primary.c range_regular)."""
        return min(self.needsync, default=None)

    def in_flight(self, extent: int) -> bool:
        """A regular write to `extent` has begun and not finished."""
        return extent in self._inflight

    def sync_complete(self, extent: int) -> None:
        """`extent` is the same on both nodes now (activemap_extent_complete)."""
        self.needsync.discard(extent)
        if extent in self.diskmap and extent not in self._inflight:
            self.diskmap.remove(extent)

    def merge(self, extents: Iterable[int]) -> None:
        """activemap_merge: the peer's dirty extents need synchronising too."""
        for extent in extents:
            if 0 <= extent < self.nextents:
                self.needsync.add(extent)
                if extent not in self.diskmap:
                    self.diskmap.append(extent)

    def mark_all(self) -> None:
        """Full synchronisation: every extent may differ."""
        self.needsync = set(range(self.nextents))

    @property
    def dirty_bytes(self) -> int:
        """hastctl's `dirty`: bytes still to synchronise."""
        return len(self.needsync) * self.extentsize
