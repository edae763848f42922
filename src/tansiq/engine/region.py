"""The overlap region of a conflict: the part of each footprint within the separation of the other.

This is a picture for people (what a party is shown of the other's volume), not a
decision: the decision is the engine's exact distance. It is drawn in an
azimuthal projection centred between the two volumes, with buffers of 32
segments per quarter circle, so its edges are good to well under 0.1 % of the
footprints' size; where rounding leaves the intersection empty for a pair the
engine found in conflict, the region is the closest point of the footprint.
"""

from __future__ import annotations

import numpy as np
import shapely

from tansiq.engine.footprints import continuous_frame
from tansiq.engine.geodesy import MEAN_RADIUS, FloatArray
from tansiq.engine.local_projection import project, unproject
from tansiq.scenario.model import Volume

QUAD_SEGMENTS = 32
#: how far a drawn chord may stray from the true edge (straight in lon/lat), metres
DRAWING_SAGITTA_M = 0.05
#: the longest ground length of one degree (of latitude, near the poles), metres
MAX_DEGREE_M = 111_700.0


def overlap_regions(
    va: Volume, vb: Volume, horizontal_m: float
) -> tuple[shapely.Geometry, shapely.Geometry]:
    geometry_a, geometry_b = continuous_frame(va.geometry), continuous_frame(vb.geometry)
    west_a, south_a, east_a, north_a = geometry_a.bounds
    west_b, south_b, east_b, north_b = geometry_b.bounds
    centre_a, centre_b = (west_a + east_a) / 2, (west_b + east_b) / 2
    frame = 360.0 * round((centre_a - centre_b) / 360.0)
    lon0 = (centre_a + centre_b + frame) / 2
    lat0 = ((south_a + north_a) / 2 + (south_b + north_b) / 2) / 2
    step = _drawing_step_deg(max(abs(lat) for lat in (south_a, north_a, south_b, north_b)))

    def inverse(coords: FloatArray) -> FloatArray:
        return unproject(coords, lon0, lat0)

    core_a = shapely.transform(
        shapely.segmentize(geometry_a, step), lambda c: project(c, lon0, lat0, 0.0)
    )
    core_b = shapely.transform(
        shapely.segmentize(geometry_b, step), lambda c: project(c, lon0, lat0, frame)
    )
    foot_a = _footprint(core_a, va.buffer_m)
    foot_b = _footprint(core_b, vb.buffer_m)
    reach_a = shapely.buffer(core_a, va.buffer_m + horizontal_m, quad_segs=QUAD_SEGMENTS)
    reach_b = shapely.buffer(core_b, vb.buffer_m + horizontal_m, quad_segs=QUAD_SEGMENTS)
    region_a = _within(foot_a, reach_b, core_b)
    region_b = _within(foot_b, reach_a, core_a)
    return (
        _cut_at_antimeridian(shapely.transform(region_a, inverse)),
        _cut_at_antimeridian(shapely.transform(region_b, inverse)),
    )


def _cut_at_antimeridian(region: shapely.Geometry) -> shapely.Geometry:
    """The region with longitudes in [-180, 180], cut in two where it crosses 180°
    (RFC 7946 §3.1.9). It is drawn in a frame centred between the two volumes, whose
    longitudes can run past ±180 near the antimeridian."""
    lon_min, _, lon_max, _ = region.bounds
    shift = -360.0 * np.floor((lon_min + 180.0) / 360.0)
    if shift:
        region = shapely.transform(region, lambda c: c + np.array([shift, 0.0]))
        lon_max += shift
    if lon_max <= 180.0:
        return region
    west = shapely.clip_by_rect(region, -180.0, -90.0, 180.0, 90.0)
    east = shapely.clip_by_rect(region, 180.0, -90.0, 540.0, 90.0)
    east = shapely.transform(east, lambda c: c - np.array([360.0, 0.0]))
    return shapely.union(west, east)


def _footprint(core: shapely.Geometry, buffer_m: float) -> shapely.Geometry:
    if buffer_m > 0:
        return shapely.buffer(core, buffer_m, quad_segs=QUAD_SEGMENTS)
    return core


def _within(
    footprint: shapely.Geometry, reach: shapely.Geometry, other_core: shapely.Geometry
) -> shapely.Geometry:
    region = shapely.intersection(shapely.make_valid(footprint), shapely.make_valid(reach))
    if region.is_empty:
        line = shapely.shortest_line(footprint, other_core)
        return shapely.get_point(line, 0)
    return region


def _drawing_step_deg(abs_lat: float) -> float:
    """Longest drawn piece of an edge, in degrees, near latitude ``abs_lat``.

    An edge straight in lon/lat is a curve on the ground (a parallel's geodesic
    curvature is tan φ / R, plus what the projection adds): pieces are short enough
    that a chord strays at most ``DRAWING_SAGITTA_M`` from the true edge.
    """
    curvature = (np.tan(np.radians(min(abs_lat, 89.9999))) + 1.0) / MEAN_RADIUS
    return float(np.sqrt(8 * DRAWING_SAGITTA_M / curvature) / MAX_DEGREE_M)
