"""The candidate index's box tree against a brute-force scan, through inserts and deletes.

Hypothesis drives random sequences of batches inserted, slots deleted and boxes
queried, with the shapes that stress the packing: single boxes (the service's
usual filing), batches of the tail's size and more, boxes unbounded in time, and
long runs in which almost every box is deleted before its tail is packed (two
operations replaced in turn, which once made a tree of one box and failed).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.engine.boxindex import TAIL, BoxIndex
from test_engine_properties import ENGINE_SETTINGS


def _boxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    lo = rng.uniform(-1.0, 1.0, (n, 4))
    hi = lo + rng.uniform(0.0, 0.3, (n, 4))
    open_ended = rng.random(n) < 0.1
    lo[open_ended, 3] = -np.inf
    hi[rng.random(n) < 0.1, 3] = np.inf
    return lo, hi


def _brute(
    lo: np.ndarray, hi: np.ndarray, alive: set[int], q_lo: np.ndarray, q_hi: np.ndarray
) -> set[int]:
    """The live slots whose closed boxes meet the query's."""
    return {s for s in alive if bool(np.all(lo[s] <= q_hi) and np.all(hi[s] >= q_lo))}


@settings(ENGINE_SETTINGS)
@given(
    seed=st.integers(0, 2**32 - 1),
    batches=st.lists(st.sampled_from([1, 1, 1, 2, 3, TAIL - 1, TAIL, TAIL + 5]), max_size=12),
    keep_alive=st.integers(0, 3),
)
def test_every_query_finds_exactly_the_live_boxes_it_meets(
    seed: int, batches: list[int], keep_alive: int
) -> None:
    rng = np.random.default_rng(seed)
    # one long run of single boxes, each deleting those before it but the last few
    batches = batches + [1] * (2 * TAIL + 3)
    total = sum(batches)
    lo, hi = _boxes(rng, total)
    index, alive, next_slot = BoxIndex(), set[int](), 0
    for size in batches:
        slots = np.arange(next_slot, next_slot + size)
        index.insert_many(slots, lo[slots], hi[slots])
        alive.update(slots.tolist())
        next_slot += size
        if size == 1:
            for slot in sorted(alive)[: max(0, len(alive) - keep_alive - 1)]:
                if rng.random() < 0.9:
                    index.delete(slot)
                    alive.discard(slot)
        q_lo, q_hi = _boxes(rng, 1)
        q_lo, q_hi = q_lo[0], q_hi[0] + 0.5
        found = index.query(q_lo, q_hi).tolist()
        assert len(found) == len(set(found))
        assert set(found) == _brute(lo, hi, alive, q_lo, q_hi)
