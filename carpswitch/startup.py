"""A command's start: the modules it needs imported with the garbage collector paused.

Importing a command builds ~40 pydantic models and ~60 dataclasses, tens of thousands of
objects that live as long as the process. The cyclic collector, left on, scans them over
and over while they are made (~70 collections: ~8% of the instructions of importing
`promote`'s modules, counted with callgrind). Paused over the imports and then frozen
(gc.freeze: later collections ignore what exists now), they cost nothing more. The
daemon, which runs for months, first collects what the imports left behind as cyclic
garbage (~0.5 MB that a short command never misses), then freezes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(long_lived: bool) -> Iterator[None]:
    """Pause the collector for the `with` body; then freeze what it made, collector on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if long_lived:
            gc.collect()
        gc.freeze()
        if was_enabled:
            gc.enable()
