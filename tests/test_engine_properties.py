"""Property tests: ``tansiq.detect`` against the slow reference on random small scenarios.

Scenarios hold 2-8 volumes of 2-3 parties (points, discs, corridors, polygons
with or without a hole, 1 m to 20 km) scattered around a random centre that
may be at any latitude up to +-89.5 and next to the antimeridian, where
polygons are split at +-180 into MultiPolygons (RFC 7946) and corridors are cut
at it.

Every reference conflict that is not ambiguous must be found; every reported
pair must be a reference conflict or ambiguous; reported distances must be
within max(1 m, 0.1 %) plus the reference's sampling bound.

Runs 60 examples per test by default (``TANSIQ_HYPOTHESIS_EXAMPLES`` changes
it). With ``CI=true`` the examples are derandomized so a failure reproduces on
every run; a failure prints the example, a pasteable reproducer and
``@reproduce_failure``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import shapely
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import affinity

from reference import RefPair, disagreements, reference_conflicts, tolerance_m
from samples import make_scenario, make_volume, rule
from tansiq import ConflictIndex, Scenario, SeparationRule, detect

GEOD = Geod(ellps="WGS84")
SPACING_M = 2.0
"""Reference sampling for the property tests (its error bound is added to every allowance)."""

_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}
settings.register_profile(
    "tansiq-engine",
    max_examples=int(os.environ.get("TANSIQ_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    print_blob=True,
    derandomize=_CI,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENGINE_SETTINGS = settings.get_profile("tansiq-engine")

SCALES_M = (1.0, 30.0, 1000.0, 20_000.0)
"""Characteristic sizes of a scenario (its volumes are 2 % to 100 % of one of them)."""
KINDS = ("air_strike", "convoy", "protected_site")
PARTIES = ("red", "blue", "green")
IDS = ("a", "B", "a1", "b", "10", "9", "zz", "é")
"""Volume ids: string order differs from file order and from numeric order."""


# --------------------------------------------------------------------------- #
# Strategies
# --------------------------------------------------------------------------- #


def _fwd(lon: float, lat: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
    return float(lon2), float(lat2)


def _unwrap(lon: float, around: float) -> float:
    """``lon`` moved by a multiple of 360 to within 180 degrees of ``around``."""
    while lon - around > 180.0:
        lon -= 360.0
    while lon - around < -180.0:
        lon += 360.0
    return lon


def _to_range(geometry: shapely.Geometry) -> shapely.Geometry | None:
    """Bring a geometry built with unwrapped longitudes back into [-180, 180].

    A polygon across the antimeridian is split into a MultiPolygon; a corridor
    across it is cut there (only the side of its first vertex is kept, the spec
    has no MultiLineString). None if nothing usable is left.
    """
    minx, _, maxx, _ = geometry.bounds
    if maxx - minx > 180.0:
        return None
    if minx >= -180.0 and maxx <= 180.0:
        return geometry
    if minx >= 180.0:
        return affinity.translate(geometry, xoff=-360.0)
    if maxx <= -180.0:
        return affinity.translate(geometry, xoff=360.0)
    if maxx > 180.0:  # across +180: the part east of it moves to -180..
        inside = shapely.box(minx - 1.0, -90.0, 180.0, 90.0)
        outside = shapely.box(180.0, -90.0, maxx + 1.0, 90.0)
        shift = -360.0
    else:  # across -180
        inside = shapely.box(-180.0, -90.0, maxx + 1.0, 90.0)
        outside = shapely.box(minx - 1.0, -90.0, -180.0, 90.0)
        shift = 360.0
    if isinstance(geometry, shapely.LineString):
        first = shapely.Point(geometry.coords[0])
        keep = inside if inside.covers(first) else outside
        piece = shapely.intersection(geometry, keep)
        lines = [p for p in shapely.get_parts(piece) if isinstance(p, shapely.LineString)]
        lines = [p for p in lines if p.length > 0]
        if not lines:
            return None
        line = max(lines, key=lambda p: p.length)
        return affinity.translate(line, xoff=shift) if keep is outside else line
    parts = [p for p in shapely.get_parts(shapely.intersection(geometry, inside))]
    parts += [
        affinity.translate(p, xoff=shift)
        for p in shapely.get_parts(shapely.intersection(geometry, outside))
    ]
    polygons = [p for p in parts if isinstance(p, shapely.Polygon) and p.area > 0]
    if not polygons:
        return None
    return shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]


@st.composite
def footprints(
    draw: st.DrawFn, centre: tuple[float, float], scale_m: float
) -> tuple[shapely.Geometry, float]:
    """One core geometry (lon/lat) and its buffer, near ``centre``."""
    offset = draw(st.floats(0.0, 1.5 * scale_m))
    azimuth = draw(st.floats(-180.0, 180.0))
    anchor = _fwd(*centre, azimuth, offset)
    # mostly the scenario's scale, sometimes another one (a 1 m point by a 20 km polygon)
    own_scale = draw(st.sampled_from([scale_m, scale_m, scale_m, *SCALES_M]))
    size = max(1.0, draw(st.floats(0.02, 1.0)) * own_scale)
    shape = draw(st.sampled_from(["point", "disc", "corridor", "polygon", "polygon"]))
    if shape == "point":
        return shapely.Point(anchor), 0.0
    if shape == "disc":
        return shapely.Point(anchor), size / 2.0
    if shape == "corridor":
        n_legs = draw(st.integers(1, 3))
        pts = [anchor]
        for _ in range(n_legs):
            pts.append(_fwd(*pts[-1], draw(st.floats(-180.0, 180.0)), size / n_legs))
        coords = [(_unwrap(lon, anchor[0]), lat) for lon, lat in pts]
        width = draw(st.one_of(st.just(0.0), st.floats(0.0, size / 2.0)))
        line = _to_range(shapely.LineString(coords))
        assume(line is not None and shapely.is_valid(line))
        return line, width / 2.0
    # polygon: the lon/lat convex hull of points around the anchor, maybe with a hole
    n = draw(st.integers(3, 7))
    pts = [
        _fwd(*anchor, draw(st.floats(-180.0, 180.0)), size / 2.0 * draw(st.floats(0.3, 1.0)))
        for _ in range(n)
    ]
    hull = shapely.MultiPoint([(_unwrap(lon, anchor[0]), lat) for lon, lat in pts]).convex_hull
    assume(isinstance(hull, shapely.Polygon) and hull.area > 0)
    if draw(st.booleans()):
        hole = affinity.scale(hull, 0.4, 0.4, origin=hull.centroid)
        hull = shapely.Polygon(hull.exterior.coords, [hole.exterior.coords])
    polygon = _to_range(hull)
    assume(polygon is not None and shapely.is_valid(polygon))
    return polygon, 0.0


@st.composite
def separation_rules(draw: st.DrawFn, scale_m: float) -> list[SeparationRule]:
    kinds = st.sampled_from((*KINDS, "*"))
    out = []
    for _ in range(draw(st.integers(0, 3))):
        out.append(
            rule(
                draw(kinds),
                draw(kinds),
                h=draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0 * scale_m))),
                v=draw(st.sampled_from([0.0, 50.0, 300.0])),
                t=draw(st.sampled_from([0.0, 60.0, 900.0])),
            )
        )
    return out


_ALTITUDES = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([0.0, 100.0, 500.0, 1000.0, 1500.0]),
        st.sampled_from([0.0, 100.0, 400.0, 1000.0]),
    ).map(lambda lt: (lt[0], lt[0] + lt[1])),
)
_TIMES = st.one_of(
    st.none(),
    st.tuples(
        st.integers(0, 24).map(lambda k: 300.0 * k),
        st.sampled_from([0.0, 60.0, 600.0, 3600.0]),
    ).map(lambda sd: (sd[0], sd[0] + sd[1])),
    st.integers(0, 24).map(lambda k: (-math.inf, 300.0 * k)),
    st.integers(0, 24).map(lambda k: (300.0 * k, math.inf)),
)


@st.composite
def scenarios(draw: st.DrawFn, around_the_pole: bool = False) -> Scenario:
    """Random small scenarios near a random centre (or, ``around_the_pole``, at a pole)."""
    if around_the_pole:
        # volumes all around a pole: shortest paths pass over it, and the point of
        # a footprint nearest in longitude is often not the nearest on the ground
        # (polygons that would wrap around the pole are not valid lon/lat geometries
        # and are skipped)
        lon, lat = 0.0, draw(st.sampled_from([90.0, -90.0]))
        scale = draw(st.sampled_from([1000.0, 5000.0, 20_000.0]))
    else:
        lat = draw(
            st.one_of(
                st.floats(-89.5, 89.5),
                st.sampled_from([0.0, 60.0, -60.0, 80.0, 89.0, 89.5, -89.5]),
            )
        )
        lon = draw(
            st.one_of(
                st.floats(-180.0, 180.0),
                st.floats(179.0, 180.0),
                st.floats(-180.0, -179.0),
                st.sampled_from([180.0, -180.0, 179.9999, -179.9999, 0.0]),
            )
        )
        scale = draw(st.sampled_from(SCALES_M))
    n = draw(st.integers(2, 8))
    n_parties = draw(st.integers(2, 3))
    ids = draw(st.permutations(IDS))[:n]
    volumes = []
    for k, vid in enumerate(ids):
        geometry, buffer_m = draw(footprints((lon, lat), scale))
        party = PARTIES[k] if k < 2 else draw(st.sampled_from(PARTIES[:n_parties]))
        volumes.append(
            make_volume(
                vid,
                party,
                geometry,
                buffer_m,
                kind=draw(st.sampled_from(KINDS)),
                altitude=draw(_ALTITUDES),
                time=draw(_TIMES),
            )
        )
    return make_scenario(volumes, draw(separation_rules(scale)))


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #


def scenario_source(scenario: Scenario) -> str:
    """Python that rebuilds the scenario (for a failure report)."""
    lines = ["from math import inf", "import shapely", "from samples import *", "volumes = ["]
    for v in scenario.volumes:
        wkt = shapely.to_wkt(v.geometry, rounding_precision=-1)
        lines.append(
            f"    make_volume({v.id!r}, {v.party!r}, shapely.from_wkt({wkt!r}), {v.buffer_m!r}, "
            f"kind={v.kind!r}, altitude=({v.altitude_low!r}, {v.altitude_high!r}), "
            f"time=({v.start!r}, {v.end!r})),"
        )
    lines.append("]")
    rules = ", ".join(
        f"rule({r.between[0]!r}, {r.between[1]!r}, h={r.horizontal_m!r}, "
        f"v={r.vertical_m!r}, t={r.time_s!r})"
        for r in scenario.separation
    )
    lines.append(f"scenario = make_scenario(volumes, [{rules}])")
    return "\n".join(lines)


def check(scenario: Scenario) -> dict[tuple[str, str], RefPair]:
    """detect vs the reference, and a ConflictIndex vs detect."""
    note(scenario_source(scenario))
    conflicts = detect(scenario)
    refs = reference_conflicts(scenario, SPACING_M)
    problems = disagreements(conflicts, refs)
    assert not problems, "engine disagrees with the reference:\n" + "\n".join(problems)
    index = ConflictIndex(scenario.separation)
    index.add_many(scenario.volumes)
    via_index = {(c.a, c.b) for v in scenario.volumes for c in index.check(v)}
    from_detect = {(c.a, c.b) for c in conflicts}
    assert via_index == from_detect, (
        f"ConflictIndex {sorted(via_index)} != detect {sorted(from_detect)}"
    )
    return refs


def with_rules(scenario: Scenario, rules: Sequence[SeparationRule]) -> Scenario:
    return make_scenario(scenario.volumes, rules, scenario.name)


def _everything_rule(horizontal_m: float) -> SeparationRule:
    """A rule under which only the horizontal distance can keep two volumes apart."""
    return rule(h=horizontal_m, v=1e6, t=1e9)


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #


@ENGINE_SETTINGS
@given(scenarios())
def test_detect_matches_reference(scenario: Scenario) -> None:
    check(scenario)


@settings(ENGINE_SETTINGS, max_examples=max(1, ENGINE_SETTINGS.max_examples // 2))
@given(scenarios(around_the_pole=True))
def test_detect_matches_reference_around_the_pole(scenario: Scenario) -> None:
    check(scenario)


@settings(ENGINE_SETTINGS, max_examples=max(1, ENGINE_SETTINGS.max_examples // 2))
@given(scenarios(around_the_pole=True))
def test_distances_match_reference_around_the_pole(scenario: Scenario) -> None:
    refs = check(with_rules(scenario, [_everything_rule(3_000_000.0)]))
    assert all(r.conflict for r in refs.values())


@ENGINE_SETTINGS
@given(scenarios())
def test_distances_match_reference(scenario: Scenario) -> None:
    """With a rule that every pair meets, every pair is reported with its distance."""
    refs = check(with_rules(scenario, [_everything_rule(3_000_000.0)]))
    assert all(r.conflict for r in refs.values())


@ENGINE_SETTINGS
@given(scenarios(), st.data())
def test_threshold_at_a_pair_distance(scenario: Scenario, data: st.DataObject) -> None:
    """H just above or just below one pair's distance (outside the tolerance)."""
    refs = reference_conflicts(scenario, SPACING_M)
    assume(refs)
    key = data.draw(st.sampled_from(sorted(refs)), label="pair")
    ref = refs[key]
    above = data.draw(st.booleans(), label="above")
    d = ref.distance_m
    if above:
        h = d + 1.05 * tolerance_m(d) + 0.01
    else:
        h = d - ref.distance_error_m - 1.05 * tolerance_m(d) - 0.01
        assume(h >= 0)
    new = check(with_rules(scenario, [_everything_rule(h)]))
    assert new[key].conflict is above
    assert not new[key].ambiguous
