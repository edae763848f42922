"""How big a geometry is: its span in longitude and its geodesic size.

The spec caps one geometry at 180 degrees of longitude (split it at the
antimeridian, as RFC 7946 says) and at 2,000 km across. "Across" is the largest
geodesic distance on the WGS 84 ellipsoid between two vertices of the geometry,
where the vertices are those of the convex hull in lon/lat, densified every
half degree so that a long edge counts through its midpoints too.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

MAX_SPAN_DEG = 180.0
MAX_ACROSS_M = 2_000_000.0
_DENSIFY_DEG = 0.5
# When a geometry is too large, the distance in the message may be this much short.
_REPORT_TOLERANCE_M = 100.0

_GEOD = Geod(ellps="WGS84")

FloatArray = npt.NDArray[np.float64]


def longitude_interval(part: shapely.Geometry) -> tuple[float, float]:
    """The longitudes a connected part covers, taken literally (no wrapping)."""
    min_lon, _, max_lon, _ = shapely.bounds(part)
    return float(min_lon), float(max_lon)


def covering_arc(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    """``(west, width)`` of the shortest arc of the circle of longitudes that covers ``intervals``.

    The arc starts at ``west`` and runs ``width`` degrees east, possibly across
    the antimeridian: parts at [179, 180] and [-180, -179] give ``(179, 2)``.
    It is found as the complement of the widest gap between the merged intervals.
    """
    merged: list[list[float]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    widest_gap = merged[0][0] + 360.0 - merged[-1][1]  # the gap across the antimeridian
    west = merged[0][0]
    for before, after in pairwise(merged):
        gap = after[0] - before[1]
        if gap > widest_gap:
            widest_gap, west = gap, after[0]
    return west, 360.0 - widest_gap


def unwrap_longitudes(geometry: shapely.Geometry, west: float) -> shapely.Geometry:
    """``geometry`` with longitudes west of ``west`` moved by +360, so its parts are contiguous."""

    def shift(coords: FloatArray) -> FloatArray:
        moved = coords.copy()
        moved[:, 0] = np.where(moved[:, 0] < west, moved[:, 0] + 360.0, moved[:, 0])
        return moved

    return shapely.transform(geometry, shift)


def across_if_too_large(geometry: shapely.Geometry, limit_m: float = MAX_ACROSS_M) -> float | None:
    """The geodesic size of ``geometry`` in metres if it is above ``limit_m``, else ``None``.

    ``geometry`` must be contiguous in longitude (see :func:`unwrap_longitudes`).
    """
    if _box_walk_m(*shapely.bounds(geometry)) <= limit_m:
        return None
    hull = shapely.segmentize(shapely.convex_hull(geometry), _DENSIFY_DEG)
    points = np.unique(shapely.get_coordinates(hull), axis=0)
    if len(points) < 2:
        return None
    return _largest_distance_if_above(points[:, 0], points[:, 1], limit_m)


def _box_walk_m(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> float:
    """An upper bound of the distance between any two points of a lon/lat box.

    Any two points are joined by a walk along a meridian to the latitude nearest
    the equator, then along that parallel, then along the other meridian: at most
    the box's height twice plus its width at that latitude (degree lengths taken at
    their largest). Most geometries are far below the limit, and skip the geodesics.
    """
    nearest_equator = 0.0 if min_lat <= 0.0 <= max_lat else min(abs(min_lat), abs(max_lat))
    height = (max_lat - min_lat) * 111_700.0
    width = (max_lon - min_lon) * 111_700.0 * math.cos(math.radians(nearest_equator))
    return 2 * height + width


def _distances_from(lon: float, lat: float, lons: FloatArray, lats: FloatArray) -> FloatArray:
    _, _, distances = _GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    return np.asarray(distances, dtype=np.float64)


def _largest_distance_if_above(lons: FloatArray, lats: FloatArray, limit_m: float) -> float | None:
    """The largest distance between two of the points if it is above ``limit_m``, else ``None``.

    All pairs would cost n² geodesic inversions. Instead each point keeps an
    upper bound on its distance to the farthest point: first through the
    triangle inequality around a centre, then, each time a point's distances are
    computed, through that point. The point with the largest bound is measured
    next, until no bound can beat the limit (or, once above it, the best found).
    The answer is exact at the limit; above it, within ``_REPORT_TOLERANCE_M``.
    """
    min_lon, min_lat, max_lon, max_lat = lons.min(), lats.min(), lons.max(), lats.max()
    from_centre = _distances_from((min_lon + max_lon) / 2, (min_lat + max_lat) / 2, lons, lats)
    bounds = from_centre + from_centre.max()
    best = 0.0
    while True:
        index = int(np.argmax(bounds))
        threshold = limit_m if best <= limit_m else best + _REPORT_TOLERANCE_M
        if bounds[index] <= threshold:
            break
        distances = _distances_from(float(lons[index]), float(lats[index]), lons, lats)
        farthest = float(distances.max())
        best = max(best, farthest)
        bounds = np.minimum(bounds, distances + farthest)
        bounds[index] = -np.inf
    return best if best > limit_m else None
