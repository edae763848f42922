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
    for left, right, done, parts in candidate_pairs(fp, table):
        for start in range(0, len(left), CHUNK):
            i, j = left[start : start + CHUNK], right[start : start + CHUNK]
            verdict = judge_pairs(fp, i, fp, j, table)
            conflicts.extend(_conflicts(volumes, i[verdict.rows], j[verdict.rows], verdict))
        if progress is not None:
            progress(done, parts)
    conflicts.sort(key=lambda c: (c.a, c.b))
    return conflicts


def _intern(values: list[str]) -> NDArray[np.int64]:
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int64)


def _conflicts(
    volumes: Sequence[Volume],
    rows_a: NDArray[np.int64],
    rows_b: NDArray[np.int64],
    verdict: PairVerdict,
) -> list[Conflict]:
    out = []
    for k, (ra, rb) in enumerate(zip(rows_a.tolist(), rows_b.tolist(), strict=True)):
        out.append(make_conflict(volumes[ra], volumes[rb], verdict, k))
    return out


def make_conflict(va: Volume, vb: Volume, verdict: PairVerdict, k: int) -> Conflict:
    """The k-th conflict of a verdict between ``va`` and ``vb``, ids ordered so that a < b."""
    if vb.id < va.id:
        va, vb = vb, va
    h, v, t = verdict.minimums[k]
    return Conflict(
        a=va.id,
        b=vb.id,
        horizontal_distance_m=float(verdict.horizontal_gap[k]),
        vertical_gap_m=float(verdict.vertical_gap[k]),
        time_gap_s=float(verdict.time_gap[k]),
        horizontal_m=float(h),
        vertical_m=float(v),
        time_s=float(t),
        volume_a=va,
        volume_b=vb,
    )
