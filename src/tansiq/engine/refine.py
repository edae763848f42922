"""Exact horizontal distance between the core geometries of many pairs at once.

For n pairs of rows (one side of each in ``a``, the other in ``b``) the answer is
the shortest geodesic distance on WGS 84 between the two core geometries, whose
edges are straight in lon/lat (RFC 7946):

1. cores that share a point are at 0: an exact lon/lat intersection test (edges are
   straight there), tried in each longitude frame in which the two can meet, plus
   both touching the same pole;
2. two points: ``Geod.inv``;
3. otherwise the closest points are located on sampled copies of the two cores in an
   azimuthal projection centred on the pair (on a point core itself, where distances
   from the centre are exact), moved onto the true edges, and measured with
   ``Geod.inv``; for large extended cores a second pass re-centres the projection
   between the points found. Every reported distance is therefore a true geodesic
   distance between two points of the cores, an upper bound of the minimum that
   exceeds it only by the second-order error of locating the closest points.

Pairs that the projection shows to be clearly farther than their ``limit`` keep that
projected distance: it is only ever compared with the limit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray

from tansiq.engine.footprints import AREA, CORE_COLUMNS, POINT, Cores
from tansiq.engine.geodesy import FloatArray, geodesic_distance, local_forward, local_inverse

#: relative margin within which the first projected estimate is not trusted to rule a pair out
PROJECTION_MARGIN = 0.05
PROJECTION_SLACK_M = 10.0
#: cores larger than this get a second, re-centred pass; below it the first projection's
#: distortion near the pair ((D/R)²/6 < 1e-4) moves the closest points by a negligible amount
SECOND_PASS_FROM_M = 50_000.0


def core_distances(a: Cores, b: Cores, limit: FloatArray) -> FloatArray:
    """Distance in metres between core geometries, row by row (see module docstring)."""
    n = len(a)
    dist = np.full(n, np.nan)
    dist[(a.pole & b.pole) != 0] = 0.0
    both_points = (a.gtype == POINT) & (b.gtype == POINT) & np.isnan(dist)
    if both_points.any():
        ia = np.flatnonzero(both_points)
        ax, ay = shapely.get_x(a.geometry[ia]), shapely.get_y(a.geometry[ia])
        bx, by = shapely.get_x(b.geometry[ia]), shapely.get_y(b.geometry[ia])
        dist[ia] = geodesic_distance(ax, ay, bx, by)
    # shift of b's frame that brings it nearest to a's
    frame = np.round((a.lon_center - b.lon_center) / 360.0) * 360.0
    rest = np.flatnonzero(np.isnan(dist))
    if rest.size:
        touching = _touching(a.take(rest), b.take(rest), frame[rest])
        dist[rest[touching]] = 0.0
    rest = np.flatnonzero(np.isnan(dist))
    if rest.size:
        dist[rest] = _apart_distances(a.take(rest), b.take(rest), frame[rest], limit[rest])
    return dist


def _touching(a: Cores, b: Cores, frame: FloatArray) -> NDArray[np.bool_]:
    hit = np.zeros(len(a), dtype=bool)
    # after the frame shift the centres are within 180°: another turn can only meet
    # when the two spans add up to a whole circle
    widest = float((a.lon_max - a.lon_min).max() + (b.lon_max - b.lon_min).max())
    turns = (0.0, -360.0, 360.0) if widest >= 360.0 else (0.0,)
    for turn in turns:
        shift = frame + turn
        near = (
            ~hit
            & (b.lon_min + shift <= a.lon_max)
            & (b.lon_max + shift >= a.lon_min)
            & (b.lat_min <= a.lat_max)
            & (b.lat_max >= a.lat_min)
        )
        rows = np.flatnonzero(near)
        if rows.size:
            hit[rows] = shapely.intersects(
                a.geometry[rows], _shift_lon(b.geometry[rows], shift[rows])
            )
    return hit


def _apart_distances(a: Cores, b: Cores, frame: FloatArray, limit: FloatArray) -> FloatArray:
    """Distances for cores known not to touch; at least one of each pair is not a point."""
    # put a point core, if either is one, on side a: the projection is then centred on it
    swap = (b.gtype == POINT) & (a.gtype != POINT)
    if swap.any():
        rows = np.flatnonzero(swap)
        a, b = _swap_rows(a, b, rows)
        frame = frame.copy()
        frame[rows] = -frame[rows]
    b_geom = _shift_lon(b.geometry, frame)
    n = len(a)
    sampled = shapely.segmentize(
        np.concatenate([a.geometry, b_geom]), np.concatenate([a.step_deg, b.step_deg])
    )
    a_sampled, b_sampled = sampled[:n], sampled[n:]
    cores = np.concatenate([a.geometry, b_geom])
    core_types = np.concatenate([a.gtype, b.gtype])
    outline_lon = np.concatenate([a.lon_center, b.lon_center + frame])
    a_is_point = a.gtype == POINT
    centre_lon = np.where(
        a_is_point, shapely.get_x(a.geometry), (a.lon_center + b.lon_center + frame) / 2
    )
    centre_lat = np.where(a_is_point, shapely.get_y(a.geometry), (a.lat_center + b.lat_center) / 2)

    projected, pa, pb = _closest_points(a_sampled, b_sampled, centre_lon, centre_lat)
    result = projected.copy()
    # only pairs that might be within their limit are measured exactly
    todo = np.flatnonzero(projected <= limit * (1 + PROJECTION_MARGIN) + PROJECTION_SLACK_M)
    if todo.size == 0:
        return result
    pa_true, pb_true = _onto_both(cores, core_types, outline_lon, n, todo, pa[todo], pb[todo])
    exact = geodesic_distance(pa_true[:, 0], pa_true[:, 1], pb_true[:, 0], pb_true[:, 1])

    large = np.maximum(_extent_m(a), _extent_m(b)) > SECOND_PASS_FROM_M
    second = np.flatnonzero(~a_is_point[todo] & large[todo])
    if second.size:
        rows = todo[second]
        mid_lon = (pa_true[second, 0] + pb_true[second, 0]) / 2
        mid_lat = (pa_true[second, 1] + pb_true[second, 1]) / 2
        _, qa, qb = _closest_points(a_sampled[rows], b_sampled[rows], mid_lon, mid_lat)
        qa_true, qb_true = _onto_both(cores, core_types, outline_lon, n, rows, qa, qb)
        again = geodesic_distance(qa_true[:, 0], qa_true[:, 1], qb_true[:, 0], qb_true[:, 1])
        exact[second] = np.minimum(exact[second], again)
    result[todo] = exact
    return result


def _extent_m(c: Cores) -> FloatArray:
    """A rough size of each core (the diagonal of its lon/lat box on the ground), metres."""
    coslat = np.cos(np.radians(np.minimum(np.abs(c.lat_min), np.abs(c.lat_max))))
    extent: FloatArray = 111_320.0 * np.hypot(
        c.lat_max - c.lat_min, (c.lon_max - c.lon_min) * coslat
    )
    return extent


def _closest_points(
    a: NDArray[np.object_],
    b: NDArray[np.object_],
    centre_lon: FloatArray,
    centre_lat: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Projected distance and (lon, lat) of the closest points of sampled geometries."""
    n = len(a)
    both = _project(
        np.concatenate([a, b]),
        np.concatenate([centre_lon, centre_lon]),
        np.concatenate([centre_lat, centre_lat]),
    )
    line = shapely.shortest_line(both[:n], both[n:])
    xy = shapely.get_coordinates(line).reshape(n, 2, 2)
    gap = np.hypot(xy[:, 1, 0] - xy[:, 0, 0], xy[:, 1, 1] - xy[:, 0, 1])
    # ends of all lines at once: rows 0..n-1 on a, n..2n-1 on b
    ends = np.concatenate([xy[:, 0, :], xy[:, 1, :]])
    lon, lat = local_inverse(ends[:, 0], ends[:, 1], np.tile(centre_lon, 2), np.tile(centre_lat, 2))
    lonlat = np.column_stack([lon, lat])
    return gap, lonlat[:n], lonlat[n:]


def _project(
    geoms: NDArray[np.object_], centre_lon: FloatArray, centre_lat: FloatArray
) -> NDArray[np.object_]:
    counts = shapely.get_num_coordinates(geoms)
    lon0 = np.repeat(centre_lon, counts)
    lat0 = np.repeat(centre_lat, counts)

    def forward(coords: FloatArray) -> FloatArray:
        x, y = local_forward(coords[:, 0], coords[:, 1], lon0, lat0)
        return np.column_stack([x, y])

    return _transform(geoms, forward)


def _onto_both(
    cores: NDArray[np.object_],
    core_types: NDArray[np.int8],
    outline_lon: FloatArray,
    n: int,
    rows: NDArray[np.int64],
    on_a: FloatArray,
    on_b: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """:func:`_onto` for points on side a and side b (``cores`` holds a's, then b's).

    A point comes back from the projection with a longitude within 180° of the
    projection's centre; it is first put in the same 360° turn as its outline,
    which may have been shifted across the antimeridian.
    """
    pick = np.concatenate([rows, rows + n])
    points = np.concatenate([on_a, on_b])
    points[:, 0] += 360.0 * np.round((outline_lon[pick] - points[:, 0]) / 360.0)
    picked = cores[pick]
    # the outline of an area is its boundary: a closest point of two disjoint cores is on it
    outlines = np.where(core_types[pick] == AREA, shapely.boundary(picked), picked)
    snapped = _onto(outlines, points)
    return snapped[: len(rows)], snapped[len(rows) :]


def _onto(outlines: NDArray[np.object_], points: FloatArray) -> FloatArray:
    """The point of each outline nearest (in lon/lat) to the given point: back onto the true edge.

    The point found on a sampled chord lies within the chord's sagitta of the true
    edge; the snap moves it by that much, which changes the measured distance only
    to second order.
    """
    pts = shapely.points(points)
    line = shapely.shortest_line(outlines, pts)
    onto: FloatArray = shapely.get_coordinates(line).reshape(-1, 2, 2)[:, 0, :]
    return onto


def _shift_lon(geoms: NDArray[np.object_], shift: FloatArray) -> NDArray[np.object_]:
    if not np.any(shift):
        return geoms
    out = geoms.copy()
    rows = np.flatnonzero(shift)
    counts = shapely.get_num_coordinates(geoms[rows])
    offsets = np.repeat(shift[rows], counts)

    def move(coords: FloatArray) -> FloatArray:
        moved = coords.copy()
        moved[:, 0] += offsets
        return moved

    out[rows] = _transform(geoms[rows], move)
    return out


def _transform(
    geoms: NDArray[np.object_], func: Callable[[FloatArray], FloatArray]
) -> NDArray[np.object_]:
    result: NDArray[np.object_] = shapely.transform(geoms, func)
    return result


def _swap_rows(a: Cores, b: Cores, rows: NDArray[np.int64]) -> tuple[Cores, Cores]:
    a2 = a.take(np.arange(len(a)))
    b2 = b.take(np.arange(len(b)))
    for name in CORE_COLUMNS:
        col_a, col_b = getattr(a2, name), getattr(b2, name)
        col_a[rows], col_b[rows] = col_b[rows].copy(), col_a[rows].copy()
    return a2, b2
