"""``detect``: every conflict of a scenario, exactly."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.candidates import candidate_pairs
from tansiq.engine.conflict import Conflict
from tansiq.engine.footprints import build_footprints
from tansiq.engine.pairs import PairVerdict, judge_pairs
from tansiq.engine.rules import SeparationTable
from tansiq.scenario.model import Scenario, Volume

#: called with (parts done, parts): the theater is judged one time block after another
Progress = Callable[[int, int], None]
CHUNK = 200_000


def detect(scenario: Scenario, progress: Progress | None = None) -> list[Conflict]:
    """Every pair of volumes of different parties closer than their separation, sorted by (a, b)."""
    volumes = scenario.volumes
    table = SeparationTable(scenario.separation)
    party_codes = _intern([v.party for v in volumes])
    fp = build_footprints(volumes, table.codes(v.kind for v in volumes), party_codes)
    conflicts: list[Conflict] = []
    side = fp.kernel_side()
    for left, right, done, parts in candidate_pairs(fp, table):
        for start in range(0, len(left), CHUNK):
            i, j = left[start : start + CHUNK], right[start : start + CHUNK]
            verdict = judge_pairs(side, i, side, j, table)
            first = [volumes[k] for k in i[verdict.rows].tolist()]
            second = [volumes[k] for k in j[verdict.rows].tolist()]
            conflicts.extend(make_conflicts(first, second, verdict))
        if progress is not None:
            progress(done, parts)
    conflicts.sort(key=lambda c: (c.a, c.b))
    return conflicts


def _intern(values: list[str]) -> NDArray[np.int64]:
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int64)


def make_conflicts(
    left: Sequence[Volume], right: Sequence[Volume], verdict: PairVerdict
) -> list[Conflict]:
    """The conflicts of a verdict, the k-th between ``left[k]`` and ``right[k]``, ids so that a < b.

    Columns become Python floats in one call each: per-element numpy scalars would
    cost more than the objects themselves.
    """
    out = []
    for va, vb, h_gap, v_gap, t_gap, (h, v, t) in zip(
        left,
        right,
        verdict.horizontal_gap.tolist(),
        verdict.vertical_gap.tolist(),
        verdict.time_gap.tolist(),
        verdict.minimums.tolist(),
        strict=True,
    ):
        first, second = (vb, va) if vb.id < va.id else (va, vb)
        out.append(
            Conflict(first.id, second.id, h_gap, v_gap, t_gap, h, v, t, first, second)
        )
    return out
