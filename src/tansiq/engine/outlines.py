"""Core geometries as flat coordinate arrays, the form the compiled exact stage reads.

An outline is what a distance between two disjoint cores is measured to: the
rings of an area (outer and holes, every part of a MultiPolygon), the line of a
route, the single position of a point. Row r of an :class:`Outlines` owns the
parts ``row_part[r]:row_part[r + 1]``; part p owns the positions
``xy[part_start[p]:part_start[p + 1]]`` (lon, lat), consecutive positions joined
by edges straight in lon/lat. A ring repeats its first position at its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
T = TypeVar("T", bound=np.generic)


@dataclass(slots=True)
class Outlines:
    xy: FloatArray
    part_start: IntArray
    row_part: IntArray

    def __len__(self) -> int:
        return len(self.row_part) - 1


def build_outlines(geometries: NDArray[np.object_], is_area: NDArray[np.bool_]) -> Outlines:
    """The outlines of ``geometries`` (already in their continuous longitude frame)."""
    n = len(geometries)
    outline = geometries.copy()
    if is_area.any():
        outline[is_area] = shapely.boundary(geometries[is_area])
    parts, owner = shapely.get_parts(outline, return_index=True)
    xy, part_of = shapely.get_coordinates(parts, return_index=True)
    row_part = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=row_part[1:])
    part_start = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(part_of, minlength=len(parts)), out=part_start[1:])
    return Outlines(np.ascontiguousarray(xy, dtype=np.float64), part_start, row_part)


class OutlineStore:
    """Outlines that grow one batch at a time (for the incremental index).

    Arrays are over-allocated by a quarter so that appends cost amortised O(size of
    the batch); rows are never moved or reused (a removed row's positions stay).
    """

    def __init__(self) -> None:
        self._xy = np.zeros((1024, 2))
        self._part_start = np.zeros(1024, dtype=np.int64)
        self._row_part = np.zeros(1024, dtype=np.int64)
        self._rows = 0
        self._parts = 0

    def append(self, new: Outlines) -> None:
        rows, parts = len(new), len(new.part_start) - 1
        coords = int(self._part_start[self._parts])
        self._xy = reserve(self._xy, coords + len(new.xy))
        self._part_start = reserve(self._part_start, self._parts + parts + 1)
        self._row_part = reserve(self._row_part, self._rows + rows + 1)
        self._xy[coords : coords + len(new.xy)] = new.xy
        self._part_start[self._parts : self._parts + parts + 1] = new.part_start + coords
        self._row_part[self._rows : self._rows + rows + 1] = new.row_part + self._parts
        self._rows += rows
        self._parts += parts

    def view(self) -> Outlines:
        """The current outlines (views into the store: valid until the next append)."""
        coords = int(self._part_start[self._parts])
        return Outlines(
            self._xy[:coords],
            self._part_start[: self._parts + 1],
            self._row_part[: self._rows + 1],
        )


def reserve(array: NDArray[T], size: int) -> NDArray[T]:
    """``array``, or a copy with room for a quarter more than ``size`` rows if it is
    shorter. The room counts from ``size``, not from the array's length: a restart
    fills the columns with a million rows at once, and the first filing after it
    copied them all to add one (part of the 167 ms that filing took at 1M,
    docs/engine.md)."""
    if size <= len(array):
        return array
    grown = np.zeros((size + size // 4, *array.shape[1:]), array.dtype)
    grown[: len(array)] = array
    return grown
