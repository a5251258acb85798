"""Pausing Python's cyclic garbage collector around bounded work that makes many objects.

Checking an import's batch or rendering a slip makes hundreds of thousands of small
objects; left on, the collector runs dozens of times inside the work, and each of its
older passes scans every object alive (half the time of checking HSDS records went
there, and a full collection added tens of milliseconds to whichever slip it landed
in). Reference counting still frees what is no longer used; only cycles wait until the
block ends.

The pause is process-wide, so every pause of the process goes through here: safe when
nested or run in several threads at once (a slip rendered while a harvest imports), the
collector comes back when the last block ends, if it was on when the first began, and
the generations the blocks asked to have swept are swept then, in the thread ending
the last block, outside the lock (a finalizer the sweep runs may pause again).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False
# The oldest generation a block of the current pause asked to have swept at its end.
_sweep = -1


@contextmanager
def collection_paused(*, sweep: int = 0) -> Iterator[None]:
    """Run the block without the cyclic collector; once the last block ends, turn it
    back on and collect generations up to `sweep` (what the blocks made and kept is
    scanned once, there, rather than by whichever collection happens next)."""
    global _pauses, _was_enabled, _sweep
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
        _sweep = max(_sweep, sweep)
    resumed, generation = False, -1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0:
                resumed, generation, _sweep = _was_enabled, _sweep, -1
                if resumed:
                    gc.enable()
        if resumed:
            gc.collect(generation)
