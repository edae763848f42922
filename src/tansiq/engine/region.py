"""The overlap region of a conflict: the part of each footprint within the separation of the other.

This is a picture for people (what a party is shown of the other's volume), not a
decision: the decision is the engine's exact distance. It is drawn in an
azimuthal projection centred near the two volumes (:class:`RegionDrawer`), with
buffers of 32 segments per quarter circle, so its edges are good to well under
0.1 % of the footprints' size; where rounding leaves the intersection empty for
a pair the engine found in conflict, the region is the closest point of the
footprint.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import shapely

from tansiq.engine.footprints import continuous_frame
from tansiq.engine.geodesy import MEAN_RADIUS, FloatArray
from tansiq.engine.jit import jit
from tansiq.engine.lens import disc_lens
from tansiq.engine.local_projection import project, unproject
from tansiq.scenario.model import Volume

QUAD_SEGMENTS = 32
#: how far a drawn chord may stray from the true edge (straight in lon/lat), metres
DRAWING_SAGITTA_M = 0.05
#: the longest ground length of one degree (of latitude, near the poles), metres
MAX_DEGREE_M = 111_700.0
#: the shortest (of latitude, at the equator: 110,574 m), with a margin, metres
MIN_DEGREE_M = 110_000.0
#: the angle between two vertices of a drawn circle (as GEOS's buffers draw it), radians
LENS_STEP = math.pi / (2 * QUAD_SEGMENTS)
#: frames are centred on the nodes of a grid this many degrees apart (see RegionDrawer)
FRAME_GRID_DEG = 0.25
#: beyond this latitude, degrees; frames are centred between the two volumes
GRID_LATITUDE_LIMIT = 80.0


def overlap_regions(
    va: Volume, vb: Volume, horizontal_m: float
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The part of ``va``'s footprint within ``horizontal_m`` of ``vb``'s, and the reverse."""
    return RegionDrawer(capacity=0).regions(va, vb, horizontal_m)


class _Drawn(NamedTuple):
    """One volume drawn in one frame: its core, its footprint and its reach (the
    footprint widened by a separation), in metres of the frame."""

    volume: Volume
    core: shapely.Geometry
    footprint: shapely.Geometry
    reach: shapely.Geometry


class RegionDrawer:
    """Overlap regions, drawing each volume once per frame and separation.

    A filing in a contested area conflicts with several volumes, and each of those
    with many filings after it: drawing a volume (segmenting, projecting, two
    buffers) was two thirds of a region's cost, repeated for every pair. Frames are
    centred on a grid (:data:`FRAME_GRID_DEG`), not on each pair, so that volumes
    near one another share one and are drawn once. The most recent drawings are
    kept, up to ``capacity`` positions in all (a drawing's size is its volume's:
    a disc's is 259 positions, a country's border's can be thousands; the default
    holds some 3,900 drawings of discs, 30–70 MB: docs/engine.md). Two discs are
    drawn as a lens, without drawings (:func:`_disc_regions`). A drawing is used
    again only for the very same volume object (a replaced volume keeps its id,
    not its shape). The regions do not depend on what is kept: a drawer with
    ``capacity=0`` draws the same ones.

    Not thread-safe: the theater calls it under its lock.
    """

    def __init__(self, capacity: int = 1_000_000, lenses: bool = True) -> None:
        self._capacity = capacity
        self._lenses = lenses  # two discs drawn as a lens (False: by overlay, to compare)
        self._kept = 0  # positions in the drawings kept
        self._drawn: OrderedDict[tuple[str, float, float, float, float], _Drawn] = OrderedDict()

    @property
    def kept(self) -> int:
        """Positions in the drawings kept (at most ``capacity``)."""
        return self._kept

    def regions(
        self, va: Volume, vb: Volume, horizontal_m: float
    ) -> tuple[shapely.Geometry, shapely.Geometry]:
        lon0, lat0 = _frame_centre(va.geometry, vb.geometry)
        lenses = _disc_regions(va, vb, horizontal_m, lon0, lat0) if self._lenses else None
        if lenses is not None:
            return lenses
        a = self._draw(va, lon0, lat0, horizontal_m)
        b = self._draw(vb, lon0, lat0, horizontal_m)

        region_a = _within(a.footprint, b.reach, b.core)
        region_b = _within(b.footprint, a.reach, a.core)
        return _to_lonlat(region_a, lon0, lat0), _to_lonlat(region_b, lon0, lat0)

    def lens_rings(
        self, va: Volume, vb: Volume, horizontal_m: float
    ) -> tuple[FloatArray, FloatArray] | None:
        """:meth:`regions` as two rings of longitude and latitude (closed, the
        positions of the regions' polygons), for two discs whose lenses are at least
        a metre wide, reach no pole and stay within ±180° of longitude; None for
        any other pair (then :meth:`regions`). Most conflicts in a contested area are
        such pairs, and their regions are written as text straight from these
        arrays, without making polygons of them (docs/benchmarks.md)."""
        if not self._lenses:
            return None
        lon0, lat0 = _frame_centre(va.geometry, vb.geometry)
        lenses = _disc_lenses(va, vb, horizontal_m, lon0, lat0)
        if lenses is None or lenses.overlap_m < 1.0:
            return None
        pole_m = (90.0 - abs(lat0)) * MIN_DEGREE_M  # as _may_reach_a_pole
        ring_a = _plain_lonlat(lenses.ring_a, lon0, lat0, pole_m)
        ring_b = _plain_lonlat(lenses.ring_b, lon0, lat0, pole_m)
        return (ring_a, ring_b) if len(ring_a) and len(ring_b) else None

    def _draw(self, volume: Volume, lon0: float, lat0: float, horizontal_m: float) -> _Drawn:
        key = (volume.id, lon0, lat0, volume.buffer_m, horizontal_m)
        drawn = self._drawn.get(key)
        if drawn is not None and drawn.volume is volume:
            self._drawn.move_to_end(key)
            return drawn
        geometry = continuous_frame(volume.geometry)
        _, south, _, north = geometry.bounds
        step = _drawing_step_deg(max(abs(south), abs(north)))
        # the projection takes longitudes modulo 360°: no turn is needed across 180°
        core = shapely.transform(
            shapely.segmentize(geometry, step), lambda c: project(c, lon0, lat0, 0.0)
        )
        footprint = core
        if volume.buffer_m > 0:
            footprint = shapely.buffer(core, volume.buffer_m, quad_segs=QUAD_SEGMENTS)
        reach = shapely.buffer(core, volume.buffer_m + horizontal_m, quad_segs=QUAD_SEGMENTS)
        drawn = _Drawn(volume, core, shapely.make_valid(footprint), shapely.make_valid(reach))
        if key in self._drawn:  # a replaced volume's drawing, under the same key
            self._kept -= _size(self._drawn.pop(key))
        self._drawn[key] = drawn
        self._kept += _size(drawn)
        while self._kept > self._capacity:  # the oldest go first (this one last)
            self._kept -= _size(self._drawn.popitem(last=False)[1])
        return drawn


def _size(drawn: _Drawn) -> int:
    """Positions held by a drawing."""
    return int(shapely.get_num_coordinates([drawn.core, drawn.footprint, drawn.reach]).sum())


class _Lenses(NamedTuple):
    """Both regions of two discs as lenses, in metres of the frame about (lon0, lat0)."""

    ring_a: FloatArray
    ring_b: FloatArray
    #: how far the discs reach into each other's separation, metres
    overlap_m: float


def _disc_lenses(
    va: Volume, vb: Volume, horizontal_m: float, lon0: float, lat0: float
) -> _Lenses | None:
    """Both footprints discs: each region is a lens (:mod:`tansiq.engine.lens`),
    the same region as the buffers' overlay but for the chords. None when either
    footprint is not a disc, or the lenses are empty in the drawing (the general
    drawing then finds the closest points)."""
    if not (_is_disc(va) and _is_disc(vb)):
        return None
    centres = np.array([[va.geometry.x, va.geometry.y], [vb.geometry.x, vb.geometry.y]])
    (ax, ay), (bx, by) = project(centres, lon0, lat0, 0.0)
    reach_a, reach_b = va.buffer_m + horizontal_m, vb.buffer_m + horizontal_m
    ring_a = disc_lens(ax, ay, va.buffer_m, bx, by, reach_b, LENS_STEP)
    ring_b = disc_lens(bx, by, vb.buffer_m, ax, ay, reach_a, LENS_STEP)
    if not (len(ring_a) and len(ring_b)):
        return None
    overlap_m = va.buffer_m + vb.buffer_m + horizontal_m - math.hypot(bx - ax, by - ay)
    return _Lenses(ring_a, ring_b, overlap_m)


def _disc_regions(
    va: Volume, vb: Volume, horizontal_m: float, lon0: float, lat0: float
) -> tuple[shapely.Geometry, shapely.Geometry] | None:
    """:func:`_disc_lenses` in longitude and latitude; None where it is None."""
    lenses = _disc_lenses(va, vb, horizontal_m, lon0, lat0)
    if lenses is None:
        return None
    ring_a, ring_b, overlap_m = lenses
    lens_a, lens_b = _ring_to_lonlat(ring_a, lon0, lat0), _ring_to_lonlat(ring_b, lon0, lat0)
    if overlap_m < 1.0 and not (shapely.is_valid(lens_a) and shapely.is_valid(lens_b)):
        # discs that all but touch: a sliver nanometres wide collapses into a spike
        # once in degrees (found by a second review); the general drawing's closest
        # point says it better
        return None
    return lens_a, lens_b


def _ring_to_lonlat(ring: FloatArray, lon0: float, lat0: float) -> shapely.Geometry:
    """:func:`_to_lonlat` of a ring, without making a polygon of metres first unless
    it may reach a pole (the common case costs one compiled pass)."""
    east, north = np.abs(ring).max(axis=0)
    if _may_reach_a_pole(east, north, lat0):
        return _to_lonlat(shapely.Polygon(ring), lon0, lat0)
    return _cut_at_antimeridian(shapely.Polygon(unproject(ring, lon0, lat0)))


@jit
def _plain_lonlat(ring: FloatArray, lon0: float, lat0: float, pole_m: float) -> FloatArray:
    """A ring of metres in the frame about (lon0, lat0) in longitude and latitude, as
    :func:`_ring_to_lonlat` gives it when it neither may reach a pole (it reaches
    ``pole_m`` from the centre) nor is shifted or cut at 180°; otherwise no
    positions (0 × 2). One compiled pass where numpy's took a dozen calls."""
    east = north = 0.0
    for i in range(ring.shape[0]):
        east, north = max(east, abs(ring[i, 0])), max(north, abs(ring[i, 1]))
    if math.hypot(east, north) >= pole_m:
        return np.empty((0, 2))
    lonlat = unproject(ring, lon0, lat0)
    west, east = lonlat[:, 0].min(), lonlat[:, 0].max()
    if not -180.0 <= west < 180.0 or east > 180.0:
        return np.empty((0, 2))
    return lonlat


def _to_lonlat(region: shapely.Geometry, lon0: float, lat0: float) -> shapely.Geometry:
    """A region drawn in the frame about (lon0, lat0), in longitude and latitude as
    GeoJSON wants it: cut at 180°, and closed along the pole if it holds one."""
    west, south, east, north = region.bounds
    if _may_reach_a_pole(max(-west, east), max(-south, north), lat0):
        if isinstance(region, shapely.MultiPolygon):  # the part round the pole, if any
            parts = [_to_lonlat(part, lon0, lat0) for part in region.geoms]
            return shapely.union_all(parts)
        if isinstance(region, shapely.Polygon):
            poles = project(np.array([[0.0, 90.0], [0.0, -90.0]]), lon0, lat0, 0.0)
            for (x, y), pole_lat in zip(poles, (90.0, -90.0), strict=True):
                if shapely.contains_xy(region, x, y):
                    return _polar_cap(region, lon0, lat0, pole_lat)
    return _cut_at_antimeridian(shapely.transform(region, lambda c: unproject(c, lon0, lat0)))


def _may_reach_a_pole(east_m: float, north_m: float, lat0: float) -> bool:
    """Whether what lies within ``east_m`` and ``north_m`` of a frame's centre (at
    ``lat0``) may reach the nearer pole: a degree of latitude is at least
    :data:`MIN_DEGREE_M` long."""
    return math.hypot(east_m, north_m) >= (90.0 - abs(lat0)) * MIN_DEGREE_M


def _polar_cap(
    region: shapely.Polygon, lon0: float, lat0: float, pole_lat: float
) -> shapely.Geometry:
    """A region around a pole, in longitude and latitude: its edge goes once round
    every longitude, so it is unwound into one run of 360° and closed along the
    pole's parallel, then cut at 180°. (Drawn as it is, it would cross itself.)
    Any hole is left out: the region shown is then larger, never smaller."""
    edge = unproject(shapely.get_coordinates(region.exterior), lon0, lat0)
    lon = np.degrees(np.unwrap(np.radians(edge[:, 0])))
    lat = edge[:, 1]
    closing = [[lon[-1], pole_lat], [lon[0], pole_lat], [lon[0], lat[0]]]
    cap = shapely.Polygon(np.vstack([np.column_stack([lon, lat]), closing]))
    return _cut_at_antimeridian(shapely.make_valid(cap))


def _is_disc(volume: Volume) -> bool:
    return isinstance(volume.geometry, shapely.Point) and volume.buffer_m > 0


def _frame_centre(a: shapely.Geometry, b: shapely.Geometry) -> tuple[float, float]:
    """The centre of the frame two volumes are drawn in: the middle of their boxes,
    moved to the nearest node of a :data:`FRAME_GRID_DEG` grid (but for near the
    poles, where the grid's cells narrow to nothing and the middle is kept).

    Moving the centre by at most 0.18° (20 km) moves a drawn edge by up to about
    1e-4 of the distances involved (the projection is scaled by the ellipsoid's
    radii at the centre's latitude, which change in proportion to the move): by a
    second review's measurements, 0.5 m for 20 km discs at 45°, 1 m at 60°, 0.2 m
    for 2 km discs 3 km apart at 60°; inside the drawing's 0.1 % tolerance.
    """
    west_a, south_a, east_a, north_a = continuous_frame(a).bounds
    west_b, south_b, east_b, north_b = continuous_frame(b).bounds
    centre_a, centre_b = (west_a + east_a) / 2, (west_b + east_b) / 2
    turn = 360.0 * round((centre_a - centre_b) / 360.0)  # b next to a, across 180°
    lon0 = (centre_a + centre_b + turn) / 2
    lat0 = ((south_a + north_a) / 2 + (south_b + north_b) / 2) / 2
    if abs(lat0) > GRID_LATITUDE_LIMIT:
        return lon0, lat0
    return (
        FRAME_GRID_DEG * round(lon0 / FRAME_GRID_DEG),
        FRAME_GRID_DEG * round(lat0 / FRAME_GRID_DEG),
    )


def _cut_at_antimeridian(region: shapely.Geometry) -> shapely.Geometry:
    """The region with longitudes in [-180, 180], cut in two where it crosses 180°
    (RFC 7946 §3.1.9). It is drawn in a frame centred near the two volumes, whose
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


def _within(
    footprint: shapely.Geometry, reach: shapely.Geometry, other_core: shapely.Geometry
) -> shapely.Geometry:
    """The footprint's part within the other's reach (both valid already)."""
    region = shapely.intersection(footprint, reach)
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
