"""Whether two drawings of a conflict's region are the same, within drawing noise.

A region is drawn in a frame chosen from both footprints (``engine/region.py``), so
a change of a footprint far from the other side moves the frame and, by a little,
every vertex of a region that did not change: 0.12-0.15 m for a corridor's far end
moved 50 km beyond a zone, 0.73 m for one moved 720 km (measured on 2026-12-03, see
docs/service.md). Told as a change, that cleared both sides' acknowledgements and
told the other side that something it is not shown had changed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import shapely

#: regions no further apart than this are the same drawing: degrees of latitude (1.1 m),
#: longitude scaled to them by the cosine of the latitude (unscaled, 1e-5° of longitude
#: was 0.56 m at 60° N, and noise there read as a new entry: a reviewer); a far end
#: moved much beyond 700 km may move the frame by more, which then reads as a change
DRAWING_NOISE_DEG = 1e-5


def longitude_scale(south: float, north: float) -> float:
    """What a degree of longitude is worth in degrees of latitude between two
    latitudes, at most: the cosine at the one nearest the equator (the widest), so
    that a distance scaled by it is never less than on the ground."""
    if not (-90.0 <= south <= 90.0 and -90.0 <= north <= 90.0) or south <= 0.0 <= north:
        return 1.0  # not a latitude (or NaN): unscaled, the stricter (a reviewer)
    return math.cos(math.radians(min(abs(south), abs(north))))


def extents_alike(
    first: tuple[float, float, float, float], second: tuple[float, float, float, float]
) -> bool:
    """Whether two extents (west, south, east, north) could bound drawings alike: each
    bound within the noise of the other's, longitudes scaled (two drawings within the
    noise of each other have so)."""
    scale = longitude_scale(min(first[1], second[1]), max(first[3], second[3]))
    return (
        abs(first[0] - second[0]) * scale <= DRAWING_NOISE_DEG
        and abs(first[2] - second[2]) * scale <= DRAWING_NOISE_DEG
        and abs(first[1] - second[1]) <= DRAWING_NOISE_DEG
        and abs(first[3] - second[3]) <= DRAWING_NOISE_DEG
    )


def alike(first: str, second: str) -> bool:
    """Whether two regions' GeoJSON are the same drawing: each within
    :data:`DRAWING_NOISE_DEG` of the other (never alike when they are further apart)."""
    if first == second:
        return True
    # drawn vertex for vertex alike, they have as many positions, which the text tells
    # in a millisecond where parsing 50,000 takes some 25 ms
    if first.count("],[") == second.count("],[") and _vertices_within_noise(
        orjson.loads(first), orjson.loads(second)
    ):
        return True
    a, b = shapely.from_geojson(first), shapely.from_geojson(second)
    # longitudes scaled to degrees of latitude first (see DRAWING_NOISE_DEG)
    south, north = shapely.total_bounds([a, b])[[1, 3]]
    scale = longitude_scale(float(south), float(north))
    a, b = (shapely.transform(g, lambda xy: xy * (scale, 1.0)) for g in (a, b))
    # each within the other widened by the noise (the widening's arcs inscribed, so
    # never wider): O(n log n), where a discrete Hausdorff distance is O(n*m), 17 s
    # under the lock for a zone of 50,000 vertices (a reviewer)
    wa, wb = shapely.buffer([a, b], DRAWING_NOISE_DEG, quad_segs=2)
    return bool(shapely.covers(wa, b) and shapely.covers(wb, a))


def _vertices_within_noise(first: Any, second: Any) -> bool:
    """Whether two polygons drawn alike (the same parts and rings, vertex for vertex:
    the frame moved, not the shape) have each vertex within the noise of its
    counterpart. Then each boundary, and so each region, is within the noise of the
    other (moving each vertex straight to its counterpart sweeps the boundary no
    further), for a few ms where the buffers of :func:`alike` took 190 ms for
    50,000 vertices (a reviewer). False when they are not drawn alike."""
    parts_a, parts_b = _parts_of(first), _parts_of(second)
    if parts_a is None or parts_b is None:
        return False
    if [[len(ring) for ring in part] for part in parts_a] != [
        [len(ring) for ring in part] for part in parts_b
    ]:
        return False
    for ring_a, ring_b in zip(
        (ring for part in parts_a for ring in part),
        (ring for part in parts_b for ring in part),
        strict=True,
    ):
        try:  # a ring at a time: numpy reads each list of positions in C
            a, b = np.asarray(ring_a, dtype=np.float64), np.asarray(ring_b, dtype=np.float64)
        except (TypeError, ValueError):  # positions of unequal lengths, or not numbers
            return False
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] < 2 or not a.size:
            return False
        lats = np.concatenate([a[:, 1], b[:, 1]])
        scale = longitude_scale(float(lats.min()), float(lats.max()))
        moved = np.hypot((a[:, 0] - b[:, 0]) * scale, a[:, 1] - b[:, 1])
        if not bool(np.all(moved <= DRAWING_NOISE_DEG)):  # (NaN: not alike)
            return False
    return True


def _parts_of(geometry: Any) -> list[list[list[Any]]] | None:
    """The polygons of a GeoJSON Polygon (one) or MultiPolygon, each a list of rings
    (None: another type, or not a list where one is due)."""
    if not isinstance(geometry, dict):
        return None
    coordinates = geometry.get("coordinates")
    parts: Any
    if geometry.get("type") == "Polygon":
        parts = [coordinates]
    elif geometry.get("type") == "MultiPolygon":
        parts = coordinates
    else:
        return None
    if not isinstance(parts, list) or not all(
        isinstance(part, list) and all(isinstance(ring, list) for ring in part) for part in parts
    ):
        return None
    return parts
