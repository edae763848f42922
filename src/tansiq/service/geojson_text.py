"""GeoJSON text of a drawn overlap region, written by orjson from the coordinate arrays.

Every conflict stores two regions of a few hundred positions; ``shapely.to_geojson``
(GEOS's writer) took about three times as long as this for the same text, digit for
digit, and was a measurable part of every filing (docs/benchmarks.md). Regions are
polygons, multipolygons (cut at the antimeridian) or points; any other type is left
to shapely.

Coordinates are written to :data:`DECIMALS` decimal places (a ten-millionth of a
degree, 1.1 cm or less on the ground), as RFC 7946 §11.2 advises: the 17 digits
of a double said nothing more about a region drawn to centimetres, and took 38 %
of every stored region, answer and event. A region that rounding would make
invalid or empty (an overlap narrower than a centimetre) is written in full.
Polygons are written with their rings oriented as RFC 7946 §3.1.6 requires.
"""

from __future__ import annotations

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray

from tansiq.engine.lens import turns_left_once

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


#: decimal places of a written coordinate (degrees)
DECIMALS = 7


def region_geojson(geometry: shapely.Geometry) -> str:
    # RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise (GEOS's
    # intersections come out the other way round)
    geometry = shapely.orient_polygons(geometry)
    rounded = shapely.transform(geometry, _rounded)
    if not rounded.is_empty and shapely.is_valid(rounded):
        geometry = rounded
    if isinstance(geometry, shapely.Polygon):
        return _dumps({"type": "Polygon", "coordinates": _rings(geometry)})
    if isinstance(geometry, shapely.MultiPolygon):
        coordinates = [_rings(part) for part in geometry.geoms]
        return _dumps({"type": "MultiPolygon", "coordinates": coordinates})
    if isinstance(geometry, shapely.Point) and not geometry.is_empty:
        return _dumps({"type": "Point", "coordinates": shapely.get_coordinates(geometry)[0]})
    return str(shapely.to_geojson(geometry))


def ring_geojson(ring: NDArray[np.float64]) -> str:
    """``region_geojson(shapely.Polygon(ring))`` for a closed ring of longitude and
    latitude, digit for digit, written straight from the array when its rounded
    positions bound a convex polygon counterclockwise (a lens, as
    ``RegionDrawer.lens_rings`` gives): then they are valid and oriented as they
    are, and orienting, rounding and checking by shapely, more than half of a
    region's cost, are not needed."""
    rounded = np.round(ring, DECIMALS)
    if turns_left_once(rounded):
        return _dumps({"type": "Polygon", "coordinates": [rounded]})
    return region_geojson(shapely.Polygon(ring))


def _rounded(coordinates: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.round(coordinates, DECIMALS)


def _rings(polygon: shapely.Polygon) -> list[NDArray[np.float64]]:
    rings = [polygon.exterior, *polygon.interiors]
    return [shapely.get_coordinates(ring) for ring in rings]


def _dumps(value: object) -> str:
    return orjson.dumps(value, option=_NUMPY).decode()
