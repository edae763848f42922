"""The engine on the shared sample footprints and on the spec's edge cases.

Every scenario goes through :func:`run`, which calls ``tansiq.detect``, checks
the answer against the slow reference (``reference.py``), and checks that a
``ConflictIndex`` holding the same volumes gives the same pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import (
    GEOD,
    RefPair,
    core_distance,
    core_edges,
    disagreements,
    geodesic_distance,
    interval_gap,
    reference_conflicts,
    reference_pair,
    sampled_core_distance_bruteforce,
    separation_for,
)
from samples import (
    ANTIMERIDIAN_EAST,
    ANTIMERIDIAN_GAP_M,
    ANTIMERIDIAN_WEST,
    EIGHTY_NORTH_A,
    EIGHTY_NORTH_B,
    EIGHTY_NORTH_GAP_M,
    HOLE_ISLAND,
    HOLE_POINT,
    PARALLEL_60N,
    PARALLEL_60N_INSIDE_PROBE,
    PARALLEL_60N_SOUTH_PROBE,
    PARALLEL_60N_SOUTH_PROBE_M,
    POLAR_DISC_OVER_POLE,
    POLAR_VERTEX_AT_POLE,
    POLYGON_WITH_HOLE,
    SAMPLE_IDS,
    SAMPLES,
    SEAM_EAST,
    SEAM_WEST,
    Sample,
    fwd,
    make_scenario,
    make_volume,
    probe_outside,
    rule,
)
from tansiq import Conflict, ConflictIndex, Scenario, SeparationRule, Volume, detect
from tansiq.engine.rules import SeparationTable, pairs_changed, rule_minimums

SIX = datetime(2017, 9, 16, 6, 0, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def index_conflicts(scenario: Scenario) -> dict[tuple[str, str], Conflict]:
    """Add every volume to a ConflictIndex, then ``check`` each one; merge the answers."""
    index = ConflictIndex(scenario.separation)
    index.add_many(scenario.volumes)
    merged: dict[tuple[str, str], Conflict] = {}
    for volume in scenario.volumes:
        found = index.check(volume)
        keys = [(c.a, c.b) for c in found]
        assert keys == sorted(keys), f"check({volume.id!r}) not sorted: {keys}"
        for c in found:
            assert c.a < c.b, f"check({volume.id!r}) gave ({c.a!r}, {c.b!r})"
            assert volume.id in (c.a, c.b), f"check({volume.id!r}) reported {(c.a, c.b)}"
            merged[(c.a, c.b)] = c
    return merged


def run(
    scenario: Scenario, spacing_m: float = 1.0
) -> tuple[dict[tuple[str, str], Conflict], dict[tuple[str, str], RefPair]]:
    """``detect`` the scenario, compare with the reference and with a ConflictIndex."""
    conflicts = detect(scenario)
    refs = reference_conflicts(scenario, spacing_m)
    problems = disagreements(conflicts, refs)
    assert not problems, "engine disagrees with the reference:\n" + "\n".join(problems)
    found = {(c.a, c.b): c for c in conflicts}
    via_index = index_conflicts(scenario)
    assert set(via_index) == set(found), (
        f"ConflictIndex pairs {sorted(via_index)} != detect pairs {sorted(found)}"
    )
    for key, c in via_index.items():
        d = found[key]
        assert math.isclose(c.horizontal_distance_m, d.horizontal_distance_m, abs_tol=1e-6), key
        assert c.vertical_gap_m == d.vertical_gap_m, key
        assert c.time_gap_s == d.time_gap_s, key
    return found, refs


def pair(
    first: Volume, second: Volume, rules: Sequence[SeparationRule] = ()
) -> tuple[Conflict | None, RefPair]:
    """Run a two-volume scenario; return the engine's conflict (or None) and the reference."""
    found, refs = run(make_scenario([first, second], rules))
    key = (min(first.id, second.id), max(first.id, second.id))
    return found.get(key), refs[key]


def vol(
    id: str,
    party: str,
    geometry: shapely.Geometry,
    buffer_m: float = 0.0,
    *,
    kind: str = "sample",
    altitude: tuple[float, float] | None = None,
    time: tuple[float, float] | None = None,
) -> Volume:
    return make_volume(id, party, geometry, buffer_m, kind=kind, altitude=altitude, time=time)


def margin_m(distance_m: float) -> float:
    """Clearly outside the spec's tolerance of max(1 m, 0.1 %)."""
    return 2.0 + 0.002 * distance_m


# --------------------------------------------------------------------------- #
# The reference itself
# --------------------------------------------------------------------------- #


def test_reference_two_points_on_the_equator() -> None:
    d = core_distance(shapely.Point(0.0, 0.0), shapely.Point(0.01, 0.0))
    assert d.distance_m == pytest.approx(1113.19, abs=0.005)
    assert d.distance_m == pytest.approx(geodesic_distance(0.0, 0.0, 0.01, 0.0), abs=1e-6)


def test_reference_gaps_and_rules() -> None:
    inf = math.inf
    assert interval_gap(0, 10, 10, 20) == 0
    assert interval_gap(0, 10, 11, 20) == 1
    assert interval_gap(11, 20, 0, 10) == 1
    assert interval_gap(-inf, inf, 5, 6) == 0
    assert interval_gap(-inf, 10, 20, inf) == 10
    assert interval_gap(20, inf, -inf, 10) == 10
    assert interval_gap(-inf, inf, -inf, inf) == 0
    rules = [rule(h=100), rule("air_strike", "protected_site", h=3000), rule("*", "convoy", v=50)]
    assert separation_for("protected_site", "air_strike", rules).horizontal_m == 3000
    assert separation_for("air_strike", "convoy", rules).horizontal_m == 100
    assert separation_for("convoy", "x", rules).vertical_m == 50
    assert separation_for("x", "y", []).horizontal_m == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (shapely.box(0.0, 0.0, 0.01, 0.01), shapely.box(0.012, 0.005, 0.02, 0.02)),
        (shapely.LineString([(10.0, 60.0), (10.05, 60.0)]), shapely.Point(10.025, 59.999)),
        (
            shapely.Polygon([(179.99, 1.0), (180.0, 1.0), (180.0, 1.01)]),
            shapely.LineString([(-179.995, 1.0), (-179.99, 1.02)]),
        ),
        (shapely.box(20.0, 89.98, 40.0, 89.99), shapely.box(-160.0, 89.985, -140.0, 89.995)),
    ],
)
def test_reference_branch_and_bound_matches_brute_force(
    a: shapely.Geometry, b: shapely.Geometry
) -> None:
    fast = core_distance(a, b, 2.0)
    slow = sampled_core_distance_bruteforce(a, b, 2.0)
    assert not fast.touching
    # both overestimate the truth by at most their error bound
    assert abs(fast.distance_m - slow.distance_m) <= max(fast.error_m, slow.error_m) + 1e-9
    assert fast.error_m <= 2.0


def test_reference_edges_are_straight_in_lon_lat() -> None:
    # 300 m south of the middle of a 1,670 km edge along 60N: 300 m, not ~96 km.
    d = core_distance(PARALLEL_60N.geometry, PARALLEL_60N_SOUTH_PROBE.geometry, 0.5)
    assert d.distance_m == pytest.approx(PARALLEL_60N_SOUTH_PROBE_M, abs=d.error_m + 1e-6)


# --------------------------------------------------------------------------- #
# (a) every sample overlaps its own copy
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_sample_conflicts_with_its_copy(sample: Sample) -> None:
    found, refs = run(
        make_scenario([sample.volume("x-original", "red"), sample.volume("y-copy", "blue")])
    )
    assert refs[("x-original", "y-copy")].touching
    conflict = found.get(("x-original", "y-copy"))
    assert conflict is not None, f"{sample.name} does not conflict with its own copy"
    assert conflict.horizontal_distance_m == 0.0
    assert conflict.vertical_gap_m == 0.0
    assert conflict.time_gap_s == 0.0


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_sample_copy_of_same_party_never_conflicts(sample: Sample) -> None:
    scenario = make_scenario(
        [sample.volume("x-original", "red"), sample.volume("y-copy", "red")], [rule(h=1e6)]
    )
    assert detect(scenario) == []
    assert index_conflicts(scenario) == {}


# --------------------------------------------------------------------------- #
# (b) a disc at a known distance from every sample
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("distance_m", [40.0, 1500.0, 30_000.0])
@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_disc_at_known_distance(sample: Sample, distance_m: float) -> None:
    probe = probe_outside(sample, distance_m)
    target = sample.volume("a-sample", "red")
    disc = probe.volume("b-probe", "blue")
    # the construction is right (and so is the reference)
    ref = reference_conflicts(make_scenario([target, disc]), 1.0)[("a-sample", "b-probe")]
    assert ref.distance_m == pytest.approx(distance_m, abs=ref.distance_error_m + 1e-6)

    above = distance_m + margin_m(distance_m)
    below = distance_m - margin_m(distance_m)
    conflict, ref = pair(target, disc, [rule(h=above)])
    assert conflict is not None, f"{sample.name}: disc {distance_m} m away missed with H={above}"
    assert conflict.horizontal_distance_m == pytest.approx(
        distance_m, abs=max(1.0, 0.001 * distance_m)
    )
    conflict, ref = pair(target, disc, [rule(h=below)])
    assert conflict is None, (
        f"{sample.name}: disc {distance_m} m away reported with H={below}: "
        f"{conflict.horizontal_distance_m if conflict else None}"
    )


def _edge_probes(sample: Sample, distance_m: float, limit: int = 8) -> list[shapely.Point]:
    """Points ``distance_m`` from the lon/lat midpoint of each edge, square to it, both sides."""
    points = []
    for lon0, lat0, lon1, lat1 in core_edges(sample.geometry)[:limit]:
        if (lon0, lat0) == (lon1, lat1):
            continue
        mid = ((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0)
        along = float(GEOD.inv(mid[0], mid[1], lon1, lat1)[0])
        for side in (-90.0, 90.0):
            points.append(shapely.Point(*fwd(*mid, along + side, distance_m + sample.buffer_m)))
    return points


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_probes_beside_every_edge(sample: Sample) -> None:
    """Beside the middle of each edge, where lon/lat-straight and geodesic edges differ most.

    Each probe comes twice, under kinds whose H is just above and just below the
    reference distance; all in one scenario, checked against the reference.
    """
    target = sample.volume("0-sample", "red")
    volumes = [target]
    rules = []
    for n, point in enumerate(_edge_probes(sample, 300.0)):
        ref = reference_pair(target, make_volume("probe", "blue", point), [], 1.0)
        if ref.touching:  # inside a polygon
            continue
        margin = margin_m(ref.distance_m) + ref.distance_error_m
        for side, h in (("above", ref.distance_m + margin), ("below", ref.distance_m - margin)):
            kind = f"probe-{n}-{side}"
            volumes.append(make_volume(f"{n:02d}-{side}", "blue", point, kind=kind))
            rules.append(rule("sample", kind, h=h))
    assert len(volumes) > 1 or sample.geometry.geom_type == "Point"
    _, refs = run(make_scenario(volumes, rules))
    for key, ref in refs.items():
        assert ref.conflict is key[1].endswith("above"), (key, ref)
        assert not ref.ambiguous


# --------------------------------------------------------------------------- #
# (c) the spec's edge cases
# --------------------------------------------------------------------------- #

HERE = shapely.Point(40.21, 35.36)


def test_closed_time_intervals_touch() -> None:
    a = vol("a", "red", HERE, time=(SIX - 2 * HOUR, SIX))
    b = vol("b", "blue", HERE, time=(SIX, SIX + HOUR))
    conflict, _ = pair(a, b)
    assert conflict is not None, "an operation ending 06:00 and one starting 06:00 must conflict"
    assert conflict.time_gap_s == 0.0


@pytest.mark.parametrize(("time_s", "expected"), [(0.0, False), (1.0, True)])
def test_one_second_apart(time_s: float, expected: bool) -> None:
    a = vol("a", "red", HERE, time=(SIX - 2 * HOUR, SIX))
    b = vol("b", "blue", HERE, time=(SIX + 1.0, SIX + HOUR))
    conflict, _ = pair(a, b, [rule(t=time_s)])
    assert (conflict is not None) is expected
    if conflict is not None:
        assert conflict.time_gap_s == 1.0


@pytest.mark.parametrize(("time_s", "expected"), [(3599.0, False), (3600.0, True)])
def test_unbounded_times(time_s: float, expected: bool) -> None:
    a = vol("a", "red", HERE, time=(-math.inf, SIX - HOUR))  # no start
    b = vol("b", "blue", HERE, time=(SIX, math.inf))  # no end
    conflict, _ = pair(a, b, [rule(t=time_s)])
    assert (conflict is not None) is expected
    c = vol("c", "green", HERE)  # neither
    conflict, _ = pair(a, c)
    assert conflict is not None and conflict.time_gap_s == 0.0


def test_closed_altitude_intervals_touch() -> None:
    conflict, _ = pair(
        vol("a", "red", HERE, altitude=(0.0, 1000.0)),
        vol("b", "blue", HERE, altitude=(1000.0, 2000.0)),
    )
    assert conflict is not None and conflict.vertical_gap_m == 0.0


@pytest.mark.parametrize(("vertical_m", "expected"), [(0.0, False), (1.0, True)])
def test_one_metre_above(vertical_m: float, expected: bool) -> None:
    conflict, _ = pair(
        vol("a", "red", HERE, altitude=(0.0, 1000.0)),
        vol("b", "blue", HERE, altitude=(1001.0, 2000.0)),
        [rule(v=vertical_m)],
    )
    assert (conflict is not None) is expected


def test_no_altitude_overlaps_every_altitude() -> None:
    conflict, _ = pair(vol("a", "red", HERE), vol("b", "blue", HERE, altitude=(50_000.0, 60_000.0)))
    assert conflict is not None and conflict.vertical_gap_m == 0.0
    conflict, _ = pair(
        vol("a", "red", HERE, altitude=(-math.inf, math.inf)),
        vol("b", "blue", HERE, altitude=(-400.0, -300.0)),
    )
    assert conflict is not None and conflict.vertical_gap_m == 0.0


SHARED = {
    "edge": (shapely.box(0.0, 0.0, 1.0, 1.0), shapely.box(1.0, 0.0, 2.0, 1.0)),
    "vertex": (shapely.box(0.0, 0.0, 1.0, 1.0), shapely.box(1.0, 1.0, 2.0, 2.0)),
    "part_of_an_edge": (shapely.box(0.0, 0.0, 1.0, 2.0), shapely.box(1.0, 0.5, 2.0, 1.5)),
    "slanted_edge": (
        shapely.Polygon([(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]),
        shapely.Polygon([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]),
    ),
    "vertex_on_edge_decimal": (
        shapely.Polygon([(40.10, 35.30), (40.20, 35.38), (40.10, 35.38)]),
        shapely.Polygon([(40.15, 35.34), (40.30, 35.30), (40.30, 35.40)]),
    ),
    "point_on_edge": (shapely.box(0.0, 0.0, 1.0, 1.0), shapely.Point(1.0, 0.5)),
    "point_on_slanted_edge": (
        shapely.Polygon([(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]),
        shapely.Point(0.25, 0.25),
    ),
    "point_on_slanted_edge_decimal": (
        shapely.Polygon([(40.10, 35.30), (40.20, 35.38), (40.10, 35.38)]),
        shapely.Point(40.15, 35.34),
    ),
    "point_on_vertex": (shapely.box(0.0, 0.0, 1.0, 1.0), shapely.Point(1.0, 1.0)),
    "line_through_vertex": (
        shapely.box(0.0, 0.0, 1.0, 1.0),
        shapely.LineString([(1.0, 1.0), (2.0, 3.0)]),
    ),
    "lines_crossing": (
        shapely.LineString([(0.0, 0.0), (1.0, 1.0)]),
        shapely.LineString([(0.0, 1.0), (1.0, 0.0)]),
    ),
    "point_on_line_vertex": (
        shapely.LineString([(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]),
        shapely.Point(1.0, 1.0),
    ),
    "across_the_seam": (SEAM_WEST.geometry, SEAM_EAST.geometry),
    "both_at_the_north_pole": (POLAR_VERTEX_AT_POLE.geometry, shapely.Point(-120.0, 90.0)),
    "point_on_split_seam": (
        shapely.MultiPolygon(
            [shapely.box(179.9, -16.9, 180.0, -16.7), shapely.box(-180.0, -16.9, -179.9, -16.7)]
        ),
        shapely.Point(180.0, -16.8),
    ),
}


@pytest.mark.parametrize("case", SHARED, ids=list(SHARED))
def test_footprints_sharing_a_given_point_conflict(case: str) -> None:
    first, second = SHARED[case]
    conflict, _ = pair(vol("a", "red", first), vol("b", "blue", second))
    assert conflict is not None, f"{case}: footprints that share a point must conflict at H = 0"
    assert conflict.horizontal_distance_m <= 1e-6


KINDS_AT_2000_M = fwd(40.21, 35.36, 90.0, 2000.0)


@pytest.mark.parametrize(
    ("kind_a", "kind_b", "rules", "expected"),
    [
        # the specific rule applies in either order; the strictest wins
        (
            "air_strike",
            "protected_site",
            [rule(h=100), rule("air_strike", "protected_site", h=3000)],
            True,
        ),
        (
            "protected_site",
            "air_strike",
            [rule(h=100), rule("air_strike", "protected_site", h=3000)],
            True,
        ),
        (
            "air_strike",
            "protected_site",
            [rule("protected_site", "air_strike", h=3000), rule(h=100)],
            True,
        ),
        # a rule for other kinds does not apply
        (
            "air_strike",
            "convoy",
            [rule(h=100), rule("air_strike", "protected_site", h=3000)],
            False,
        ),
        # `*` matches any kind, on either side
        ("convoy", "drone_flight", [rule("*", "convoy", h=2500)], True),
        ("drone_flight", "convoy", [rule("*", "convoy", h=2500)], True),
        ("convoy", "convoy", [rule("convoy", "*", h=2500)], True),
        ("drone_flight", "artillery", [rule("*", "convoy", h=2500)], False),
        # a looser rule never relaxes a stricter one
        (
            "air_strike",
            "protected_site",
            [rule("air_strike", "protected_site", h=3000), rule(h=10)],
            True,
        ),
        # no rule at all: every minimum is 0
        ("air_strike", "protected_site", [], False),
    ],
)
def test_separation_rules_combine(
    kind_a: str, kind_b: str, rules: list[SeparationRule], expected: bool
) -> None:
    a = vol("a", "red", HERE, kind=kind_a)
    b = vol("b", "blue", shapely.Point(*KINDS_AT_2000_M), kind=kind_b)
    conflict, ref = pair(a, b, rules)
    assert ref.distance_m == pytest.approx(2000.0, abs=1e-6)
    assert (conflict is not None) is expected


def test_each_minimum_is_the_largest_of_any_rule() -> None:
    # H comes from one rule, V from another, T from a third: all three are needed.
    rules = [
        rule("air_strike", "*", h=2100.0),
        rule("protected_site", "air_strike", v=300.0),
        rule("*", "*", t=60.0),
        rule("*", "*", h=5.0, v=5.0, t=5.0),
    ]
    a = vol("a", "red", HERE, kind="air_strike", altitude=(0.0, 1000.0), time=(0.0, 100.0))
    b = vol(
        "b",
        "blue",
        shapely.Point(*KINDS_AT_2000_M),
        kind="protected_site",
        altitude=(1250.0, 1300.0),
        time=(150.0, 200.0),
    )
    conflict, _ = pair(a, b, rules)
    assert conflict is not None
    assert conflict.vertical_gap_m == 250.0
    assert conflict.time_gap_s == 50.0
    # drop any one of the first three rules and the pair is clear
    for k in range(3):
        conflict, _ = pair(a, b, [r for i, r in enumerate(rules) if i != k])
        assert conflict is None, f"without rule {k} the pair must not conflict"


def test_same_party_never_conflicts() -> None:
    scenario = make_scenario(
        [
            vol("a", "red", HERE),
            vol("b", "red", HERE),
            vol("c", "blue", shapely.Point(40.22, 35.36)),
        ],
        [rule(h=10_000.0, v=1e6, t=1e9)],
    )
    found, _ = run(scenario)
    assert set(found) == {("a", "c"), ("b", "c")}


@pytest.mark.parametrize(("horizontal_m", "expected"), [(1000.0, True), (800.0, False)])
def test_900_m_at_80_north(horizontal_m: float, expected: bool) -> None:
    conflict, _ = pair(
        EIGHTY_NORTH_A.volume("a", "red"),
        EIGHTY_NORTH_B.volume("b", "blue"),
        [rule(h=horizontal_m)],
    )
    assert (conflict is not None) is expected
    if conflict is not None:
        assert conflict.horizontal_distance_m == pytest.approx(EIGHTY_NORTH_GAP_M, abs=1.0)


@pytest.mark.parametrize(("horizontal_m", "expected"), [(1000.0, True), (800.0, False)])
def test_900_m_between_discs_at_80_north(horizontal_m: float, expected: bool) -> None:
    east = fwd(10.0, 80.0, 90.0, 1100.0)
    conflict, _ = pair(
        vol("a", "red", shapely.Point(10.0, 80.0), 100.0),
        vol("b", "blue", shapely.Point(*east), 100.0),
        [rule(h=horizontal_m)],
    )
    assert (conflict is not None) is expected


@pytest.mark.parametrize(("horizontal_m", "expected"), [(600.0, True), (400.0, False)])
def test_500_m_across_the_antimeridian(horizontal_m: float, expected: bool) -> None:
    conflict, _ = pair(
        ANTIMERIDIAN_WEST.volume("a", "red"),
        ANTIMERIDIAN_EAST.volume("b", "blue"),
        [rule(h=horizontal_m)],
    )
    assert (conflict is not None) is expected
    if conflict is not None:
        assert conflict.horizontal_distance_m == pytest.approx(ANTIMERIDIAN_GAP_M, abs=1.0)


@pytest.mark.parametrize(("horizontal_m", "expected"), [(600.0, True), (400.0, False)])
def test_500_m_across_the_antimeridian_points(horizontal_m: float, expected: bool) -> None:
    east = fwd(179.9995, 0.0, 90.0, 500.0)
    conflict, _ = pair(
        vol("a", "red", shapely.Point(179.9995, 0.0)),
        vol("b", "blue", shapely.Point(*east)),
        [rule(h=horizontal_m)],
    )
    assert (conflict is not None) is expected


@pytest.mark.parametrize(
    ("horizontal_m", "expected"),
    [(PARALLEL_60N_SOUTH_PROBE_M + 5.0, True), (PARALLEL_60N_SOUTH_PROBE_M - 5.0, False)],
)
def test_edge_along_a_parallel_is_not_a_great_circle(horizontal_m: float, expected: bool) -> None:
    conflict, _ = pair(
        PARALLEL_60N.volume("a", "red"),
        PARALLEL_60N_SOUTH_PROBE.volume("b", "blue"),
        [rule(h=horizontal_m)],
    )
    assert (conflict is not None) is expected
    if conflict is not None:
        assert conflict.horizontal_distance_m == pytest.approx(PARALLEL_60N_SOUTH_PROBE_M, abs=1.0)


def test_point_inside_a_parallel_edge_polygon() -> None:
    # inside the lon/lat polygon (60.01N > 60N), though south of the edge's great circle
    conflict, _ = pair(
        PARALLEL_60N.volume("a", "red"), PARALLEL_60N_INSIDE_PROBE.volume("b", "blue")
    )
    assert conflict is not None and conflict.horizontal_distance_m == 0.0


def test_island_in_a_hole() -> None:
    holed, island = POLYGON_WITH_HOLE.volume("a", "red"), HOLE_ISLAND.volume("b", "blue")
    gap = core_distance(holed.geometry, island.geometry, 1.0)
    assert 4300 < gap.distance_m < 4500
    conflict, _ = pair(holed, island)
    assert conflict is None, "an island inside a hole does not touch the polygon"
    conflict, _ = pair(holed, island, [rule(h=gap.distance_m + margin_m(gap.distance_m))])
    assert conflict is not None
    conflict, _ = pair(holed, island, [rule(h=gap.distance_m - margin_m(gap.distance_m))])
    assert conflict is None


@pytest.mark.parametrize(("radius_m", "expected"), [(0.0, False), (5000.0, False), (6000.0, True)])
def test_disc_in_a_hole(radius_m: float, expected: bool) -> None:
    # the hole is 0.1 degree wide: its centre is ~5.47 km from the nearest side
    conflict, _ = pair(
        POLYGON_WITH_HOLE.volume("a", "red"),
        vol("b", "blue", HOLE_POINT.geometry, radius_m),
    )
    assert (conflict is not None) is expected


@pytest.mark.parametrize(("horizontal_m", "expected"), [(1800.0, True), (1700.0, False)])
def test_disc_over_the_pole(horizontal_m: float, expected: bool) -> None:
    # the other point is on the far side of the pole, 16.75 km from the disc's centre
    conflict, ref = pair(
        POLAR_DISC_OVER_POLE.volume("a", "red"),
        vol("b", "blue", shapely.Point(-150.0, 89.95)),
        [rule(h=horizontal_m)],
    )
    assert ref.distance_m == pytest.approx(1754.1, abs=0.1)
    assert (conflict is not None) is expected


ACROSS_THE_POLE = {
    # the nearest vertex, (-75, 89.96), is 10,043 m away across the pole; the vertex
    # nearest in longitude, (-120, 89.94), is 11,552 m away
    "line_north": (shapely.LineString([(-75.0, 89.96), (-120.0, 89.94)]), (100.0, 89.95)),
    "polygon_north": (
        shapely.Polygon([(-75.0, 89.96), (-120.0, 89.94), (-80.0, 89.9)]),
        (100.0, 89.95),
    ),
    "polygon_south": (
        shapely.Polygon([(-75.0, -89.96), (-120.0, -89.94), (-80.0, -89.9)]),
        (100.0, -89.95),
    ),
}


@pytest.mark.parametrize("case", ACROSS_THE_POLE, ids=list(ACROSS_THE_POLE))
@pytest.mark.parametrize(("horizontal_m", "expected"), [(10_100.0, True), (10_000.0, False)])
def test_nearest_point_across_the_pole(case: str, horizontal_m: float, expected: bool) -> None:
    geometry, point = ACROSS_THE_POLE[case]
    conflict, ref = pair(
        vol("a", "red", geometry), vol("b", "blue", shapely.Point(*point)), [rule(h=horizontal_m)]
    )
    assert ref.distance_m == pytest.approx(10_043.0, abs=0.1)
    assert (conflict is not None) is expected
    if conflict is not None:
        assert conflict.horizontal_distance_m == pytest.approx(ref.distance_m, abs=10.0)


def test_disc_over_the_pole_reaches_a_vertex_at_the_pole() -> None:
    conflict, _ = pair(
        POLAR_DISC_OVER_POLE.volume("a", "red"), POLAR_VERTEX_AT_POLE.volume("b", "blue")
    )
    assert conflict is not None and conflict.horizontal_distance_m == 0.0


def test_order_and_sorting() -> None:
    ids = ["zulu", "alpha", "Mike", "10", "9", "é", "alpha-2", "Alpha"]
    volumes = [vol(i, f"party-{n % 3}", HERE) for n, i in enumerate(ids)]
    run(make_scenario(volumes))
    conflicts = detect(make_scenario(volumes))
    keys = [(c.a, c.b) for c in conflicts]
    expected = sorted(
        (min(x.id, y.id), max(x.id, y.id))
        for n, x in enumerate(volumes)
        for y in volumes[n + 1 :]
        if x.party != y.party
    )
    assert keys == expected
    assert all(a < b for a, b in keys)


def test_index_add_remove_check() -> None:
    a = vol("a", "red", HERE)
    b = vol("b", "blue", HERE)
    c = vol("c", "green", shapely.Point(40.3, 35.36))
    index = ConflictIndex([rule(h=100.0)])
    index.add(a)
    index.add_many([b, c])
    assert [(x.a, x.b) for x in index.check(a)] == [("a", "b")]
    assert [(x.a, x.b) for x in index.check(c)] == []
    index.remove("b")
    assert index.check(a) == []
    # a volume that is not stored can be checked too
    assert [(x.a, x.b) for x in index.check(b)] == [("a", "b")]
    index.add(b)
    assert [(x.a, x.b) for x in index.check(b)] == [("a", "b")]


def test_many_samples_together() -> None:
    """All samples at once, each under its own party, with a generous rule."""
    volumes = [s.volume(f"{n:02d}-{s.name}", f"p{n}") for n, s in enumerate(SAMPLES)]
    volumes += [
        HOLE_ISLAND.volume("90-island", "p90"),
        SEAM_WEST.volume("91-seam-west", "p91"),
        SEAM_EAST.volume("92-seam-east", "p92"),
    ]
    found, refs = run(make_scenario(volumes, [rule(h=50_000.0)]), spacing_m=2.0)
    assert found  # e.g. the antimeridian ones, the polar ones
    expected = {k for k, r in refs.items() if r.conflict}
    assert expected <= set(found) | {k for k, r in refs.items() if r.ambiguous}
    assert np.isfinite([c.horizontal_distance_m for c in found.values()]).all()


@pytest.mark.parametrize("fraction", [0.2, 0.35, 0.5, 0.65, 0.8])
@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_edge_across_the_equator_bends_both_ways(fraction: float, side: float) -> None:
    """A lon/lat-straight edge across the equator is S-shaped on the ground: points
    beside it, north and south of the equator, are measured to the true edge."""
    start, end = (10.0, -0.45), (10.9, 0.45)
    on_edge = (start[0] + fraction * (end[0] - start[0]), start[1] + fraction * (end[1] - start[1]))
    beside = fwd(*on_edge, 135.0 + 90.0 * (1 + side), 300.0)
    edge = vol("a", "red", shapely.LineString([start, end]))
    probe = vol("b", "blue", shapely.Point(beside))
    conflict, ref = pair(edge, probe, [rule(h=1_000.0)])
    assert conflict is not None
    measured = conflict.horizontal_distance_m
    assert ref.distance_m - ref.distance_error_m - 0.01 <= measured <= ref.distance_m + 0.01


def test_a_table_answers_for_kinds_it_has_not_seen() -> None:
    """``minimums`` registers both kinds before it looks them up (it read the matrix
    from before the registration, and failed on a fresh table)."""
    table = SeparationTable([rule("air_strike", "*", h=2100.0), rule("*", "*", t=60.0)])
    assert table.minimums("air_strike", "convoy") == (2100.0, 0.0, 60.0)
    assert table.minimums("convoy", "patrol") == (0.0, 0.0, 60.0)
    assert SeparationTable().minimums("convoy", "convoy") == (0.0, 0.0, 0.0)


KINDS = ["a", "b", "c", "d"]
rule_strategy = st.builds(
    SeparationRule,
    between=st.tuples(st.sampled_from([*KINDS, "*"]), st.sampled_from([*KINDS, "*"])),
    horizontal_m=st.sampled_from([0.0, 100.0, 500.0]),
    vertical_m=st.sampled_from([0.0, 50.0]),
    time_s=st.sampled_from([0.0, 600.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    old=st.lists(rule_strategy, max_size=4),
    new=st.lists(rule_strategy, max_size=4),
    held=st.lists(st.sampled_from(KINDS), max_size=4),
)
def test_the_pairs_new_rules_change_are_those_a_table_tells_apart(
    old: list[SeparationRule], new: list[SeparationRule], held: list[str]
) -> None:
    """`pairs_changed` compares only the pairs an added or removed rule matches; it finds
    exactly the pairs of held kinds whose minimums two tables give differently."""
    before, after = SeparationTable(old), SeparationTable(new)
    expected = {
        (x, y)
        for x in held
        for y in held
        if x <= y and before.minimums(x, y) != after.minimums(x, y)
    }
    assert pairs_changed(old, new, held) == expected
    for x in held:
        for y in held:
            assert rule_minimums(old, x, y) == before.minimums(x, y)
