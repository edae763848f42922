"""Python's cycle collector held off while a bulk read builds millions of objects.

Restoring the theater makes a row tuple, a string and a list entry for each of a
million stored volumes, none of them garbage; the collector, which runs after
every few hundred new container objects, kept walking them all: 2.3 of the 11.4 s
of a restore at 1M (a scratch timing, with and without it; docs/benchmarks.md,
"Restart", for the restart measured whole). Nothing is lost by waiting:
whatever cycles a restore leaves are collected at the next run once it is back on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cycle collector off; back on after, if it was on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
