"""Whether two drawings of a conflict's region are the same, within drawing noise.

A region is drawn in a frame chosen from both footprints (``engine/region.py``), so
a change of a footprint far from the other side moves the frame and, by a little,
every vertex of a region that did not change: 0.12-0.15 m for a corridor's far end
moved 50 km beyond a zone, 0.73 m for one moved 720 km (measured on 2026-12-03, see
docs/service.md). Told as a change, that cleared both sides' acknowledgements and
told the other side that something it is not shown had changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import shapely

#: regions no further apart than this (degrees: 1.1 m or less) are the same drawing;
#: a far end moved much beyond 700 km may move the frame by more, which then reads as
#: a change (the cautious way)
DRAWING_NOISE_DEG = 1e-5


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
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] < 2:
            return False
        if not bool(np.all(np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) <= DRAWING_NOISE_DEG)):
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
