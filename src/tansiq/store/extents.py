"""Extents of stored overlap regions, and the boxes a page of conflicts is filtered by.

A store keeps, beside each conflict that has regions, the envelope of the two (see
:data:`tansiq.store.base.Extent`), so that a box filter reads four numbers a conflict
instead of parsing two GeoJSON regions of a few hundred positions (about 200 µs a
conflict with shapely: a second for every 5,000 read, docs/benchmarks.md).

The service writes the extent of what it draws from the drawing itself
(:func:`padded`, under a microsecond: bench/regions.py); this module reads it from the
text (:func:`of_regions`, some 70 µs a conflict: bench/migrate_extents.py) for
conflicts stored before extents were kept (the schema 7 migration) and for a
conflict stored without one.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from tansiq.store.base import Extent

#: added on every side of an extent: the stored text rounds coordinates to 1e-7
#: degrees (tansiq.service.geojson_text.DECIMALS), a drawing's extent is of the
#: unrounded ring, and an envelope must hold what is stored
PAD_DEGREES = 1e-6


def padded(west: float, south: float, east: float, north: float) -> Extent | None:
    """An extent from the bounds of what was drawn, widened by :data:`PAD_DEGREES`
    (None if the bounds are not finite: an empty drawing has no place)."""
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        return None
    return (west - PAD_DEGREES, south - PAD_DEGREES, east + PAD_DEGREES, north + PAD_DEGREES)


def of_regions(*texts: str | None) -> Extent | None:
    """The padded envelope of stored GeoJSON regions (None: none has a position)."""
    bounds = [math.inf, math.inf, -math.inf, -math.inf]
    for text in texts:
        if text:
            _widen(orjson.loads(text), bounds)
    return padded(*bounds)


def _widen(geometry: dict[str, Any], bounds: list[float]) -> None:
    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or ():
            _widen(part, bounds)
        return
    _widen_by(geometry.get("coordinates") or [], bounds)


def _widen_by(coordinates: list[Any], bounds: list[float]) -> None:
    """Walk nested coordinate lists down to lists of positions. Plain ``min``/``max``
    over the lists: half the time of making numpy arrays of them (the 10k benchmark
    store's 311,077 conflicts in 21.6-24.7 s against 35.8-43.6 s:
    bench/migrate_extents.py, docs/benchmarks.md)."""
    if not coordinates:
        return
    first = coordinates[0]
    if isinstance(first, int | float):  # one position
        xs, ys = [coordinates[0]], [coordinates[1]]
    elif first and isinstance(first[0], int | float):  # a list of positions
        xs, ys = [p[0] for p in coordinates], [p[1] for p in coordinates]
    else:
        for part in coordinates:
            _widen_by(part, bounds)
        return
    bounds[0], bounds[1] = min(bounds[0], *xs), min(bounds[1], *ys)
    bounds[2], bounds[3] = max(bounds[2], *xs), max(bounds[3], *ys)


def boxes_of(bbox: tuple[float, float, float, float]) -> list[Extent]:
    """The boxes (west, south, east, north) whose union is where ``bbox`` (min_lon,
    min_lat, max_lon, max_lat; west above east crosses the antimeridian) lies: the box
    as asked, split at ±180 if it crosses, each also a turn east and a turn west, for
    a stored region whose longitudes run past ±180 (the service cuts what it draws at
    ±180, into a MultiPolygon whose extent is then as wide as the world: such a
    conflict is always checked, never skipped, by a box at its latitudes)."""
    west, south, east, north = bbox
    spans = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]
    return [(w + turn, south, e + turn, north) for w, e in spans for turn in (-360.0, 0.0, 360.0)]

