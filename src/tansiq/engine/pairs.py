"""Decide, for arrays of candidate pairs, which are conflicts and with what gaps.

The work is done by the compiled :func:`tansiq.engine.kernel.judge`, which also
measures the closest points it finds with PROJ's ``geod_inverse`` (Karney's
algorithm, the function behind ``pyproj.Geod.inv``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tansiq.engine import kernel
from tansiq.engine.footprints import KernelSide
from tansiq.engine.geodesy import FloatArray
from tansiq.engine.proj_geodesic import GEOD_INVERSE, WGS84
from tansiq.engine.rules import SeparationTable


@dataclass(slots=True)
class PairVerdict:
    """For the pairs that conflict: their row in the input and their gaps and separation."""

    rows: NDArray[np.int64]
    horizontal_gap: FloatArray
    vertical_gap: FloatArray
    time_gap: FloatArray
    minimums: FloatArray


def judge_pairs(
    a: KernelSide,
    rows_a: NDArray[np.int64],
    b: KernelSide,
    rows_b: NDArray[np.int64],
    table: SeparationTable,
) -> PairVerdict:
    """Exact verdict for the pairs (a[rows_a[k]], b[rows_b[k]])."""
    rows, gaps = kernel.judge(*a, *b, rows_a, rows_b, table.matrix, GEOD_INVERSE, WGS84)
    return PairVerdict(rows, gaps[:, 0], gaps[:, 1], gaps[:, 2], gaps[:, 3:6])

