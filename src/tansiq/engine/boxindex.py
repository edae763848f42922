"""An incremental index of 4D boxes (three Earth-centred axes and time) for one query at a time.

Each level is a packed tree: boxes in Sort-Tile-Recursive order of their
centres (space, then time), grouped eight to a node (FANOUT), nodes eight to a parent, and so on;
a query walks it in compiled code, testing all four axes at every node, so time
prunes as well as space (a week of operations over one area shares little time
with any one query). Packed trees are static; the logarithmic method (Bentley
and Saxe) makes the index incremental: new boxes wait in a short tail searched
by brute force; when the tail is full it is packed into a tree together with
every level not larger than it, so each box is repacked O(log n) times and a
query visits O(log n) trees. Deleted boxes are marked dead and left out of the
next repacking.

Why hand-written: shapely's STRtree indexes two dimensions only (time and the
third axis were filtered afterwards, over hundreds of hits), and R-tree bindings
pay tens of microseconds of call overhead per query.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.jit import jit

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
TAIL = 256
FANOUT = 8


class BoxIndex:
    """Boxes ``[lo, hi]`` in 4D, each under an integer slot chosen by the caller."""

    def __init__(self) -> None:
        self._boxes = np.zeros((0, 8))  # (lo, hi) of each slot: one cache line per box
        self._alive = np.zeros(0, dtype=bool)
        self._levels: list[_Level] = []
        self._tail = np.zeros(TAIL, dtype=np.int64)  # the first _tail_size are waiting
        self._tail_size = 0

    def insert_many(self, slots: IntArray, lo: FloatArray, hi: FloatArray) -> None:
        self._reserve(int(slots.max()) + 1)
        self._boxes[slots, :4], self._boxes[slots, 4:] = lo, hi
        self._alive[slots] = True
        if len(slots) >= TAIL:
            self._pack([slots])
            return
        if self._tail_size + len(slots) > TAIL:
            self._pack([self._tail[: self._tail_size].copy()])
            self._tail_size = 0
        self._tail[self._tail_size : self._tail_size + len(slots)] = slots
        self._tail_size += len(slots)

    def delete(self, slot: int) -> None:
        self._alive[slot] = False

    def query(self, lo: FloatArray, hi: FloatArray) -> IntArray:
        """Slots of the live boxes that intersect ``[lo, hi]`` (closed)."""
        parts = [level.query(lo, hi, self._alive) for level in self._levels]
        if self._tail_size:
            tail = self._tail[: self._tail_size]
            parts.append(_scan(tail, self._boxes, lo, hi, self._alive))
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _reserve(self, size: int) -> None:
        if size <= len(self._alive):
            return
        capacity = max(size + size // 4, 1024)  # room after a bulk insert too (reserve)
        grown = np.zeros((capacity, 8))
        grown[: len(self._alive)] = self._boxes[: len(self._alive)]
        self._boxes = grown
        alive = np.zeros(capacity, dtype=bool)
        alive[: len(self._alive)] = self._alive
        self._alive = alive

    def _pack(self, groups: list[IntArray]) -> None:
        size = sum(len(g) for g in groups)
        # absorb every level not larger than what is being packed (the logarithmic method)
        while self._levels and len(self._levels[-1].slots) <= size:
            slots = self._levels.pop().slots
            groups.append(slots)
            size += len(slots)
        merged = np.concatenate(groups)
        merged = merged[self._alive[merged]]
        if merged.size:
            self._levels.append(_Level(merged, self._boxes[merged]))
            self._levels.sort(key=lambda level: -len(level.slots))


class _Level:
    """One packed tree: entries in packing order, then node boxes level by level upwards."""

    def __init__(self, slots: IntArray, boxes: FloatArray) -> None:
        order = _packing_order(boxes[:, :4], boxes[:, 4:])
        self.slots = slots[order]
        self.boxes = np.ascontiguousarray(boxes[order])
        nodes, starts = [], [0]
        below = self.boxes
        while len(below) > FANOUT:
            cut = np.arange(0, len(below), FANOUT)
            below = np.hstack(
                [np.minimum.reduceat(below[:, :4], cut), np.maximum.reduceat(below[:, 4:], cut)]
            )
            nodes.append(below)
            starts.append(starts[-1] + len(below))
        self.nodes = np.concatenate(nodes) if nodes else np.zeros((0, 8))
        self.starts = np.asarray(starts, dtype=np.int64)

    def query(self, lo: FloatArray, hi: FloatArray, alive: BoolArray) -> IntArray:
        found: IntArray = _walk(self.boxes, self.slots, self.nodes, self.starts, lo, hi, alive)
        return found


def _packing_order(lo: FloatArray, hi: FloatArray) -> IntArray:
    """Sort-Tile-Recursive order of the boxes' centres (Leutenegger et al., 1997).

    Space is first turned to its principal axes (a theater's boxes spread along the
    ground, two axes, unless it spans the globe, three), then the centres are cut
    into slabs of equal count along each axis in turn, time last: runs of FANOUT
    consecutive boxes are then compact in space and time, so node boxes are small.
    """
    n = len(lo)
    if n <= FANOUT:  # one node holds them all, in any order (and fewer than three
        return np.arange(n)  # centres have fewer than three principal axes)
    # an unbounded end counts as the other end; a box unbounded both ways sorts first
    lo_end = np.where(np.isfinite(lo), lo, hi)
    hi_end = np.where(np.isfinite(hi), hi, lo)
    with np.errstate(invalid="ignore"):
        centre = (lo_end + hi_end) / 2
    centre[~np.isfinite(centre)] = -np.inf
    space = centre[:, :3] - centre[:, :3].mean(axis=0)
    sample = space[:: max(1, len(space) // 10_000)]
    _, spread, axes = np.linalg.svd(sample, full_matrices=False)
    ground = space @ axes.T
    used = 3 if spread[2] > 0.1 * spread[0] else 2
    keys = [ground[:, axis] for axis in range(used)] + [centre[:, 3]]
    slabs = max(1, math.ceil((n / FANOUT) ** (1 / len(keys))))
    group = np.zeros(n, dtype=np.int64)
    order = np.arange(n)
    for depth, key in enumerate(keys):
        # by group, then key, as np.lexsort((key, group)) orders them, but one sort of
        # distinct integers (the group, then the key's rank) instead of two stable
        # passes: a third of the time at a million boxes (a restart's whole theater)
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(key)] = np.arange(n)
        order = np.argsort(group * n + rank)
        if depth == len(keys) - 1:
            break
        in_order = group[order]
        first = np.searchsorted(in_order, in_order, side="left")
        size = np.searchsorted(in_order, in_order, side="right") - first
        slab = (np.arange(n) - first) * slabs // size
        group = np.empty_like(group)
        group[order] = in_order * slabs + slab
    sorted_order: IntArray = order
    return sorted_order


@jit
def _overlaps(boxes: FloatArray, row: int, q_lo: FloatArray, q_hi: FloatArray) -> bool:
    for axis in range(4):
        if boxes[row, axis] > q_hi[axis] or boxes[row, 4 + axis] < q_lo[axis]:
            return False
    return True


@jit
def _walk(
    boxes: FloatArray,
    slots: IntArray,
    nodes: FloatArray,
    starts: IntArray,
    q_lo: FloatArray,
    q_hi: FloatArray,
    alive: BoolArray,
) -> IntArray:
    """Live slots of the entries whose boxes meet the query, by depth-first descent."""
    out = np.empty(64, dtype=np.int64)
    found = 0
    levels = len(starts) - 1  # node levels above the entries
    # stack of (level, index); level -1 is the entries
    stack_level = np.empty(64 * FANOUT, dtype=np.int64)
    stack_index = np.empty(64 * FANOUT, dtype=np.int64)
    top = 0
    count = len(boxes) if levels == 0 else starts[levels] - starts[levels - 1]
    for index in range(count):
        stack_level[top] = levels - 1
        stack_index[top] = index
        top += 1
    while top > 0:
        top -= 1
        level, index = stack_level[top], stack_index[top]
        if level < 0:
            if _overlaps(boxes, index, q_lo, q_hi) and alive[slots[index]]:
                if found == len(out):
                    grown = np.empty(2 * len(out), dtype=np.int64)
                    grown[:found] = out
                    out = grown
                out[found] = slots[index]
                found += 1
            continue
        if not _overlaps(nodes, starts[level] + index, q_lo, q_hi):
            continue
        below = len(boxes) if level == 0 else starts[level] - starts[level - 1]
        for child in range(index * FANOUT, min((index + 1) * FANOUT, below)):
            stack_level[top] = level - 1
            stack_index[top] = child
            top += 1
    return out[:found]


@jit
def _scan(
    rows: IntArray, boxes: FloatArray, q_lo: FloatArray, q_hi: FloatArray, alive: BoolArray
) -> IntArray:
    out = np.empty(len(rows), dtype=np.int64)
    found = 0
    for row in rows:
        if alive[row] and _overlaps(boxes, row, q_lo, q_hi):
            out[found] = row
            found += 1
    return out[:found]
