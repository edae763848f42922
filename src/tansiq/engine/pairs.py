"""Decide, for arrays of candidate pairs, which are conflicts and with what gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.footprints import Cores, Footprints
from tansiq.engine.geodesy import FloatArray
from tansiq.engine.refine import core_distances
from tansiq.engine.rules import SeparationTable

#: distances below this are reported as 0 (cores that share a point, up to rounding)
TOUCH_M = 1e-3


def interval_gap(
    lo_a: FloatArray, hi_a: FloatArray, lo_b: FloatArray, hi_b: FloatArray
) -> FloatArray:
    """max(0, b1 - a2, a1 - b2): the spec's gap between closed intervals (infinite ends allowed)."""
    gap: FloatArray = np.maximum(0.0, np.maximum(lo_b - hi_a, lo_a - hi_b))
    return gap


def decision_slack(horizontal_m: FloatArray) -> FloatArray:
    """How far past the minimum a measured distance still counts as a conflict.

    The spec allows an answer to differ only within max(1 m, 0.1 %) of the minimum;
    the engine's distances are far more accurate than that, so a quarter of it is
    spent on erring towards a warning, as deconfliction should.
    """
    slack: FloatArray = 0.25 * np.maximum(1.0, 0.001 * horizontal_m)
    return slack


@dataclass(slots=True)
class PairVerdict:
    """For the pairs that conflict: their row in the input and their gaps and separation."""

    rows: NDArray[np.int64]
    horizontal_gap: FloatArray
    vertical_gap: FloatArray
    time_gap: FloatArray
    minimums: FloatArray


def judge_pairs(
    a: Footprints,
    rows_a: NDArray[np.int64],
    b: Footprints,
    rows_b: NDArray[np.int64],
    table: SeparationTable,
) -> PairVerdict:
    """Exact verdict for the pairs (a[rows_a[k]], b[rows_b[k]]).

    Columns are gathered as they are needed, so that pairs ruled out by party,
    altitude or time cost no geometry work.
    """
    minimums = table.pair_minimums(a.kind[rows_a], b.kind[rows_b])
    vgap = interval_gap(
        a.alt_low[rows_a], a.alt_high[rows_a], b.alt_low[rows_b], b.alt_high[rows_b]
    )
    tgap = interval_gap(a.start[rows_a], a.end[rows_a], b.start[rows_b], b.end[rows_b])
    buffers = a.buffer_m[rows_a] + b.buffer_m[rows_b]
    limit = minimums[:, 0] + buffers
    box_gap = np.linalg.norm(
        np.maximum(
            0.0,
            np.maximum(
                a.box_min[rows_a] - b.box_max[rows_b], b.box_min[rows_b] - a.box_max[rows_a]
            ),
        ),
        axis=1,
    )
    slack = decision_slack(minimums[:, 0])
    alive = np.flatnonzero(
        (a.party[rows_a] != b.party[rows_b])
        & (vgap <= minimums[:, 1])
        & (tgap <= minimums[:, 2])
        # a chord is never longer than the geodesic: boxes farther apart cannot conflict
        & (box_gap <= limit + slack)
    )
    reach = limit[alive] + slack[alive]
    dist = core_distances(Cores.gather(a, rows_a[alive]), Cores.gather(b, rows_b[alive]), reach)
    hit = dist <= reach
    rows = alive[hit]
    hgap = np.maximum(0.0, dist[hit] - buffers[rows])
    hgap[hgap < TOUCH_M] = 0.0
    return PairVerdict(rows, hgap, vgap[rows], tgap[rows], minimums[rows])
