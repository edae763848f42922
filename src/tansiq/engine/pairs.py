"""Decide, for arrays of candidate pairs, which are conflicts and with what gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.footprints import Footprints
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


def judge_pairs(a: Footprints, b: Footprints, table: SeparationTable) -> PairVerdict:
    """Exact verdict for row-aligned pairs (a[k], b[k])."""
    minimums = table.pair_minimums(a.kind, b.kind)
    vgap = interval_gap(a.alt_low, a.alt_high, b.alt_low, b.alt_high)
    tgap = interval_gap(a.start, a.end, b.start, b.end)
    limit = minimums[:, 0] + a.buffer_m + b.buffer_m
    box_gap = np.linalg.norm(
        np.maximum(0.0, np.maximum(a.box_min - b.box_max, b.box_min - a.box_max)), axis=1
    )
    slack = decision_slack(minimums[:, 0])
    alive = np.flatnonzero(
        (a.party != b.party)
        & (vgap <= minimums[:, 1])
        & (tgap <= minimums[:, 2])
        # a chord is never longer than the geodesic: boxes farther apart cannot conflict
        & (box_gap <= limit + slack)
    )
    dist = core_distances(a.take(alive), b.take(alive), limit[alive] + slack[alive])
    hit = dist <= limit[alive] + slack[alive]
    rows = alive[hit]
    hgap = np.maximum(0.0, dist[hit] - a.buffer_m[rows] - b.buffer_m[rows])
    hgap[hgap < TOUCH_M] = 0.0
    return PairVerdict(rows, hgap, vgap[rows], tgap[rows], minimums[rows])
