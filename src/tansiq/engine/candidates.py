"""The 4D candidate prefilter of :func:`tansiq.engine.detect.detect`.

Each volume gets an Earth-centred box (exact for its lon/lat bounds, so it holds
the whole footprint wherever it lies: poles and antimeridian included) widened by
its buffer plus half the largest horizontal minimum any partner could impose (and
a metre, for rounding), and
a time window widened by half the largest time minimum. Two volumes closer than
their separation always have overlapping widened boxes and windows (a chord is
never longer than the geodesic), so no true conflict is ever dropped.

The join: volumes are put into time blocks; inside each block a shapely STRtree
over two of the three Earth-centred axes finds overlapping boxes in one vectorised
call, and the third axis is checked on the result. A pair living in several blocks
is emitted only in the first block both share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray

from tansiq.engine.footprints import Footprints
from tansiq.engine.geodesy import FloatArray
from tansiq.engine.kernel import BOX_MAX, BOX_MIN, BUFFER, END, KIND, START
from tansiq.engine.rules import SeparationTable

IntArray = NDArray[np.int64]
_Number = TypeVar("_Number", float, FloatArray)
MAX_BLOCKS = 4096


def widened_boxes(
    fp: Footprints, table: SeparationTable
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(box_min, box_max, t_start, t_end) widened as the module docstring says."""
    half = table.widening(fp.kind)
    grow = _growth(fp.buffer_m, half[:, 0])[:, None]
    return fp.box_min - grow, fp.box_max + grow, fp.start - half[:, 2], fp.end + half[:, 2]


def widened_box_of_one(fp: Footprints, table: SeparationTable) -> FloatArray:
    """:func:`widened_boxes` of a single volume as one row (x0, y0, z0, t0, x1, y1, z1, t1)."""
    row = fp.num[0].tolist()
    half_h, _, half_t = table.widening_of(int(fp.cat[0, KIND]))
    grow = _growth(row[BUFFER], half_h)
    box: FloatArray = np.array([
        row[BOX_MIN] - grow, row[BOX_MIN + 1] - grow, row[BOX_MIN + 2] - grow, row[START] - half_t,
        row[BOX_MAX] + grow, row[BOX_MAX + 1] + grow, row[BOX_MAX + 2] + grow, row[END] + half_t,
    ])  # fmt: skip
    return box


def _growth(buffer_m: _Number, half_horizontal: _Number) -> _Number:
    """How far a box grows: the buffer, half the largest minimum plus the decision slack
    (kernel.decision_slack, at most 0.1 %), and a metre for rounding in ECEF."""
    return buffer_m + half_horizontal * 1.001 + 1.0


def candidate_pairs(
    fp: Footprints, table: SeparationTable
) -> Iterator[tuple[IntArray, IntArray, int, int]]:
    """Yield (i, j, blocks done, blocks): chunks of candidate pairs (i < j), a superset of
    every conflict, one chunk per time block."""
    if len(fp) < 2:
        return
    lo, hi, t0, t1 = widened_boxes(fp, table)
    keep_a, keep_b = spread_axes(lo, hi)
    drop = 3 - keep_a - keep_b
    first, last, blocks = _time_blocks(t0, t1)
    members_of = _block_members(first, last, blocks)
    boxes = shapely.box(lo[:, keep_a], lo[:, keep_b], hi[:, keep_a], hi[:, keep_b])
    for block, members in enumerate(members_of):
        if members.size < 2:
            yield np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), block + 1, blocks
            continue
        block_boxes = boxes[members]
        left, right = shapely.STRtree(block_boxes).query(block_boxes, predicate="intersects")
        i, j = members[left], members[right]
        ok = (
            (i < j)
            & (np.maximum(first[i], first[j]) == block)
            & (lo[i, drop] <= hi[j, drop])
            & (lo[j, drop] <= hi[i, drop])
            & (t0[i] <= t1[j])
            & (t0[j] <= t1[i])
        )
        yield i[ok], j[ok], block + 1, blocks


def _time_blocks(t0: FloatArray, t1: FloatArray) -> tuple[IntArray, IntArray, int]:
    """First and last time block of each volume, and the number of blocks."""
    finite = np.concatenate([t0[np.isfinite(t0)], t1[np.isfinite(t1)]])
    both = np.isfinite(t0) & np.isfinite(t1)
    n = len(t0)
    if finite.size == 0 or not both.any():
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), 1
    origin, span = finite.min(), finite.max() - finite.min()
    width = max(2.0 * float(np.median(t1[both] - t0[both])), 1.0)
    blocks = int(min(MAX_BLOCKS, max(1, np.ceil(span / width))))
    width = max(span / blocks, 1e-9)

    def block_of(t: FloatArray) -> IntArray:
        index = np.floor((np.clip(t, origin, origin + span) - origin) / width)
        block: IntArray = np.clip(index, 0, blocks - 1).astype(np.int64)
        return block

    return block_of(t0), block_of(t1), blocks


def _block_members(first: IntArray, last: IntArray, blocks: int) -> list[IntArray]:
    span = last - first + 1
    owner = np.repeat(np.arange(len(first)), span)
    block = np.repeat(first, span) + (
        np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    )
    order = np.argsort(block, kind="stable")
    owner, block = owner[order], block[order]
    bounds = np.searchsorted(block, np.arange(blocks + 1))
    return [owner[bounds[k] : bounds[k + 1]] for k in range(blocks)]


def spread_axes(lo: FloatArray, hi: FloatArray) -> tuple[int, int]:
    """The two Earth-centred axes to index: drop the one most aligned with the volumes' 'up'."""
    centre = (lo[:, :3] + hi[:, :3]) / 2
    norm = np.linalg.norm(centre, axis=1, keepdims=True)
    mean = np.abs((centre / np.where(norm > 0, norm, 1.0)).mean(axis=0))
    drop = int(np.argmax(mean))
    keep = [axis for axis in range(3) if axis != drop]
    return keep[0], keep[1]
