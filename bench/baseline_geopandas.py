"""The baseline: what a GIS engineer would write with GeoPandas instead of tansiq.

Project everything to one UTM zone (EPSG:32637, zone 37N), buffer Points by
their radius and LineStrings by half their width, self-join the footprints with
``sjoin(predicate="dwithin", distance=MAX_H)`` (``MAX_H``: the largest
``horizontal_m`` of the rules), then filter the candidate pairs with numpy:
different party, vertical gap, time gap, and the planar distance for the pairs
whose own horizontal minimum is below ``MAX_H``.

It is approximate on purpose, as such code is in practice: one UTM zone
distorts distances away from its central meridian (39 E; the theater spans
35..48 E, so the scale error reaches about 1 %), and a buffered disc or
corridor is a polygon inscribed in the true footprint (16 segments a quarter
circle, so up to 0.12 % of the radius short).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from tansiq.scenario.model import Scenario, SeparationRule, Volume

UTM_CRS = "EPSG:32637"
WGS84 = "EPSG:4326"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _matches(pattern: str, kind: str) -> bool:
    return pattern == "*" or pattern == kind


def resolve(rules: Sequence[SeparationRule], k1: str, k2: str) -> tuple[float, float, float]:
    """(H, V, T) for kinds k1, k2: every rule naming them in either order, max per field."""
    h = v = t = 0.0
    for rule in rules:
        r1, r2 = rule.between
        if (_matches(r1, k1) and _matches(r2, k2)) or (_matches(r1, k2) and _matches(r2, k1)):
            h, v, t = max(h, rule.horizontal_m), max(v, rule.vertical_m), max(t, rule.time_s)
    return h, v, t


@dataclass(frozen=True, slots=True)
class SeparationTable:
    """The spec's rule resolved for every pair of kinds: K x K matrices of H, V, T."""

    rules: tuple[SeparationRule, ...]
    kinds: dict[str, int]
    horizontal: FloatArray
    vertical: FloatArray
    time: FloatArray

    @property
    def max_horizontal(self) -> float:
        """The largest horizontal minimum of any rule: the join distance."""
        return max((r.horizontal_m for r in self.rules), default=0.0)

    def row(self, kind: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(H, V, T) of ``kind`` against every tabulated kind."""
        i = self.kinds.get(kind)
        if i is not None:
            return self.horizontal[i], self.vertical[i], self.time[i]
        names = sorted(self.kinds, key=self.kinds.__getitem__)
        hvt = np.array([resolve(self.rules, kind, other) for other in names]).reshape(-1, 3)
        return hvt[:, 0], hvt[:, 1], hvt[:, 2]


def separation_table(rules: Sequence[SeparationRule], kinds: Iterable[str]) -> SeparationTable:
    """``(H, V, T)`` for every pair of ``kinds`` (each a K x K matrix)."""
    names = sorted(set(kinds))
    k = len(names)
    hvt = np.zeros((3, k, k))
    for a, ka in enumerate(names):
        for b in range(a, k):
            hvt[:, a, b] = hvt[:, b, a] = resolve(rules, ka, names[b])
    index = {name: i for i, name in enumerate(names)}
    return SeparationTable(tuple(rules), index, hvt[0], hvt[1], hvt[2])


def interval_gap(
    low_a: FloatArray, high_a: FloatArray, low_b: FloatArray, high_b: FloatArray
) -> FloatArray:
    """max(0, b1 - a2, a1 - b2), elementwise; infinite bounds give 0 where they overlap."""
    gap: FloatArray = np.maximum(np.maximum(low_b - high_a, low_a - high_b), 0.0)
    return gap


class ProjectedVolumes:
    """The volumes as a projected GeoDataFrame of footprints plus numpy columns."""

    def __init__(self, volumes: Sequence[Volume], rules: Sequence[SeparationRule]) -> None:
        self.ids = np.array([v.id for v in volumes], dtype=object)
        parties = [v.party for v in volumes]
        kinds = [v.kind for v in volumes]
        self.table = separation_table(rules, kinds)
        party_codes = {p: i for i, p in enumerate(sorted(set(parties)))}
        self.party_codes = party_codes
        self.party = np.array([party_codes[p] for p in parties], dtype=np.int64)
        self.kind = np.array([self.table.kinds[k] for k in kinds], dtype=np.int64)
        self.alt_low = np.array([v.altitude_low for v in volumes])
        self.alt_high = np.array([v.altitude_high for v in volumes])
        self.start = np.array([v.start for v in volumes])
        self.end = np.array([v.end for v in volumes])
        buffer_m = np.array([v.buffer_m for v in volumes])
        gdf = gpd.GeoDataFrame(
            {"id": self.ids}, geometry=[v.geometry for v in volumes], crs=WGS84
        ).to_crs(UTM_CRS)
        footprint = gdf.geometry.copy()
        buffered = buffer_m > 0
        footprint[buffered] = gdf.geometry[buffered].buffer(buffer_m[buffered])
        gdf.geometry = footprint
        self.gdf = gdf
        self.footprints: npt.NDArray[np.object_] = footprint.values.to_numpy()
        self.transformer = pyproj.Transformer.from_crs(WGS84, UTM_CRS, always_xy=True)

    def filter_pairs(self, i: IntArray, j: IntArray) -> tuple[IntArray, IntArray]:
        """Keep the candidate pairs (i, j) that conflict under the separation table."""
        keep = self.party[i] != self.party[j]
        i, j = i[keep], j[keep]
        ki, kj = self.kind[i], self.kind[j]
        v = self.table.vertical[ki, kj]
        t = self.table.time[ki, kj]
        keep = (
            interval_gap(self.alt_low[i], self.alt_high[i], self.alt_low[j], self.alt_high[j]) <= v
        ) & (interval_gap(self.start[i], self.end[i], self.start[j], self.end[j]) <= t)
        i, j = i[keep], j[keep]
        h = self.table.horizontal[self.kind[i], self.kind[j]]
        # The join already guarantees distance <= MAX_H; measure only the stricter pairs.
        tighter = h < self.table.max_horizontal
        keep = np.ones(len(i), dtype=bool)
        if tighter.any():
            d = shapely.distance(self.footprints[i[tighter]], self.footprints[j[tighter]])
            keep[tighter] = d <= h[tighter]
        return i[keep], j[keep]

    def pairs(self, i: IntArray, j: IntArray) -> list[tuple[str, str]]:
        a, b = self.ids[i], self.ids[j]
        return [(x, y) if x < y else (y, x) for x, y in zip(a.tolist(), b.tolist(), strict=True)]


def detect(scenario: Scenario) -> list[tuple[str, str]]:
    """All conflicting pairs ``(a, b)``, ``a < b``, the GeoPandas way (sorted)."""
    pv = ProjectedVolumes(scenario.volumes, scenario.separation)
    left = pv.gdf[["geometry"]]
    joined = gpd.sjoin(
        left, left, how="inner", predicate="dwithin", distance=pv.table.max_horizontal
    )
    i = joined.index.to_numpy(dtype=np.int64)
    j = joined["index_right"].to_numpy(dtype=np.int64)
    keep = i < j
    i, j = pv.filter_pairs(i[keep], j[keep])
    return sorted(pv.pairs(i, j))


class GeoPandasIndex:
    """Check one volume against the stored set, with the projected frame's STRtree.

    Static, as a GeoPandas spatial index is: built once from ``volumes``.
    """

    def __init__(self, volumes: Sequence[Volume], rules: Sequence[SeparationRule]) -> None:
        self.store = ProjectedVolumes(volumes, rules)
        self.sindex = self.store.gdf.sindex
        self.sindex.query(shapely.points(0.0, 0.0))  # build the tree now, not on first query
        self._party_codes = self.store.party_codes

    def check(self, volume: Volume) -> list[str]:
        """Ids of the stored volumes that conflict with ``volume``."""
        s = self.store
        table = s.table
        party = self._party_codes.get(volume.party, -1)
        geom = shapely.transform(volume.geometry, self._project, interleaved=False)
        if volume.buffer_m > 0:
            geom = shapely.buffer(geom, volume.buffer_m)
        cand: IntArray = self.sindex.query(geom, predicate="dwithin", distance=table.max_horizontal)
        cand = cand[s.party[cand] != party]
        row_h, row_v, row_t = table.row(volume.kind)
        h, v, t = row_h[s.kind[cand]], row_v[s.kind[cand]], row_t[s.kind[cand]]
        lo = np.full(len(cand), volume.altitude_low)
        hi = np.full(len(cand), volume.altitude_high)
        st = np.full(len(cand), volume.start)
        en = np.full(len(cand), volume.end)
        keep = (interval_gap(lo, hi, s.alt_low[cand], s.alt_high[cand]) <= v) & (
            interval_gap(st, en, s.start[cand], s.end[cand]) <= t
        )
        cand, h = cand[keep], h[keep]
        tighter = h < table.max_horizontal
        if tighter.any():
            d = shapely.distance(geom, s.footprints[cand[tighter]])
            keep = np.ones(len(cand), dtype=bool)
            keep[tighter] = d <= h[tighter]
            cand = cand[keep]
        ids: list[str] = s.ids[cand].tolist()
        return ids

    def _project(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        px, py = self.store.transformer.transform(x, y)
        return np.asarray(px), np.asarray(py)


def detect_filter_first(scenario: Scenario) -> list[tuple[str, str]]:
    """A tuned variant: bounding-box candidates, then the cheap filters, then distances.

    What a GIS engineer who profiled the straightforward version would write:
    ``sindex.query`` with each footprint's box widened by ``MAX_H`` (bounding
    boxes only, no predicate), party/vertical/time filters on the candidate
    arrays, and ``shapely.distance`` only on the pairs that survive them.
    """
    pv = ProjectedVolumes(scenario.volumes, scenario.separation)
    reach = pv.table.max_horizontal
    x0, y0, x1, y1 = shapely.bounds(pv.footprints).T
    boxes = shapely.box(x0 - reach, y0 - reach, x1 + reach, y1 + reach)
    i, j = pv.gdf.sindex.query(boxes)
    keep = i < j
    i, j = i[keep].astype(np.int64), j[keep].astype(np.int64)
    keep = pv.party[i] != pv.party[j]
    i, j = i[keep], j[keep]
    ki, kj = pv.kind[i], pv.kind[j]
    keep = (
        interval_gap(pv.alt_low[i], pv.alt_high[i], pv.alt_low[j], pv.alt_high[j])
        <= pv.table.vertical[ki, kj]
    ) & (interval_gap(pv.start[i], pv.end[i], pv.start[j], pv.end[j]) <= pv.table.time[ki, kj])
    i, j = i[keep], j[keep]
    h = pv.table.horizontal[pv.kind[i], pv.kind[j]]
    keep = shapely.distance(pv.footprints[i], pv.footprints[j]) <= h
    return sorted(pv.pairs(i[keep], j[keep]))
