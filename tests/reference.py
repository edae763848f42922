"""A slow, obviously-correct reference for the conflict definition of ``scenario-v1``.

Written for clarity, not speed. Every quantity follows the spec word for word:

* separation: every rule whose ``between`` matches the two kinds in either order
  (``*`` matches any kind) applies; each field is the largest any of them gives;
  with no rule that applies, every minimum is 0;
* vertical and time gaps: closed intervals, ``gap = max(0, b1 - a2, a1 - b2)``;
* horizontal: the geodesic distance on the WGS 84 ellipsoid between footprints,
  ``max(0, core_distance - buffer_a - buffer_b)``.

The core distance is 0 when the cores share a point: shapely ``intersects`` in
lon/lat, with the second geometry also shifted by +-360 degrees of longitude
(the antimeridian is one meridian), and two cores that both reach the same pole
touch. Otherwise it is the smallest ``pyproj.Geod.inv`` distance between points
sampled on the two cores (for a polygon: its rings, because the shortest path
between two disjoint regions runs between their boundaries). Edges are straight
lines in lon/lat (RFC 7946), so samples are linear interpolations in lon/lat,
never points on a great circle.

Sampling: an edge is cut into pieces no longer than ``spacing_m`` on the ground
(or ``relative_spacing`` times the distance, if larger), and every piece is
represented by its midpoint. Any point of a piece is within half the piece's
ground length of its midpoint, so the distance between two midpoints
overestimates the distance between the pieces by at most ``(len_a + len_b) / 2``.
Instead of forming every pair of final pieces (billions for two long rings),
the pieces are refined coarse-to-fine and a pair of pieces is dropped as soon
as the triangle inequality proves it cannot hold anything closer than a
distance already measured (branch and bound):

    lower(pair) = d(mid_a, mid_b) - len_a / 2 - len_b / 2  >  best  ->  drop

This drops nothing that could beat the result. The returned error bound is
``best - min(lower)`` over the surviving pairs: the true distance lies between.
:func:`sampled_core_distance_bruteforce` does the exhaustive computation and is
used to check this one on small inputs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely import affinity

from tansiq.scenario.model import Scenario, SeparationRule, Volume

GEOD = Geod(ellps="WGS84")

DEFAULT_SPACING_M = 5.0
"""The largest ground length of a sampled piece of an edge (but see below)."""

DEFAULT_RELATIVE_SPACING = 1e-4
"""Pieces may also be as long as this fraction of the distance (10 times finer than the spec's
0.1 %): cores thousands of kilometres apart need no metre-sized pieces."""

_CHUNK = 400_000
"""How many geodesic distances are computed in one vectorised ``Geod.inv`` call."""

_MAX_ROWS = 30_000_000
"""A safety net: the branch and bound refuses to hold more candidate pairs than this."""

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- #
# Separation, gaps
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Separation:
    horizontal_m: float = 0.0
    vertical_m: float = 0.0
    time_s: float = 0.0


def _kind_matches(pattern: str, kind: str) -> bool:
    return pattern == "*" or pattern == kind


def rule_applies(rule: SeparationRule, kind_a: str, kind_b: str) -> bool:
    """``{K1, K2}`` matches the two kinds in either order; ``*`` matches any kind."""
    k1, k2 = rule.between
    return (_kind_matches(k1, kind_a) and _kind_matches(k2, kind_b)) or (
        _kind_matches(k1, kind_b) and _kind_matches(k2, kind_a)
    )


def separation_for(kind_a: str, kind_b: str, rules: Iterable[SeparationRule]) -> Separation:
    """Each minimum is the largest that any applicable rule gives (0 without any)."""
    h = v = t = 0.0
    for rule in rules:
        if rule_applies(rule, kind_a, kind_b):
            h = max(h, rule.horizontal_m)
            v = max(v, rule.vertical_m)
            t = max(t, rule.time_s)
    return Separation(h, v, t)


def interval_gap(a1: float, a2: float, b1: float, b2: float) -> float:
    """Gap between closed intervals ``[a1, a2]`` and ``[b1, b2]``: ``max(0, b1 - a2, a1 - b2)``.

    Bounds may be infinite. The differences are only formed when they are
    meaningful (never ``inf - inf``): overlapping intervals have gap 0.
    """
    if b1 > a2:  # b entirely after a: b1 > -inf and a2 < +inf, so b1 - a2 is not NaN
        return b1 - a2
    if a1 > b2:  # a entirely after b
        return a1 - b2
    return 0.0


# --------------------------------------------------------------------------- #
# Cores touching
# --------------------------------------------------------------------------- #


def _touches_north_pole(geometry: shapely.Geometry) -> bool:
    return bool(shapely.bounds(geometry)[3] >= 90.0)


def _touches_south_pole(geometry: shapely.Geometry) -> bool:
    return bool(shapely.bounds(geometry)[1] <= -90.0)


def cores_touch(a: shapely.Geometry, b: shapely.Geometry) -> bool:
    """Whether two cores share a point of the ellipsoid.

    lon/lat intersection, also with ``b`` shifted by -360 and +360 degrees (a
    point at longitude 180 is the point at -180), and every point at latitude
    +-90 is the same pole. A lon/lat geometry reaches a pole exactly when its
    bounds do (edges are straight in lon/lat, so latitudes are extreme at
    vertices).
    """
    for shift in (-360.0, 0.0, 360.0):
        if shapely.intersects(a, affinity.translate(b, xoff=shift)):
            return True
    if _touches_north_pole(a) and _touches_north_pole(b):
        return True
    return _touches_south_pole(a) and _touches_south_pole(b)


# --------------------------------------------------------------------------- #
# Edges and their ground length
# --------------------------------------------------------------------------- #


def core_edges(geometry: shapely.Geometry) -> FloatArray:
    """The core as an ``(n, 4)`` array of lon/lat-straight edges ``lon0, lat0, lon1, lat1``.

    A point is a degenerate edge; a line gives its segments; a polygon gives
    the segments of every ring (exterior and holes); multi-geometries give the
    edges of all their parts.
    """
    rows: list[tuple[float, float, float, float]] = []
    for part in shapely.get_parts(geometry):
        if isinstance(part, shapely.Point):
            rows.append((part.x, part.y, part.x, part.y))
        elif isinstance(part, (shapely.LineString, shapely.LinearRing)):
            coords = np.asarray(part.coords, dtype=np.float64)[:, :2]
            if len(coords) == 1:
                rows.append((coords[0, 0], coords[0, 1], coords[0, 0], coords[0, 1]))
            for (x0, y0), (x1, y1) in itertools.pairwise(coords):
                rows.append((float(x0), float(y0), float(x1), float(y1)))
        elif isinstance(part, shapely.Polygon):
            for ring in [part.exterior, *part.interiors]:
                rows.extend(map(tuple, core_edges(ring)))
        else:  # a nested collection
            rows.extend(map(tuple, core_edges(part)))
    if not rows:
        raise ValueError(f"empty core: {geometry.wkt}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


_A = GEOD.a
_E2 = GEOD.es
_RAD = math.pi / 180.0
_MERIDIAN_M_PER_DEG_MAX = _A / math.sqrt(1.0 - _E2) * _RAD
"""The largest meridional radius of curvature (at the poles), per degree of latitude."""


def _parallel_m_per_deg(lat_deg: FloatArray) -> FloatArray:
    """Length of one degree of longitude along the parallel at ``lat_deg``."""
    phi = np.radians(lat_deg)
    return _A * np.cos(phi) / np.sqrt(1.0 - _E2 * np.sin(phi) ** 2) * _RAD


def edge_length_bound(edges: FloatArray) -> FloatArray:
    """An upper bound of the ground length of each lon/lat-straight edge, in metres.

    Along the edge, ``ds <= M dlat + N cos(lat) dlon``; ``M`` is at most its polar
    value and ``N cos(lat)`` decreases with ``|lat|``, so it is largest at the
    point of the edge closest to the equator. The bound is additive along an
    edge, so each half of an edge is bounded by half the bound of the edge.
    """
    lat0, lat1 = edges[:, 1], edges[:, 3]
    dlat = np.abs(lat1 - lat0)
    dlon = np.abs(edges[:, 2] - edges[:, 0])
    crosses_equator = (lat0 <= 0.0) & (lat1 >= 0.0) | (lat0 >= 0.0) & (lat1 <= 0.0)
    lowest = np.where(crosses_equator, 0.0, np.minimum(np.abs(lat0), np.abs(lat1)))
    bound = _MERIDIAN_M_PER_DEG_MAX * dlat + _parallel_m_per_deg(lowest) * dlon
    return np.asarray(bound * (1.0 + 1e-9) + 1e-9, dtype=np.float64)


def _midpoints(edges: FloatArray) -> tuple[FloatArray, FloatArray]:
    return (edges[:, 0] + edges[:, 2]) / 2.0, (edges[:, 1] + edges[:, 3]) / 2.0


def geodesic_distances(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray
) -> FloatArray:
    """Vectorised ``Geod.inv`` distances, in chunks."""
    out = np.empty(len(lon1), dtype=np.float64)
    for start in range(0, len(lon1), _CHUNK):
        part = slice(start, start + _CHUNK)
        _, _, dist = GEOD.inv(lon1[part], lat1[part], lon2[part], lat2[part])
        out[part] = dist
    return out


def geodesic_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The WGS 84 geodesic distance between two points, in metres."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _split_in_halves(edges: FloatArray, split: npt.NDArray[np.bool_]) -> FloatArray:
    """Each row flagged in ``split`` becomes its two halves (cut at the lon/lat midpoint)."""
    keep = edges[~split]
    cut = edges[split]
    mid_lon, mid_lat = _midpoints(cut)
    first = np.column_stack([cut[:, 0], cut[:, 1], mid_lon, mid_lat])
    second = np.column_stack([mid_lon, mid_lat, cut[:, 2], cut[:, 3]])
    return np.concatenate([keep, first, second])


# --------------------------------------------------------------------------- #
# Core distance
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class CoreDistance:
    distance_m: float
    """The sampled distance: never below the true one."""
    error_m: float
    """The true distance lies in ``[distance_m - error_m, distance_m]``."""
    touching: bool
    """The cores share a point (then both numbers are exactly 0)."""


def core_distance(
    a: shapely.Geometry,
    b: shapely.Geometry,
    spacing_m: float = DEFAULT_SPACING_M,
    relative_spacing: float = DEFAULT_RELATIVE_SPACING,
) -> CoreDistance:
    """Geodesic distance between two cores (see the module docstring).

    Pieces are refined down to ``max(spacing_m, relative_spacing * distance)``
    on the ground: metres near the threshold that matters, coarser for cores
    thousands of kilometres apart (whose distance only needs 0.1 %).
    """
    if spacing_m <= 0:
        raise ValueError("spacing_m must be positive")
    if cores_touch(a, b):
        return CoreDistance(0.0, 0.0, True)
    edges_a, edges_b = core_edges(a), core_edges(b)
    # One row per candidate pair of pieces: the piece of a, then the piece of b.
    ia, ib = np.meshgrid(np.arange(len(edges_a)), np.arange(len(edges_b)), indexing="ij")
    rows = np.concatenate([edges_a[ia.ravel()], edges_b[ib.ravel()]], axis=1)
    best = math.inf
    while True:
        len_a = edge_length_bound(rows[:, :4])
        len_b = edge_length_bound(rows[:, 4:])
        lon_a, lat_a = _midpoints(rows[:, :4])
        lon_b, lat_b = _midpoints(rows[:, 4:])
        dist = geodesic_distances(lon_a, lat_a, lon_b, lat_b)
        best = min(best, float(dist.min()))
        lower = dist - len_a / 2.0 - len_b / 2.0
        alive = lower <= best
        rows, len_a, len_b, lower = rows[alive], len_a[alive], len_b[alive], lower[alive]
        target = max(spacing_m, relative_spacing * best)
        split_a, split_b = len_a > target, len_b > target
        if not (split_a.any() or split_b.any()):
            # Every surviving pair is made of pieces no longer than target, and
            # the true minimum lies in one of them: it is at least min(lower).
            # The piece ends are core points too (often the exact answer: vertices).
            best = min(best, _min_endpoint_distance(rows))
            error = best - max(0.0, float(lower.min()))
            return CoreDistance(best, max(0.0, error), False)
        # Split the long pieces of a, then of b (a row becomes 2 or 4 rows).
        rows = _split_rows(rows, split_a, side=0)
        split_b = edge_length_bound(rows[:, 4:]) > target
        rows = _split_rows(rows, split_b, side=1)
        if len(rows) > _MAX_ROWS:
            raise RuntimeError("reference: too many candidate pairs, use a larger spacing_m")


def _min_endpoint_distance(rows: FloatArray) -> float:
    """The smallest distance between an end of a piece of ``a`` and an end of its partner."""
    best = math.inf
    for ca in (0, 2):
        for cb in (4, 6):
            d = geodesic_distances(rows[:, ca], rows[:, ca + 1], rows[:, cb], rows[:, cb + 1])
            best = min(best, float(d.min()))
    return best


def _split_rows(rows: FloatArray, split: npt.NDArray[np.bool_], side: int) -> FloatArray:
    """Replace each flagged row by two rows, one per half of its piece on ``side``."""
    cols = slice(0, 4) if side == 0 else slice(4, 8)
    other = slice(4, 8) if side == 0 else slice(0, 4)
    keep = rows[~split]
    cut = rows[split]
    halves = _split_in_halves(cut[:, cols], np.ones(len(cut), dtype=bool))
    partner = np.concatenate([cut[:, other], cut[:, other]])
    new = np.empty((len(halves), 8), dtype=np.float64)
    new[:, cols] = halves
    new[:, other] = partner
    return np.concatenate([keep, new])


def sample_core(geometry: shapely.Geometry, spacing_m: float) -> FloatArray:
    """Points along every edge of the core, at most ``spacing_m`` apart on the ground.

    Each edge of ground length bound ``L`` gets ``ceil(L / spacing_m) + 1``
    equally spaced samples by linear interpolation in lon/lat.
    """
    points: list[FloatArray] = []
    edges = core_edges(geometry)
    for edge, length in zip(edges, edge_length_bound(edges), strict=True):
        n = max(1, math.ceil(length / spacing_m))
        t = np.linspace(0.0, 1.0, n + 1)
        points.append(
            np.column_stack([edge[0] + t * (edge[2] - edge[0]), edge[1] + t * (edge[3] - edge[1])])
        )
    return np.concatenate(points)


def sampled_core_distance_bruteforce(
    a: shapely.Geometry, b: shapely.Geometry, spacing_m: float = DEFAULT_SPACING_M
) -> CoreDistance:
    """The same distance by brute force over all pairs of dense samples (small inputs only).

    Any point of an edge is within ``spacing_m / 2`` (on the ground) of a sample,
    so the minimum over samples overestimates the true minimum by at most
    ``spacing_m``.
    """
    if cores_touch(a, b):
        return CoreDistance(0.0, 0.0, True)
    pa, pb = sample_core(a, spacing_m), sample_core(b, spacing_m)
    best = math.inf
    for start in range(0, len(pa), max(1, _CHUNK // len(pb))):
        block = pa[start : start + max(1, _CHUNK // len(pb))]
        ia, ib = np.meshgrid(np.arange(len(block)), np.arange(len(pb)), indexing="ij")
        d = geodesic_distances(
            block[ia.ravel(), 0], block[ia.ravel(), 1], pb[ib.ravel(), 0], pb[ib.ravel(), 1]
        )
        best = min(best, float(d.min()))
    return CoreDistance(best, spacing_m, False)


# --------------------------------------------------------------------------- #
# Pairs
# --------------------------------------------------------------------------- #


def tolerance_m(horizontal_m: float) -> float:
    """The spec's accuracy allowance around a horizontal minimum: max(1 m, 0.1 %)."""
    return max(1.0, 0.001 * horizontal_m)


@dataclass(frozen=True, slots=True)
class RefPair:
    a: str
    b: str
    distance_m: float
    """Footprint distance ``max(0, core - buffers)``; sampled: up to ``distance_error_m`` high."""
    distance_error_m: float
    vertical_gap_m: float
    time_gap_s: float
    horizontal_m: float
    vertical_m: float
    time_s: float
    conflict: bool
    """The spec's verdict with the sampled distance."""
    ambiguous: bool
    """The true distance may lie within the spec's tolerance of H: either verdict is right."""
    touching: bool
    """The cores share a point: distance exactly 0, and a conflict whenever V and T allow."""
    clearance_m: float
    """``core - buffers`` before clamping at 0 (negative: the footprints overlap that deep)."""


def reference_pair(
    va: Volume,
    vb: Volume,
    rules: Sequence[SeparationRule],
    spacing_m: float = DEFAULT_SPACING_M,
    relative_spacing: float = DEFAULT_RELATIVE_SPACING,
) -> RefPair:
    """The spec's verdict for one pair of volumes of different parties (``va.id < vb.id``)."""
    sep = separation_for(va.kind, vb.kind, rules)
    vgap = interval_gap(va.altitude_low, va.altitude_high, vb.altitude_low, vb.altitude_high)
    tgap = interval_gap(va.start, va.end, vb.start, vb.end)
    core = core_distance(va.geometry, vb.geometry, spacing_m, relative_spacing)
    buffers = va.buffer_m + vb.buffer_m
    clearance_hi = core.distance_m - buffers
    clearance_lo = core.distance_m - core.error_m - buffers
    distance = max(0.0, clearance_hi)
    in_v, in_t = vgap <= sep.vertical_m, tgap <= sep.time_s
    conflict = distance <= sep.horizontal_m and in_v and in_t
    # The accuracy rule: the verdict may differ only if the true distance lies
    # within max(1 m, 0.1 % of H) of H. It is applied to the signed clearance
    # (footprints overlapping deeper than the tolerance must be found even with
    # H = 0), and never to cores sharing a point.
    tol = tolerance_m(sep.horizontal_m)
    near = clearance_lo <= sep.horizontal_m + tol and clearance_hi >= sep.horizontal_m - tol
    ambiguous = (not core.touching) and near and in_v and in_t
    return RefPair(
        a=va.id,
        b=vb.id,
        distance_m=distance,
        distance_error_m=core.error_m,
        vertical_gap_m=vgap,
        time_gap_s=tgap,
        horizontal_m=sep.horizontal_m,
        vertical_m=sep.vertical_m,
        time_s=sep.time_s,
        conflict=conflict,
        ambiguous=ambiguous,
        touching=core.touching,
        clearance_m=clearance_hi,
    )


def reference_conflicts(
    scenario: Scenario,
    spacing_m: float = DEFAULT_SPACING_M,
    relative_spacing: float = DEFAULT_RELATIVE_SPACING,
) -> dict[tuple[str, str], RefPair]:
    """Every pair of volumes of different parties, keyed ``(a, b)`` with ``a < b``.

    Conflicting or not: filter on ``.conflict`` (and mind ``.ambiguous``).
    """
    out: dict[tuple[str, str], RefPair] = {}
    volumes = scenario.volumes
    for i, first in enumerate(volumes):
        for second in volumes[i + 1 :]:
            if first.party == second.party:
                continue
            va, vb = (first, second) if first.id < second.id else (second, first)
            out[(va.id, vb.id)] = reference_pair(
                va, vb, scenario.separation, spacing_m, relative_spacing
            )
    return out


# --------------------------------------------------------------------------- #
# Comparing an engine's answer with the reference
# --------------------------------------------------------------------------- #


class ConflictLike(Protocol):
    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def horizontal_distance_m(self) -> float: ...
    @property
    def vertical_gap_m(self) -> float: ...
    @property
    def time_gap_s(self) -> float: ...


def distance_allowance_m(ref: RefPair) -> float:
    """How far a reported distance may be from the reference: max(1 m, 0.1 %) + sampling."""
    return max(1.0, 0.001 * ref.distance_m) + ref.distance_error_m


def disagreements(
    conflicts: Sequence[ConflictLike], refs: dict[tuple[str, str], RefPair]
) -> list[str]:
    """Every way ``conflicts`` (an engine's answer) breaks the spec, per the reference.

    * each conflict has ``a < b``, the list is sorted by ``(a, b)``, no pair twice;
    * every reference conflict that is not ambiguous is reported;
    * every reported pair is a reference conflict or ambiguous (so never two
      volumes of one party);
    * reported distances are within :func:`distance_allowance_m` of the
      reference, and the gaps equal the reference's.
    """
    problems: list[str] = []
    keys = [(c.a, c.b) for c in conflicts]
    for a, b in keys:
        if not a < b:
            problems.append(f"conflict ({a!r}, {b!r}) is not ordered a < b")
    if keys != sorted(keys):
        problems.append(f"conflicts are not sorted by (a, b): {keys}")
    if len(set(keys)) != len(keys):
        problems.append(f"a pair is reported twice: {keys}")
    found = {(min(c.a, c.b), max(c.a, c.b)): c for c in conflicts}
    for key, ref in sorted(refs.items()):
        if ref.conflict and not ref.ambiguous and key not in found:
            problems.append(f"missed conflict {key}: {_describe(ref)}")
    for key, c in sorted(found.items()):
        ref_or_none = refs.get(key)
        if ref_or_none is None:
            problems.append(f"reported {key}, which is not a pair of different parties")
            continue
        ref = ref_or_none
        if not ref.conflict and not ref.ambiguous:
            problems.append(
                f"false conflict {key}: engine distance {c.horizontal_distance_m!r}, "
                f"vertical gap {c.vertical_gap_m!r}, time gap {c.time_gap_s!r}; "
                f"reference {_describe(ref)}"
            )
        allowance = distance_allowance_m(ref)
        if not abs(c.horizontal_distance_m - ref.distance_m) <= allowance:
            problems.append(
                f"distance of {key}: engine {c.horizontal_distance_m!r} m, reference "
                f"{ref.distance_m:.3f} m (+-{allowance:.3f} m allowed); {_describe(ref)}"
            )
        if not math.isclose(c.vertical_gap_m, ref.vertical_gap_m, rel_tol=1e-12, abs_tol=1e-9):
            problems.append(
                f"vertical gap of {key}: engine {c.vertical_gap_m!r}, "
                f"reference {ref.vertical_gap_m!r}"
            )
        if not math.isclose(c.time_gap_s, ref.time_gap_s, rel_tol=1e-12, abs_tol=1e-9):
            problems.append(
                f"time gap of {key}: engine {c.time_gap_s!r}, reference {ref.time_gap_s!r}"
            )
    return problems


def _describe(ref: RefPair) -> str:
    return (
        f"distance {ref.distance_m:.3f} m (-{ref.distance_error_m:.3f}, clearance "
        f"{ref.clearance_m:.3f}, touching={ref.touching}) vs H {ref.horizontal_m}, "
        f"vertical gap {ref.vertical_gap_m} vs V {ref.vertical_m}, "
        f"time gap {ref.time_gap_s} vs T {ref.time_s}, conflict={ref.conflict}, "
        f"ambiguous={ref.ambiguous}"
    )
