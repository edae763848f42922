"""The scenario reader: what a valid file becomes, and every rule it refuses with.

Each refusal test breaks one rule of a valid file and checks that the file is
refused as a whole, with a problem line that names the feature (or the member of
``tansiq``) and the rule.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

from tansiq.errors import ScenarioInvalid, ScenarioUnreadable
from tansiq.scenario import Scenario, load_scenario, parse_scenario
from tansiq.scenario.timestamps import TimestampError, parse_rfc3339

Doc = dict[str, Any]
Change = Callable[[Doc], None]

STRIKE = "feature 'ru-strike-7': "
HQ = "feature 'sdf-hq': "
ROUTE = "feature 'convoy-2': "

VALID: Doc = {
    "type": "FeatureCollection",
    "tansiq": {
        "version": 1,
        "name": "Deir ez-Zor, September 2017",
        "parties": [
            {"id": "coalition", "name": "Coalition", "lang": "en"},
            {"id": "ru", "name": "Russian forces", "lang": "ru"},
        ],
        "separation": [
            {"between": ["*", "*"], "horizontal_m": 0, "vertical_m": 0, "time_s": 0},
            {"between": ["air_strike", "protected_site"], "horizontal_m": 3000},
        ],
    },
    "features": [
        {
            "type": "Feature",
            "id": "ru-strike-7",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[40.10, 35.30], [40.20, 35.30], [40.20, 35.38], [40.10, 35.38], [40.10, 35.30]]
                ],
            },
            "properties": {
                "party": "ru",
                "kind": "air_strike",
                "altitude_m": [0, 9000],
                "start": "2017-09-16T04:00:00Z",
                "end": "2017-09-16T06:00:00Z",
            },
        },
        {
            "type": "Feature",
            "id": "sdf-hq",
            "geometry": {"type": "Point", "coordinates": [40.21, 35.36]},
            "properties": {"party": "coalition", "kind": "protected_site", "radius_m": 500},
        },
        {
            "type": "Feature",
            "id": "convoy-2",
            "geometry": {"type": "LineString", "coordinates": [[40.0, 35.0, 250], [40.3, 35.2]]},
            "properties": {
                "party": "coalition",
                "kind": "convoy",
                "width_m": 40,
                "start": "2017-09-16T07:00:00+03:00",
                "end": None,
                "callsign": "Lion 2",
            },
        },
    ],
}

# 2017-09-16T04:00:00Z
T0 = 1_505_534_400.0


def valid() -> Doc:
    return copy.deepcopy(VALID)


def problems_of(doc: object) -> list[str]:
    """The problem lines a document is refused with (the test fails if it is accepted)."""
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(json.dumps(doc))
    return list(refused.value.problems)


def feature(doc: Doc, index: int = 0) -> Doc:
    found: Doc = doc["features"][index]
    return found


def props(doc: Doc, index: int = 0) -> Doc:
    found: Doc = feature(doc, index)["properties"]
    return found


def geometry(doc: Doc, index: int = 0) -> Doc:
    found: Doc = feature(doc, index)["geometry"]
    return found


def polygon(*points: tuple[float, float]) -> list[list[list[float]]]:
    return [[list(point) for point in points]]


def square(lon: float, lat: float, side: float = 1.0) -> list[list[list[float]]]:
    return polygon(
        (lon, lat), (lon + side, lat), (lon + side, lat + side), (lon, lat + side), (lon, lat)
    )


# --- a valid file ----------------------------------------------------------------------------


def test_a_valid_file_gives_its_volumes_whole() -> None:
    scenario = parse_scenario(json.dumps(VALID))
    strike, hq, route = scenario.volumes

    assert (strike.id, strike.party, strike.kind) == ("ru-strike-7", "ru", "air_strike")
    assert (strike.altitude_low, strike.altitude_high) == (0.0, 9000.0)
    assert (strike.start, strike.end) == (T0, T0 + 7200)
    assert strike.buffer_m == 0.0
    assert strike.geometry.equals(shapely.box(40.10, 35.30, 40.20, 35.38))

    assert (hq.party, hq.kind, hq.buffer_m) == ("coalition", "protected_site", 500.0)
    assert (hq.altitude_low, hq.altitude_high) == (-math.inf, math.inf)
    assert (hq.start, hq.end) == (-math.inf, math.inf)
    assert hq.geometry.equals(shapely.Point(40.21, 35.36))

    assert route.buffer_m == 20.0  # half the corridor's width
    assert not route.geometry.has_z  # the height of a position is ignored
    assert (route.start, route.end) == (T0, math.inf)  # 07:00+03:00 is 04:00Z
    assert route.properties == VALID["features"][2]["properties"]


def test_the_tansiq_member_is_read() -> None:
    scenario = parse_scenario(json.dumps(VALID))
    assert scenario.name == "Deir ez-Zor, September 2017"
    assert scenario.version == 1
    assert [(p.id, p.name, p.lang) for p in scenario.parties] == [
        ("coalition", "Coalition", "en"),
        ("ru", "Russian forces", "ru"),
    ]
    assert scenario.party("ru") is not None
    rule = scenario.separation[1]
    assert rule.between == ("air_strike", "protected_site")
    assert (rule.horizontal_m, rule.vertical_m, rule.time_s) == (3000.0, 0.0, 0.0)


def test_optional_members_may_be_left_out() -> None:
    doc = valid()
    del doc["tansiq"]["name"]
    del doc["tansiq"]["separation"]
    for key in ("altitude_m", "start", "end"):
        del props(doc)[key]
    scenario = parse_scenario(json.dumps(doc))
    assert scenario.name == ""
    assert scenario.separation == ()
    strike = scenario.volumes[0]
    assert (strike.altitude_low, strike.altitude_high, strike.start, strike.end) == (
        -math.inf,
        math.inf,
        -math.inf,
        math.inf,
    )


def test_an_empty_feature_list_is_a_valid_scenario() -> None:
    doc = valid()
    doc["features"] = []
    assert parse_scenario(json.dumps(doc)).volumes == ()


def test_properties_are_a_copy_kept_untouched() -> None:
    doc = valid()
    props(doc)["note"] = {"nested": [1, 2]}
    props(doc)["radius_m"] = 50  # on a polygon: kept, not applied
    strike = parse_scenario(json.dumps(doc)).volumes[0]
    assert strike.properties == props(doc)
    assert strike.buffer_m == 0.0


def test_null_radius_and_width_are_absent() -> None:
    # GIS tools write null for an attribute a feature does not have.
    doc = valid()
    props(doc, 1)["radius_m"] = None
    props(doc, 2)["width_m"] = None
    _, hq, route = parse_scenario(json.dumps(doc)).volumes
    assert hq.buffer_m == 0.0 and route.buffer_m == 0.0


def test_bytes_with_a_utf8_bom_are_read() -> None:
    doc = valid()
    doc["tansiq"]["parties"][1]["name"] = "القوات الروسية"
    data = b"\xef\xbb\xbf" + json.dumps(doc, ensure_ascii=False).encode()
    assert parse_scenario(data).parties[1].name == "القوات الروسية"


def test_a_polygon_with_a_hole_is_accepted() -> None:
    doc = valid()
    geometry(doc)["coordinates"] = square(40, 35, 1) + square(40.25, 35.25, 0.5)
    strike = parse_scenario(json.dumps(doc)).volumes[0]
    assert len(strike.geometry.interiors) == 1
    assert strike.geometry.area == pytest.approx(0.75)


def test_a_multipolygon_split_at_the_antimeridian_is_accepted() -> None:
    doc = valid()
    feature(doc)["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [
            polygon((179, -16), (180, -16), (180, -17), (179, -17), (179, -16)),
            polygon((-180, -16), (-179, -16), (-179, -17), (-180, -17), (-180, -16)),
        ],
    }
    strike = parse_scenario(json.dumps(doc)).volumes[0]
    assert isinstance(strike.geometry, shapely.MultiPolygon)
    assert len(strike.geometry.geoms) == 2


def test_a_geometry_may_span_exactly_180_degrees_if_it_is_small() -> None:
    doc = valid()
    geometry(doc)["coordinates"] = polygon((0, 89), (180, 89), (180, 89.5), (0, 89.5), (0, 89))
    parse_scenario(json.dumps(doc))


def geodesic_circle(lon: float, lat: float, radius_m: float, n: int) -> list[list[list[float]]]:
    azimuths = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = Geod(ellps="WGS84").fwd(
        np.full(n, lon), np.full(n, lat), azimuths, np.full(n, radius_m)
    )
    ring = [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]
    return [[*ring, ring[0]]]


@pytest.mark.parametrize("lat", [0.0, 60.0])
def test_the_size_limit_is_geodesic_and_exact_at_2000_km(lat: float) -> None:
    # 2,000 vertices: a pair of opposite vertices is 2 × radius apart.
    doc = valid()
    geometry(doc)["coordinates"] = geodesic_circle(40, lat, 999_990, 2000)
    parse_scenario(json.dumps(doc))
    geometry(doc)["coordinates"] = geodesic_circle(40, lat, 1_000_010, 2000)
    assert problems_of(doc) == [
        f"{STRIKE}geometry is 2,000.020 km across; the limit is 2,000 km (split it)"
    ]


def test_a_too_large_geometry_is_refused_with_its_size() -> None:
    doc = valid()
    geometry(doc)["coordinates"] = geodesic_circle(40, 35, 1_500_000, 360)
    assert problems_of(doc) == [
        f"{STRIKE}geometry is 3,000 km across; the limit is 2,000 km (split it)"
    ]


# --- refusals --------------------------------------------------------------------------------


def set_in(path: tuple[str | int, ...], value: object) -> Change:
    def change(doc: Doc) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def drop(path: tuple[str | int, ...]) -> Change:
    def change(doc: Doc) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


P = ("features", 0, "properties")
G = ("features", 0, "geometry")
C = (*G, "coordinates")

# (what, change, the exact problem line)
FEATURE_REFUSALS: list[tuple[str, Change, str]] = [
    (
        "not a Feature",
        set_in(("features", 0, "type"), "Polygon"),
        f"{STRIKE}type: must be \"Feature\", got string 'Polygon'",
    ),
    (
        "missing id",
        drop(("features", 0, "id")),
        "feature #0: id: missing (every feature needs a unique string id)",
    ),
    (
        "numeric id",
        set_in(("features", 0, "id"), 7),
        "feature #0: id: must be a string, got number 7",
    ),
    ("empty id", set_in(("features", 0, "id"), ""), "feature #0: id: must be a non-empty string"),
    (
        "missing properties",
        drop(P),
        f"{STRIKE}properties: missing (a feature needs at least party and kind)",
    ),
    (
        "properties not an object",
        set_in(P, ["ru"]),
        f"{STRIKE}properties: must be an object, got list of 1",
    ),
    ("missing party", drop((*P, "party")), f"{STRIKE}properties.party: missing"),
    (
        "unknown party",
        set_in((*P, "party"), "nobody"),
        f"{STRIKE}properties.party: unknown party 'nobody' (not in tansiq.parties)",
    ),
    (
        "party not a string",
        set_in((*P, "party"), 3),
        f"{STRIKE}properties.party: must be a string, got number 3",
    ),
    ("missing kind", drop((*P, "kind")), f"{STRIKE}properties.kind: missing"),
    (
        "empty kind",
        set_in((*P, "kind"), ""),
        f"{STRIKE}properties.kind: must be a non-empty string",
    ),
    ("missing geometry", drop(G), f"{STRIKE}has no geometry (the geometry member is missing)"),
    ("null geometry", set_in(G, None), f"{STRIKE}has no geometry (geometry is null)"),
    (
        "geometry not an object",
        set_in(G, "POINT (1 2)"),
        f"{STRIKE}geometry: must be a GeoJSON geometry object, got string 'POINT (1 2)'",
    ),
    (
        "unknown geometry type",
        set_in((*G, "type"), "Circle"),
        f"{STRIKE}geometry.type: unknown geometry type 'Circle' "
        "(must be Point, LineString, Polygon or MultiPolygon)",
    ),
    (
        "MultiPoint",
        set_in(G, {"type": "MultiPoint", "coordinates": [[1, 2]]}),
        f"{STRIKE}geometry.type: unknown geometry type 'MultiPoint' "
        "(must be Point, LineString, Polygon or MultiPolygon)",
    ),
    (
        "GeometryCollection",
        set_in(G, {"type": "GeometryCollection", "geometries": []}),
        f"{STRIKE}geometry.type: unknown geometry type 'GeometryCollection' "
        "(must be Point, LineString, Polygon or MultiPolygon)",
    ),
    ("missing coordinates", drop(C), f"{STRIKE}geometry.coordinates: missing"),
    (
        "empty geometry",
        set_in(C, []),
        f"{STRIKE}geometry.coordinates: empty geometry (no coordinates)",
    ),
    (
        "empty polygon in a MultiPolygon",
        set_in(G, {"type": "MultiPolygon", "coordinates": [[]]}),
        f"{STRIKE}geometry.coordinates[0]: empty polygon (it needs an exterior ring)",
    ),
    (
        "string for a coordinate",
        set_in(G, {"type": "Point", "coordinates": ["40.1", 35.3]}),
        f"{STRIKE}geometry.coordinates[0]: must be a number, got string '40.1'",
    ),
    (
        "boolean for a coordinate",
        set_in(G, {"type": "Point", "coordinates": [40.1, True]}),
        f"{STRIKE}geometry.coordinates[1]: must be a number, got boolean true",
    ),
    (
        "position of 4 numbers",
        set_in(G, {"type": "Point", "coordinates": [40.1, 35.3, 0, 0]}),
        f"{STRIKE}geometry.coordinates: must be a position [lon, lat] or [lon, lat, height], "
        "got list of 4",
    ),
    (
        "longitude out of range",
        set_in(G, {"type": "Point", "coordinates": [190, 35]}),
        f"{STRIKE}geometry.coordinates[0]: longitude 190 is out of range [-180, 180]",
    ),
    (
        "latitude out of range",
        set_in(G, {"type": "Point", "coordinates": [40, -90.5]}),
        f"{STRIKE}geometry.coordinates[1]: latitude -90.5 is out of range [-90, 90]",
    ),
    (
        "LineString of one position",
        set_in(G, {"type": "LineString", "coordinates": [[40, 35]]}),
        f"{STRIKE}geometry.coordinates: a LineString needs at least 2 positions, got 1",
    ),
    (
        "Polygon given as a list of positions",
        set_in(C, [[40, 35], [41, 35], [41, 36], [40, 35]]),
        f"{STRIKE}geometry.coordinates: must be a Polygon (a list of rings), "
        "got a list of positions (a ring is one more level of [ ])",
    ),
    (
        "ring not closed",
        set_in(C, polygon((40, 35), (41, 35), (41, 36), (40, 36))),
        f"{STRIKE}geometry.coordinates[0]: ring is not closed: "
        "the first position [40, 35] is not the last [40, 36]",
    ),
    (
        "ring of three positions",
        set_in(C, polygon((40, 35), (41, 35), (40, 35))),
        f"{STRIKE}geometry.coordinates[0]: ring has 3 positions; "
        "a ring needs at least 4 (the first is repeated at the end)",
    ),
    (
        "self-intersecting polygon",
        set_in(C, polygon((40, 35), (41, 36), (41, 35), (40, 36), (40, 35))),
        f"{STRIKE}geometry: polygon is not valid: self-intersection at [40.5, 35.5]",
    ),
    (
        "hole outside its shell",
        set_in(C, square(40, 35) + square(45, 35)),
        f"{STRIKE}geometry: polygon is not valid: hole lies outside shell at [45, 35]",
    ),
    (
        "invalid part of a MultiPolygon",
        set_in(
            G,
            {
                "type": "MultiPolygon",
                "coordinates": [
                    square(38, 33),
                    polygon((40, 35), (41, 36), (41, 35), (40, 36), (40, 35)),
                ],
            },
        ),
        f"{STRIKE}geometry.coordinates[1]: polygon is not valid: self-intersection at [40.5, 35.5]",
    ),
    (
        "MultiPolygon parts that overlap",
        set_in(G, {"type": "MultiPolygon", "coordinates": [square(40, 35), square(40.5, 35)]}),
        f"{STRIKE}geometry: MultiPolygon is not valid: its polygons overlap or share an edge "
        "(self-intersection at [40.5, 36])",
    ),
    (
        "polygon spanning more than 180 degrees",
        set_in(C, polygon((-100, 0), (100, 0), (100, 1), (-100, 1), (-100, 0))),
        f"{STRIKE}geometry: spans 200 degrees of longitude; the limit is 180 "
        "(split it, at the antimeridian if it crosses it, as RFC 7946 says)",
    ),
    (
        "polygon jumping across the antimeridian unsplit",
        set_in(C, polygon((179, 0), (-179, 0), (-179, 1), (179, 1), (179, 0))),
        f"{STRIKE}geometry: spans 358 degrees of longitude; the limit is 180 "
        "(split it, at the antimeridian if it crosses it, as RFC 7946 says)",
    ),
    (
        "MultiPolygon whose parts span more than 180 degrees together",
        set_in(
            G,
            {
                "type": "MultiPolygon",
                "coordinates": [square(0, 0), square(120, 0), square(-120, 0)],
            },
        ),
        f"{STRIKE}geometry: its polygons span 241 degrees of longitude; the limit is 180 "
        "(split it, at the antimeridian if it crosses it, as RFC 7946 says)",
    ),
    (
        "geometry over 2,000 km across",
        set_in(C, polygon((0, 0), (25, 0), (25, 1), (0, 1), (0, 0))),
        f"{STRIKE}geometry is 2,785 km across; the limit is 2,000 km (split it)",
    ),
    (
        "line over 2,000 km across",
        set_in(G, {"type": "LineString", "coordinates": [[0, 0], [18.5, 0]]}),
        f"{STRIKE}geometry is 2,059 km across; the limit is 2,000 km (split it)",
    ),
    (
        "negative radius",
        set_in((*P, "radius_m"), -500),
        f"{STRIKE}properties.radius_m: must be >= 0, got -500",
    ),
    (
        "negative width",
        set_in((*P, "width_m"), -1.5),
        f"{STRIKE}properties.width_m: must be >= 0, got -1.5",
    ),
    (
        "string radius",
        set_in((*P, "radius_m"), "500"),
        f"{STRIKE}properties.radius_m: must be a number, got string '500'",
    ),
    (
        "altitude not a list",
        set_in((*P, "altitude_m"), 9000),
        f"{STRIKE}properties.altitude_m: must be [lower, upper], a list of exactly 2 numbers, "
        "got number 9000",
    ),
    (
        "altitude of three numbers",
        set_in((*P, "altitude_m"), [0, 1, 2]),
        f"{STRIKE}properties.altitude_m: must be [lower, upper], a list of exactly 2 numbers, "
        "got list of 3",
    ),
    (
        "string in an altitude",
        set_in((*P, "altitude_m"), ["0", 9000]),
        f"{STRIKE}properties.altitude_m[0]: must be a number, got string '0'",
    ),
    (
        "null in an altitude",
        set_in((*P, "altitude_m"), [0, None]),
        f"{STRIKE}properties.altitude_m[1]: must be a number, got null",
    ),
    (
        "altitude lower above upper",
        set_in((*P, "altitude_m"), [9000, 100]),
        f"{STRIKE}properties.altitude_m: lower 9000 is above upper 100",
    ),
    (
        "timestamp not RFC 3339",
        set_in((*P, "start"), "16/09/2017 04:00"),
        f"{STRIKE}properties.start: '16/09/2017 04:00' is not an RFC 3339 date-time "
        "(e.g. 2017-09-16T04:00:00Z)",
    ),
    (
        "timestamp without offset",
        set_in((*P, "start"), "2017-09-16T04:00:00"),
        f"{STRIKE}properties.start: '2017-09-16T04:00:00' has no UTC offset "
        "(RFC 3339 needs Z or ±HH:MM at the end)",
    ),
    (
        "date without a time",
        set_in((*P, "end"), "2017-09-16"),
        f"{STRIKE}properties.end: '2017-09-16' is a date without a time "
        "(needs a date-time, e.g. 2017-09-16T04:00:00Z)",
    ),
    (
        "timestamp that is a number",
        set_in((*P, "start"), 1505534400),
        f"{STRIKE}properties.start: must be an RFC 3339 date-time string with an offset "
        "(e.g. 2017-09-16T04:00:00Z), got number 1505534400",
    ),
    (
        "day out of range",
        set_in((*P, "start"), "2017-02-29T04:00:00Z"),
        f"{STRIKE}properties.start: '2017-02-29T04:00:00Z' has day 29; 2017-02 has days 01 to 28",
    ),
    (
        "end before start",
        set_in((*P, "end"), "2017-09-16T03:00:00Z"),
        f"{STRIKE}properties.end: end '2017-09-16T03:00:00Z' is before "
        "start '2017-09-16T04:00:00Z'",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [case[1:] for case in FEATURE_REFUSALS],
    ids=[case[0] for case in FEATURE_REFUSALS],
)
def test_a_feature_that_breaks_a_rule_is_refused_naming_it_and_the_rule(
    change: Change, expected: str
) -> None:
    doc = valid()
    change(doc)
    assert problems_of(doc) == [expected]


TANSIQ_REFUSALS: list[tuple[str, Change, str]] = [
    (
        "missing tansiq",
        drop(("tansiq",)),
        "tansiq: missing (the member that holds version, parties and separation)",
    ),
    ("tansiq not an object", set_in(("tansiq",), []), "tansiq: must be an object, got list of 0"),
    ("missing version", drop(("tansiq", "version")), "tansiq.version: missing (must be 1)"),
    (
        "version 2",
        set_in(("tansiq", "version"), 2),
        "tansiq.version: unsupported version 2; this reader knows version 1",
    ),
    (
        "version true",
        set_in(("tansiq", "version"), True),
        "tansiq.version: must be the integer 1, got boolean true",
    ),
    (
        "version as a string",
        set_in(("tansiq", "version"), "1"),
        "tansiq.version: must be the integer 1, got string '1'",
    ),
    (
        "name not a string",
        set_in(("tansiq", "name"), 5),
        "tansiq.name: must be a string, got number 5",
    ),
    (
        "missing parties",
        drop(("tansiq", "parties")),
        "tansiq.parties: missing (a list of parties: {id, name, lang})",
    ),
    (
        "party not an object",
        set_in(("tansiq", "parties", 0), "coalition"),
        "tansiq.parties[0]: must be an object {id, name, lang}, got string 'coalition'",
    ),
    ("party without id", drop(("tansiq", "parties", 1, "id")), "tansiq.parties[1].id: missing"),
    (
        "party with an empty id",
        set_in(("tansiq", "parties", 0, "id"), " "),
        "tansiq.parties[0].id: must be a non-empty string",
    ),
    (
        "duplicate party",
        set_in(("tansiq", "parties", 0, "id"), "ru"),
        "tansiq.parties[1].id: duplicate party id 'ru' (tansiq.parties[0] has it too)",
    ),
    (
        "party without name",
        drop(("tansiq", "parties", 1, "name")),
        "tansiq.parties[1].name: missing",
    ),
    (
        "lang not BCP 47",
        set_in(("tansiq", "parties", 1, "lang"), "Russian"),
        "tansiq.parties[1].lang: 'Russian' is not a BCP 47 language tag (en, ar, ru, zh-Hant...)",
    ),
    (
        "separation not a list",
        set_in(("tansiq", "separation"), {}),
        "tansiq.separation: must be a list of rules, got object",
    ),
    (
        "between of one kind",
        set_in(("tansiq", "separation", 1, "between"), ["air_strike"]),
        "tansiq.separation[1].between: must be a list of exactly 2 kinds "
        '(non-empty strings, "*" for any), got list of 1',
    ),
    (
        "between missing",
        drop(("tansiq", "separation", 0, "between")),
        "tansiq.separation[0].between: missing",
    ),
    (
        "negative minimum",
        set_in(("tansiq", "separation", 1, "horizontal_m"), -3000),
        "tansiq.separation[1].horizontal_m: must be >= 0, got -3000",
    ),
    (
        "string minimum",
        set_in(("tansiq", "separation", 1, "time_s"), "60"),
        "tansiq.separation[1].time_s: must be a number, got string '60'",
    ),
    (
        "misspelt minimum",
        set_in(("tansiq", "separation", 1, "horizontal"), 3000),
        "tansiq.separation[1]: unknown member 'horizontal' "
        "(a rule has between, horizontal_m, vertical_m, time_s)",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [case[1:] for case in TANSIQ_REFUSALS],
    ids=[case[0] for case in TANSIQ_REFUSALS],
)
def test_a_tansiq_member_that_breaks_a_rule_is_refused_naming_it(
    change: Change, expected: str
) -> None:
    doc = valid()
    change(doc)
    problems = problems_of(doc)
    assert [p for p in problems if p.startswith("tansiq")] == [expected]
    # A party that is not usably listed makes its features' party unknown, and says so.
    others = [p for p in problems if not p.startswith("tansiq")]
    assert all("properties.party: unknown party" in p for p in others)


def test_a_feature_whose_party_entry_is_broken_has_an_unknown_party() -> None:
    doc = valid()
    del doc["tansiq"]["parties"][1]["id"]
    assert problems_of(doc) == [
        "tansiq.parties[1].id: missing",
        f"{STRIKE}properties.party: unknown party 'ru' (not in tansiq.parties)",
    ]


def test_an_empty_party_list_is_refused_once_not_once_per_feature() -> None:
    doc = valid()
    doc["tansiq"]["parties"] = []
    assert problems_of(doc) == [
        "tansiq.parties: must be a non-empty list of parties ({id, name, lang}), got list of 0"
    ]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            [1, 2, 3],
            "the file is not a GeoJSON FeatureCollection: its top level is list of 3, "
            "not an object",
        ),
        (
            {**VALID, "type": "Feature"},
            'type: must be "FeatureCollection" (a scenario is a GeoJSON FeatureCollection), '
            "got string 'Feature'",
        ),
        (
            {"tansiq": VALID["tansiq"], "features": []},
            'type: missing; must be "FeatureCollection" '
            "(a scenario is a GeoJSON FeatureCollection)",
        ),
        (
            {"type": "FeatureCollection", "tansiq": VALID["tansiq"]},
            "features: missing (a FeatureCollection has a list of features)",
        ),
        (
            {**VALID, "features": {}},
            "features: must be a list of features, got object",
        ),
    ],
    ids=["a list", "a Feature", "no type", "no features", "features not a list"],
)
def test_a_file_that_is_not_a_feature_collection_is_refused(doc: object, expected: str) -> None:
    assert problems_of(doc) == [expected]


def test_a_feature_that_is_not_an_object_is_refused_by_its_index() -> None:
    doc = valid()
    doc["features"].append("sdf-hq")
    assert problems_of(doc) == ["feature #3: must be a GeoJSON Feature object, got string 'sdf-hq'"]


def test_a_duplicate_id_is_refused_on_the_second_feature() -> None:
    doc = valid()
    feature(doc, 2)["id"] = "ru-strike-7"
    assert problems_of(doc) == [
        f"{STRIKE}id: duplicate id 'ru-strike-7': features #0 and #2 both have it "
        "(ids must be unique)"
    ]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinite_numbers_are_refused_where_they_are(token: str) -> None:
    text = json.dumps(VALID).replace('"radius_m": 500', f'"radius_m": {token}')
    assert token in text
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(text)
    assert refused.value.problems == (
        f"{HQ}properties.radius_m: NaN or infinite numbers are not allowed (got {token})",
    )


def test_nan_anywhere_is_refused_even_in_free_properties_and_tansiq() -> None:
    text = json.dumps(VALID)
    text = text.replace('"callsign": "Lion 2"', '"callsign": NaN')
    text = text.replace('"horizontal_m": 3000', '"horizontal_m": Infinity')
    text = text.replace("[40.21, 35.36]", "[40.21, NaN]")
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(text)
    assert set(refused.value.problems) == {
        "tansiq.separation[1].horizontal_m: NaN or infinite numbers are not allowed (got Infinity)",
        f"{HQ}geometry.coordinates[1]: NaN or infinite numbers are not allowed (got NaN)",
        f"{ROUTE}properties.callsign: NaN or infinite numbers are not allowed (got NaN)",
    }


def test_a_member_given_twice_is_refused() -> None:
    text = json.dumps(VALID).replace('"kind": "air_strike"', '"kind": "air_strike", "kind": "x"')
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(text)
    assert refused.value.problems == (
        f"{STRIKE}properties: member 'kind' is given twice; members must be unique",
    )


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    doc = valid()
    props(doc)["altitude_m"] = [9000, 100]
    props(doc, 1)["party"] = "nobody"
    doc["tansiq"]["parties"][0]["lang"] = "english"
    assert problems_of(doc) == [
        "tansiq.parties[0].lang: 'english' is not a BCP 47 language tag (en, ar, ru, zh-Hant...)",
        f"{STRIKE}properties.altitude_m: lower 9000 is above upper 100",
        f"{HQ}properties.party: unknown party 'nobody' (not in tansiq.parties)",
    ]


def test_every_problem_of_one_feature_is_reported() -> None:
    doc = valid()
    props(doc)["kind"] = ""
    props(doc)["start"] = "yesterday"
    geometry(doc)["coordinates"] = polygon((40, 35), (41, 35), (40, 35))
    problems = problems_of(doc)
    assert len(problems) == 3
    assert all(problem.startswith(STRIKE) for problem in problems)


def test_bad_positions_are_listed_up_to_ten_then_counted() -> None:
    doc = valid()
    feature(doc, 2)["geometry"]["coordinates"] = [[35.0, 200.0 + i] for i in range(25)]
    problems = problems_of(doc)
    assert len(problems) == 11
    assert (
        problems[0] == f"{ROUTE}geometry.coordinates[0][1]: latitude 200 is out of range [-90, 90]"
    )
    assert problems[-1] == f"{ROUTE}geometry.coordinates: 15 more bad positions not listed"


def test_an_id_with_a_control_character_is_refused_and_shown_on_one_line() -> None:
    doc = valid()
    feature(doc)["id"] = "strike\n7"
    props(doc)["kind"] = ""
    assert problems_of(doc) == [
        "feature 'strike\\u000a7': id: holds the control character U+000A",
        "feature 'strike\\u000a7': properties.kind: must be a non-empty string",
    ]


@pytest.mark.parametrize(
    ("where", "value", "why"),
    [
        ("id", "x" * 257, "id: is 257 characters long; at most 256 are allowed"),
        ("id", "a\x00", "id: holds the control character U+0000"),
        ("kind", "air\x1b[2Jstrike", "properties.kind: holds the control character U+001B"),
        ("kind", "k" * 300, "properties.kind: is 300 characters long; at most 256 are allowed"),
    ],
)
def test_ids_and_kinds_are_short_printable_names(where: str, value: str, why: str) -> None:
    """A decision where the spec is silent (docs/scenario-format.md): ids and kinds are
    shown on operators' screens and copied into every conflict that names them."""
    doc = valid()
    if where == "id":
        feature(doc)["id"] = value
    else:
        props(doc)["kind"] = value
    assert any(p.endswith(why) for p in problems_of(doc)), problems_of(doc)
    feature(doc)["id"], props(doc)["kind"] = "x" * 256, "é" * 256  # the longest allowed
    read = parse_scenario(json.dumps(doc))
    assert read.volumes[0].id == "x" * 256 and read.volumes[0].kind == "é" * 256


# --- unreadable files ------------------------------------------------------------------------


def test_invalid_json_is_unreadable_and_says_where() -> None:
    with pytest.raises(ScenarioUnreadable) as refused:
        parse_scenario('{"type": "FeatureCollection",\n "features": [}')
    assert str(refused.value) == "not valid JSON: Expecting value at line 2, column 15"


def test_an_empty_file_is_unreadable() -> None:
    with pytest.raises(ScenarioUnreadable, match="empty"):
        parse_scenario(b"  \n")


def test_load_scenario_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "deir-ez-zor.geojson"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert [v.id for v in scenario.volumes] == ["ru-strike-7", "sdf-hq", "convoy-2"]
    assert load_scenario(str(path)).name == scenario.name


def test_a_missing_file_is_unreadable_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.geojson"
    with pytest.raises(ScenarioUnreadable, match=r"nowhere\.geojson"):
        load_scenario(path)


def test_a_directory_is_unreadable_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ScenarioUnreadable, match=str(tmp_path)):
        load_scenario(tmp_path)


def test_a_file_that_is_not_utf8_is_unreadable_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.geojson"
    path.write_bytes(json.dumps(VALID).replace("Coalition", "Coalitión").encode("latin-1"))
    with pytest.raises(ScenarioUnreadable) as refused:
        load_scenario(path)
    assert str(refused.value).startswith(f"{path}: not UTF-8 text: byte 0xf3 at offset ")


def test_invalid_json_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ScenarioUnreadable, match=r"broken\.geojson: not valid JSON: .* line 1"):
        load_scenario(path)


def test_json_nested_too_deeply_is_unreadable() -> None:
    with pytest.raises(ScenarioUnreadable, match="nested too deeply"):
        parse_scenario("[" * 100_000 + "]" * 100_000)


# --- RFC 3339 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2017-09-16T04:00:00Z", T0),
        ("2017-09-16t04:00:00z", T0),
        ("2017-09-16 04:00:00Z", T0),
        ("2017-09-16T07:00:00+03:00", T0),
        ("2017-09-15T23:30:00-04:30", T0),
        ("2017-09-16T04:00:00-00:00", T0),
        ("2017-09-16T04:00:00.25Z", T0 + 0.25),
        ("2017-09-16T04:00:00.000000001Z", T0),
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),  # a leap second: the next second
        ("2016-02-29T00:00:00Z", 1_456_704_000.0),
        ("2000-02-29T00:00:00Z", 951_782_400.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("0000-01-01T00:00:00Z", -62_167_219_200.0),
        ("9999-12-31T23:59:59Z", 253_402_300_799.0),
    ],
)
def test_rfc3339_instants_become_seconds_since_the_epoch(text: str, seconds: float) -> None:
    assert parse_rfc3339(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2017-09-16T04:00:00", "has no UTC offset"),
        ("2017-09-16", "is a date without a time"),
        ("2017-09-16T04:00Z", "is not an RFC 3339 date-time"),
        ("2017-09-16T04:00:00+0300", "is not an RFC 3339 date-time"),
        ("2017-09-16T04:00:00+03", "is not an RFC 3339 date-time"),
        ("2017-W37-6T04:00:00Z", "is not an RFC 3339 date-time"),
        ("2017-09-16T04:00:00Z ", "is not an RFC 3339 date-time"),
        ("2017-09-16T04:00:00.Z", "is not an RFC 3339 date-time"),
        ("٢٠١٧-09-16T04:00:00Z", "is not an RFC 3339 date-time"),
        ("2017-13-01T00:00:00Z", "has month 13"),
        ("2017-00-01T00:00:00Z", "has month 00"),
        ("1900-02-29T00:00:00Z", "has day 29"),
        ("2017-04-31T00:00:00Z", "has day 31"),
        ("2017-09-16T24:00:00Z", "has hour 24"),
        ("2017-09-16T04:60:00Z", "has minute 60"),
        ("2017-09-16T04:00:61Z", "has second 61"),
        ("2017-09-16T04:00:00+24:00", "has offset +24:00"),
    ],
)
def test_strings_that_are_not_rfc3339_instants_are_refused(text: str, why: str) -> None:
    with pytest.raises(TimestampError, match=re.escape(why)):
        parse_rfc3339(text)
