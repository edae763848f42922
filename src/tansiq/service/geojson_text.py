"""GeoJSON text of a drawn overlap region, written by orjson from the coordinate arrays.

Every conflict stores two regions of a few hundred positions; ``shapely.to_geojson``
(GEOS's writer) took about three times as long as this for the same text, digit for
digit, and was a measurable part of every filing (docs/benchmarks.md). Regions are
polygons, multipolygons (cut at the antimeridian) or points; any other type is left
to shapely.
"""

from __future__ import annotations

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def region_geojson(geometry: shapely.Geometry) -> str:
    if isinstance(geometry, shapely.Polygon):
        return _dumps({"type": "Polygon", "coordinates": _rings(geometry)})
    if isinstance(geometry, shapely.MultiPolygon):
        coordinates = [_rings(part) for part in geometry.geoms]
        return _dumps({"type": "MultiPolygon", "coordinates": coordinates})
    if isinstance(geometry, shapely.Point) and not geometry.is_empty:
        return _dumps({"type": "Point", "coordinates": shapely.get_coordinates(geometry)[0]})
    return str(shapely.to_geojson(geometry))


def _rings(polygon: shapely.Polygon) -> list[NDArray[np.float64]]:
    rings = [polygon.exterior, *polygon.interiors]
    return [shapely.get_coordinates(ring) for ring in rings]


def _dumps(value: object) -> str:
    return orjson.dumps(value, option=_NUMPY).decode()
