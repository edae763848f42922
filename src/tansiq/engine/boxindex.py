"""An incremental index of 4D boxes that answers one query box in microseconds.

shapely's STRtree is the fastest box index at hand (packed, queried in C, answers a
numpy array), but it is static. The logarithmic method (Bentley and Saxe) makes it
incremental: new boxes wait in a short tail searched by brute force; when the tail
is full it is packed into a tree together with every level not larger than it, so
each box is repacked O(log n) times and a query visits O(log n) trees. The trees
index two of the four axes (the two Earth-centred axes across which the volumes
spread); a query checks the other two (the third axis and time) on the hits.
Deleted boxes are marked dead and left out of the next repacking.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
TAIL = 256
#: cell of the grid that orders a packed level in memory, metres
GRID_M = 20_000.0


class BoxIndex:
    """Boxes ``[lo, hi]`` in 4D, each under an integer slot chosen by the caller."""

    def __init__(self) -> None:
        self._lo = np.zeros((0, 4))
        self._hi = np.zeros((0, 4))
        self._alive = np.zeros(0, dtype=bool)
        self._levels: list[_Level] = []
        self._tail: list[int] = []
        self._axes: tuple[int, int] | None = None

    def insert_many(self, slots: IntArray, lo: FloatArray, hi: FloatArray) -> None:
        self._reserve(int(slots.max()) + 1)
        self._lo[slots], self._hi[slots] = lo, hi
        self._alive[slots] = True
        if len(slots) >= TAIL:
            self._pack([slots])
            return
        self._tail.extend(slots.tolist())
        if len(self._tail) >= TAIL:
            self._pack_tail()

    def delete(self, slot: int) -> None:
        self._alive[slot] = False

    def query(self, lo: FloatArray, hi: FloatArray) -> IntArray:
        """Slots of the live boxes that intersect ``[lo, hi]`` (closed)."""
        parts: list[IntArray] = []
        if self._levels:
            assert self._axes is not None
            a, b = self._axes
            probe = shapely.box(lo[a], lo[b], hi[a], hi[b])
            parts.extend(level.query(probe, lo, hi) for level in self._levels)
        if self._tail:
            tail = np.asarray(self._tail, dtype=np.int64)
            inside = (self._lo[tail] <= hi).all(axis=1) & (self._hi[tail] >= lo).all(axis=1)
            parts.append(tail[inside])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        hits = np.concatenate(parts) if len(parts) > 1 else parts[0]
        found: IntArray = hits[self._alive[hits]]
        return found

    def _reserve(self, size: int) -> None:
        if size <= len(self._alive):
            return
        capacity = max(size, len(self._alive) + len(self._alive) // 4, 1024)
        for name in ("_lo", "_hi"):
            grown = np.zeros((capacity, 4))
            grown[: len(self._alive)] = getattr(self, name)[: len(self._alive)]
            setattr(self, name, grown)
        alive = np.zeros(capacity, dtype=bool)
        alive[: len(self._alive)] = self._alive
        self._alive = alive

    def _pack_tail(self) -> None:
        tail = np.asarray(self._tail, dtype=np.int64)
        self._tail = []
        self._pack([tail])

    def _pack(self, groups: list[IntArray]) -> None:
        size = sum(len(g) for g in groups)
        # absorb every level not larger than what is being packed (the logarithmic method)
        while self._levels and len(self._levels[-1].slots) <= size:
            slots = self._levels.pop().slots
            groups.append(slots)
            size += len(slots)
        merged = np.concatenate(groups)
        merged = merged[self._alive[merged]]
        if merged.size == 0:
            return
        if self._axes is None:
            self._axes = spread_axes(self._lo[merged], self._hi[merged])
        self._levels.append(_Level(merged, self._lo[merged], self._hi[merged], self._axes))
        self._levels.sort(key=lambda level: -len(level.slots))


class _Level:
    """One packed tree and its boxes, stored in the order of a coarse spatial grid.

    Boxes found by one query lie close together on the ground; stored close together
    in memory too, their coordinates are read without a cache miss each.
    """

    def __init__(
        self, slots: IntArray, lo: FloatArray, hi: FloatArray, axes: tuple[int, int]
    ) -> None:
        a, b = axes
        centre_a = (lo[:, a] + hi[:, a]) / 2
        centre_b = (lo[:, b] + hi[:, b]) / 2
        order = np.lexsort((np.floor(centre_b / GRID_M), np.floor(centre_a / GRID_M)))
        self.slots = slots[order]
        self.lo = np.ascontiguousarray(lo[order])
        self.hi = np.ascontiguousarray(hi[order])
        self.tree = shapely.STRtree(
            shapely.box(self.lo[:, a], self.lo[:, b], self.hi[:, a], self.hi[:, b])
        )

    def query(self, probe: shapely.Geometry, lo: FloatArray, hi: FloatArray) -> IntArray:
        idx = np.sort(self.tree.query(probe))
        inside = (self.lo[idx] <= hi).all(axis=1) & (self.hi[idx] >= lo).all(axis=1)
        found: IntArray = self.slots[idx[inside]]
        return found


def spread_axes(lo: FloatArray, hi: FloatArray) -> tuple[int, int]:
    """The two Earth-centred axes to index: drop the one most aligned with the volumes' 'up'."""
    centre = (lo[:, :3] + hi[:, :3]) / 2
    norm = np.linalg.norm(centre, axis=1, keepdims=True)
    mean = np.abs((centre / np.where(norm > 0, norm, 1.0)).mean(axis=0))
    drop = int(np.argmax(mean))
    keep = [axis for axis in range(3) if axis != drop]
    return keep[0], keep[1]
