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
from pyproj import Geod, Proj

MAX_SPAN_DEG = 180.0
MAX_ACROSS_M = 2_000_000.0
_DENSIFY_DEG = 0.5
# When a geometry is too large, the distance in the message may be this much short.
_REPORT_TOLERANCE_M = 100.0
# Past this many hull points, a grid keeps one per cell (see _centre_and_fewer_points).
_MAX_POINTS = 2000
_FIRST_CELL_M = 50.0

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
    lons, lats = points[:, 0], points[:, 1]
    # Two points are never farther apart than twice the farthest point from a centre:
    # geometries well under the limit (nearly all of them) stop here.
    centre = ((lons.min() + lons.max()) / 2, (lats.min() + lats.max()) / 2)
    if 2 * _distances_from(centre, lons, lats).max() <= limit_m:
        return None
    centre, lons, lats = _centre_and_fewer_points(centre, lons, lats)
    return _largest_distance_if_above(centre, lons, lats, limit_m)


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


def _distances_from(centre: tuple[float, float], lons: FloatArray, lats: FloatArray) -> FloatArray:
    """Geodesic distances in metres from ``centre`` (lon, lat) to each point."""
    lon, lat = centre
    _, _, distances = _GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    return np.asarray(distances, dtype=np.float64)


def _centre_and_fewer_points(
    guess: tuple[float, float], lons: FloatArray, lats: FloatArray
) -> tuple[tuple[float, float], FloatArray, FloatArray]:
    """At most ``_MAX_POINTS`` of the points, and a centre close to that of the
    smallest circle around them.

    Both are worked out in an azimuthal equidistant projection around the last
    guess. Above ``_MAX_POINTS``, one point is kept per cell of a grid (the cell
    doubling until few enough remain), which can only make the size found
    smaller, by about two cell diagonals: the price of a worst case that would
    otherwise cost n². The centre is that of the smallest enclosing circle in
    the projection (twice, to converge); the closer it is to the true one, the
    tighter the bounds of :func:`_largest_distance_if_above`.
    """
    projection = Proj(proj="aeqd", lon_0=guess[0], lat_0=guess[1], ellps="WGS84")
    xs, ys = projection(lons, lats)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        return guess, lons, lats  # a point antipodal to the guess: any centre is still correct
    cell = _FIRST_CELL_M
    while len(lons) > _MAX_POINTS:
        cells = np.floor(np.c_[xs, ys] / cell).astype(np.int64)
        keep = np.unique(cells, axis=0, return_index=True)[1]
        if len(keep) <= _MAX_POINTS:
            lons, lats = lons[keep], lats[keep]
        cell *= 2
    lon_0, lat_0 = guess
    for _ in range(2):
        projection = Proj(proj="aeqd", lon_0=lon_0, lat_0=lat_0, ellps="WGS84")
        xs, ys = projection(lons, lats)
        circle = shapely.minimum_bounding_circle(shapely.multipoints(np.c_[xs, ys]))
        centroid = shapely.centroid(circle)
        lon_0, lat_0 = projection(centroid.x, centroid.y, inverse=True)
        if not (np.isfinite(lon_0) and np.isfinite(lat_0)):
            return guess, lons, lats
    return (float(lon_0), float(lat_0)), lons, lats


def _largest_distance_if_above(
    centre: tuple[float, float], lons: FloatArray, lats: FloatArray, limit_m: float
) -> float | None:
    """The largest distance between two of the points if it is above ``limit_m``, else ``None``.

    All pairs would cost n² geodesic inversions. Instead each point keeps an
    upper bound on its distance to the farthest point: first through the
    triangle inequality around ``centre``, then, each time a point's distances
    are computed, through that point. The point with the largest bound is
    measured next, until no bound can beat the limit (or, once above it, the
    best found). The answer is exact at the limit; above it, within
    ``_REPORT_TOLERANCE_M``.
    """
    from_centre = _distances_from(centre, lons, lats)
    bounds = from_centre + from_centre.max()
    best = 0.0
    while True:
        index = int(np.argmax(bounds))
        threshold = limit_m if best <= limit_m else best + _REPORT_TOLERANCE_M
        if bounds[index] <= threshold:
            break
        distances = _distances_from((float(lons[index]), float(lats[index])), lons, lats)
        farthest = float(distances.max())
        best = max(best, farthest)
        bounds = np.minimum(bounds, distances + farthest)
        bounds[index] = -np.inf
    return best if best > limit_m else None
