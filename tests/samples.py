"""The one shared set of sample footprints every engine rule is parametrised over.

A :class:`Sample` is a core geometry (lon/lat, exactly as a scenario file would
give it) and a buffer (``radius_m`` of a Point, ``width_m / 2`` of a
LineString, 0 for polygons). ``SAMPLES`` lists them by name for
``pytest.mark.parametrize``; a few companions (an island in a hole, features
500 m apart across the antimeridian, probes near a parallel) are separate
constants because they only make sense next to their sample.

Coordinates that must sit at an exact geodesic distance are built with
``pyproj.Geod.fwd``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from pyproj import Geod

from tansiq.scenario.model import Party, Scenario, SeparationRule, Volume
from tansiq.service.clocks import Clock, exercise_clock

GEOD = Geod(ellps="WGS84")
#: the morning the service tests' operations (16 September 2017, 06:00 to 18:00) are
#: filed: the theater's clock starts here, so that they have not expired
SAMPLE_MORNING = "2017-09-16T00:00:00Z"
SAMPLE_MORNING_S = 1505520000.0


def sample_morning() -> Clock:
    return exercise_clock(SAMPLE_MORNING_S)


def fwd(lon: float, lat: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` metres from ``(lon, lat)`` along the geodesic at ``azimuth``."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
    return float(lon2), float(lat2)


@dataclass(frozen=True)
class Sample:
    name: str
    geometry: shapely.Geometry
    buffer_m: float = 0.0
    note: str = ""

    def volume(
        self,
        id: str,
        party: str,
        kind: str = "sample",
        *,
        altitude: tuple[float, float] | None = None,
        time: tuple[float, float] | None = None,
    ) -> Volume:
        return make_volume(
            id, party, self.geometry, self.buffer_m, kind=kind, altitude=altitude, time=time
        )

    def __str__(self) -> str:  # pytest ids
        return self.name


def make_volume(
    id: str,
    party: str,
    geometry: shapely.Geometry,
    buffer_m: float = 0.0,
    *,
    kind: str = "sample",
    altitude: tuple[float, float] | None = None,
    time: tuple[float, float] | None = None,
    properties: dict[str, Any] | None = None,
) -> Volume:
    low, high = altitude if altitude is not None else (-math.inf, math.inf)
    start, end = time if time is not None else (-math.inf, math.inf)
    return Volume(
        id=id,
        party=party,
        kind=kind,
        geometry=geometry,
        buffer_m=buffer_m,
        altitude_low=low,
        altitude_high=high,
        start=start,
        end=end,
        properties=properties if properties is not None else {},
    )


def make_scenario(
    volumes: Iterable[Volume],
    rules: Sequence[SeparationRule] = (),
    name: str = "test",
) -> Scenario:
    """A scenario whose parties are exactly those the volumes name."""
    vols = tuple(volumes)
    party_ids = sorted({v.party for v in vols})
    parties = tuple(Party(id=p, name=p.upper(), lang="en") for p in party_ids)
    return Scenario(name=name, parties=parties, separation=tuple(rules), volumes=vols)


def rule(
    k1: str = "*", k2: str = "*", h: float = 0.0, v: float = 0.0, t: float = 0.0
) -> SeparationRule:
    return SeparationRule(between=(k1, k2), horizontal_m=h, vertical_m=v, time_s=t)


# --------------------------------------------------------------------------- #
# Building blocks
# --------------------------------------------------------------------------- #


def _geodesic_polygon(
    lon: float, lat: float, radius_m: float, n: int, start_az: float = 0.0
) -> shapely.Polygon:
    """``n`` vertices at ``radius_m`` from the centre, joined by lon/lat-straight edges."""
    pts = [fwd(lon, lat, start_az + 360.0 * k / n, radius_m) for k in range(n)]
    return shapely.Polygon(pts)


def _tiny_square(lon: float, lat: float, side_m: float) -> shapely.Polygon:
    east, _ = fwd(lon, lat, 90.0, side_m)
    _, north = fwd(lon, lat, 0.0, side_m)
    return shapely.box(lon, lat, east, north)


# Two triangles across the antimeridian whose tips are exactly 500 m apart on the
# ground (the tips are their closest points: each triangle is a cone of half-angle
# about 33 degrees opening away from the other).
_AM_WEST_TIP = (179.998, -17.0)
_AM_EAST_TIP = fwd(*_AM_WEST_TIP, 90.0, 500.0)
assert _AM_EAST_TIP[0] < -179.99, _AM_EAST_TIP  # normalised to the western hemisphere

_PARALLEL_60N = shapely.Polygon([(5.0, 60.0), (35.0, 60.0), (35.0, 60.5), (5.0, 60.5)])
"""A 1,670 km long edge along the parallel 60N (its great circle would bulge to 60.86N)."""

_HOLED = shapely.Polygon(
    [(30.0, 10.0), (30.2, 10.0), (30.2, 10.2), (30.0, 10.2), (30.0, 10.0)],
    holes=[[(30.05, 10.05), (30.15, 10.05), (30.15, 10.15), (30.05, 10.15), (30.05, 10.05)]],
)

POINT = Sample("point", shapely.Point(40.21, 35.36), note="radius 0")
DISC = Sample("disc", shapely.Point(40.21, 35.36), 500.0, note="radius 500 m")
CORRIDOR = Sample(
    "corridor",
    shapely.LineString([(44.0, 33.3), (44.2, 33.35), (44.3, 33.5)]),
    100.0,
    note="width 200 m",
)
CORRIDOR_ZERO_WIDTH = Sample(
    "corridor_zero_width", shapely.LineString([(-3.70, 40.40), (-3.60, 40.45)])
)
POLYGON = Sample(
    "polygon",
    shapely.Polygon(
        [(40.10, 35.30), (40.20, 35.30), (40.20, 35.38), (40.10, 35.38), (40.10, 35.30)]
    ),
)
POLYGON_WITH_HOLE = Sample("polygon_with_hole", _HOLED)
MULTIPOLYGON = Sample(
    "multipolygon",
    shapely.MultiPolygon(
        [
            shapely.box(36.0, 36.0, 36.05, 36.04),
            shapely.box(36.2, 36.1, 36.3, 36.2),
            shapely.Polygon([(36.1, 35.9), (36.15, 35.95), (36.12, 35.97)]),
        ]
    ),
)
POLAR_NEAR_POLE = Sample(
    "polar_near_pole",
    shapely.Polygon([(10.0, 89.85), (60.0, 89.85), (60.0, 89.95), (10.0, 89.95)]),
    note="quadrilateral around 89.9N",
)
POLAR_VERTEX_AT_POLE = Sample(
    "polar_vertex_at_pole",
    shapely.Polygon([(0.0, 89.5), (90.0, 89.5), (45.0, 90.0)]),
    note="a triangle with one vertex at the north pole",
)
POLAR_DISC_OVER_POLE = Sample(
    "polar_disc_over_pole",
    shapely.Point(30.0, 89.9),
    15_000.0,
    note="a disc whose footprint covers the north pole (11 km away)",
)
POLAR_SOUTH = Sample(
    "polar_south",
    shapely.Polygon([(-170.0, -89.7), (-100.0, -89.7), (-135.0, -89.95)]),
    note="a triangle near the south pole",
)
ANTIMERIDIAN_SPLIT = Sample(
    "antimeridian_split",
    shapely.MultiPolygon(
        [shapely.box(179.9, -16.9, 180.0, -16.7), shapely.box(-180.0, -16.9, -179.9, -16.7)]
    ),
    note="one square split at +-180 as RFC 7946 says",
)
ANTIMERIDIAN_WEST = Sample(
    "antimeridian_west",
    shapely.Polygon([_AM_WEST_TIP, (179.99, -16.995), (179.99, -17.005)]),
    note="tip 500 m west of ANTIMERIDIAN_EAST's tip",
)
ANTIMERIDIAN_EAST = Sample(
    "antimeridian_east",
    shapely.Polygon(
        [
            _AM_EAST_TIP,
            (_AM_EAST_TIP[0] + 0.008, _AM_EAST_TIP[1] - 0.005),
            (_AM_EAST_TIP[0] + 0.008, _AM_EAST_TIP[1] + 0.005),
        ]
    ),
)
ANTIMERIDIAN_CORRIDOR = Sample(
    "antimeridian_corridor",
    shapely.LineString([(179.95, 51.0), (180.0, 51.02)]),
    300.0,
    note="a corridor ending on the antimeridian, its footprint reaching across",
)
TINY = Sample("tiny", _tiny_square(2.35, 48.85, 1.0), note="a 1 m square")
HUGE = Sample(
    "huge",
    _geodesic_polygon(-60.0, -15.0, 950_000.0, 6, start_az=15.0),
    note="a hexagon 1,900 km across",
)
PARALLEL_60N = Sample("parallel_60n", _PARALLEL_60N, note="a long edge along 60N")

SAMPLES: tuple[Sample, ...] = (
    POINT,
    DISC,
    CORRIDOR,
    CORRIDOR_ZERO_WIDTH,
    POLYGON,
    POLYGON_WITH_HOLE,
    MULTIPOLYGON,
    POLAR_NEAR_POLE,
    POLAR_VERTEX_AT_POLE,
    POLAR_DISC_OVER_POLE,
    POLAR_SOUTH,
    ANTIMERIDIAN_SPLIT,
    ANTIMERIDIAN_WEST,
    ANTIMERIDIAN_EAST,
    ANTIMERIDIAN_CORRIDOR,
    TINY,
    HUGE,
    PARALLEL_60N,
)
SAMPLE_IDS = [s.name for s in SAMPLES]

# --------------------------------------------------------------------------- #
# Companions
# --------------------------------------------------------------------------- #

HOLE_ISLAND = Sample(
    "hole_island",
    shapely.Polygon([(30.1, 10.09), (30.11, 10.1), (30.1, 10.11), (30.09, 10.1)]),
    note="inside POLYGON_WITH_HOLE's hole, about 4.4 km from the hole's ring",
)
HOLE_POINT = Sample("hole_point", shapely.Point(30.1, 10.1), note="centre of the hole")

ANTIMERIDIAN_GAP_M = 500.0
"""The ground distance between ANTIMERIDIAN_WEST and ANTIMERIDIAN_EAST."""

SEAM_WEST = Sample("seam_west", shapely.box(179.5, 5.0, 180.0, 5.5), note="edge on +180")
SEAM_EAST = Sample("seam_east", shapely.box(-180.0, 5.2, -179.5, 5.7), note="edge on -180")

PARALLEL_60N_SOUTH_PROBE_M = 300.0
PARALLEL_60N_SOUTH_PROBE = Sample(
    "parallel_60n_south_probe",
    shapely.Point(*fwd(20.0, 60.0, 180.0, PARALLEL_60N_SOUTH_PROBE_M)),
    note="300 m due south of the middle of the 60N edge; ~96 km from its great circle",
)
PARALLEL_60N_INSIDE_PROBE = Sample(
    "parallel_60n_inside_probe",
    shapely.Point(20.0, 60.01),
    note="inside the lon/lat polygon, outside the great-circle one",
)

EIGHTY_NORTH_GAP_M = 900.0
EIGHTY_NORTH_A = Sample("eighty_north_a", shapely.Point(10.0, 80.0))
EIGHTY_NORTH_B = Sample("eighty_north_b", shapely.Point(*fwd(10.0, 80.0, 90.0, EIGHTY_NORTH_GAP_M)))


# --------------------------------------------------------------------------- #
# Probes at a known distance
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Probe:
    """A disc whose footprint is exactly ``distance_m`` from a sample's footprint."""

    centre: tuple[float, float]
    radius_m: float
    distance_m: float
    via: tuple[float, float] = field(default=(0.0, 0.0))
    """The vertex of the sample the probe was measured from."""

    def volume(self, id: str, party: str, kind: str = "probe") -> Volume:
        return make_volume(id, party, shapely.Point(*self.centre), self.radius_m, kind=kind)


def probe_outside(sample: Sample, distance_m: float, radius_m: float = 250.0) -> Probe:
    """A disc of ``radius_m`` whose footprint lies exactly ``distance_m`` from the sample's.

    It is placed due north of the northernmost vertex of the core (or due south
    of the southernmost one, when north would pass the pole). Why the distance
    is exact: the meridian arc length ``m(lat)`` changes by at most the distance
    travelled, so any core point Q (all at or south of the vertex V) is at
    least ``m(P) - m(Q) >= m(P) - m(V) = d(P, V)`` from the probe centre P, and
    ``d(P, V)`` is attained along the meridian.
    """
    coords = shapely.get_coordinates(sample.geometry)
    reach = distance_m + sample.buffer_m + radius_m
    north_i = int(coords[:, 1].argmax())
    south_i = int(coords[:, 1].argmin())
    lon_n, lat_n = float(coords[north_i, 0]), float(coords[north_i, 1])
    if lat_n + reach / 110_000.0 < 89.99:
        centre = fwd(lon_n, lat_n, 0.0, reach)
        via = (lon_n, lat_n)
    else:
        lon_s, lat_s = float(coords[south_i, 0]), float(coords[south_i, 1])
        assert lat_s - reach / 110_000.0 > -89.99, sample.name
        centre = fwd(lon_s, lat_s, 180.0, reach)
        via = (lon_s, lat_s)
    return Probe(centre=centre, radius_m=radius_m, distance_m=distance_m, via=via)
