"""Every refusal that ``scenario-v1`` lists under "Bad input", one case each.

Each case breaks one rule of a valid file; the whole file must be refused with
a message naming the feature (or the member) and the rule, and nothing returned.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tansiq import ScenarioInvalid, ScenarioUnreadable, parse_scenario

Doc = dict[str, Any]

VALID: Doc = {
    "type": "FeatureCollection",
    "tansiq": {
        "version": 1,
        "name": "t",
        "parties": [
            {"id": "ru", "name": "Russian forces", "lang": "ru"},
            {"id": "coalition", "name": "Coalition", "lang": "en"},
        ],
        "separation": [{"between": ["*", "*"], "horizontal_m": 0}],
    },
    "features": [
        {
            "type": "Feature",
            "id": "ru-strike-7",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[40.1, 35.3], [40.2, 35.3], [40.2, 35.38], [40.1, 35.38], [40.1, 35.3]]
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
    ],
}


def strike(doc: Doc) -> Doc:
    feature: Doc = doc["features"][0]
    return feature


def props(doc: Doc) -> Doc:
    properties: Doc = strike(doc)["properties"]
    return properties


def geometry(doc: Doc) -> Doc:
    geom: Doc = strike(doc)["geometry"]
    return geom


def set_in(getter: Callable[[Doc], Doc], key: str, value: object) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        getter(doc)[key] = value

    return change


def drop(getter: Callable[[Doc], Doc], key: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        del getter(doc)[key]

    return change


def ring(*points: tuple[float, float]) -> list[list[list[float]]]:
    return [[list(p) for p in points]]


# (name, change, words the message must contain); every message must also name the feature
FEATURE_CASES: list[tuple[str, Callable[[Doc], None], tuple[str, ...]]] = [
    ("missing id", drop(strike, "id"), ("id",)),
    ("missing party", drop(props, "party"), ("party", "missing")),
    ("unknown party", set_in(props, "party", "nobody"), ("party", "nobody")),
    ("missing kind", drop(props, "kind"), ("kind", "missing")),
    ("no geometry", set_in(strike, "geometry", None), ("geometry",)),
    ("empty geometry", set_in(geometry, "coordinates", []), ("empty",)),
    ("unknown geometry type", set_in(geometry, "type", "Circle"), ("Circle",)),
    ("string for a number", set_in(props, "altitude_m", ["0", 9000]), ("altitude_m",)),
    (
        "longitude out of range",
        set_in(geometry, "coordinates", ring((190, 35), (191, 35), (191, 36), (190, 35))),
        ("longitude",),
    ),
    (
        "latitude out of range",
        set_in(geometry, "coordinates", ring((40, 95), (41, 95), (41, 96), (40, 95))),
        ("latitude",),
    ),
    (
        "ring not closed",
        set_in(geometry, "coordinates", ring((40, 35), (41, 35), (41, 36), (40, 36))),
        ("closed",),
    ),
    ("ring too short", set_in(geometry, "coordinates", ring((40, 35), (41, 35), (40, 35))), ("4",)),
    (
        "self-intersecting polygon",
        set_in(geometry, "coordinates", ring((40, 35), (41, 36), (41, 35), (40, 36), (40, 35))),
        ("intersect",),
    ),
    (
        "negative radius",
        lambda d: d["features"][1]["properties"].update(radius_m=-1),
        ("radius_m",),
    ),
    (
        "disc over 2,000 km across",  # a decision: the spec caps the geometry only
        lambda d: d["features"][1]["properties"].update(radius_m=21_000_000),
        ("radius_m", "42,000 km", "2,000 km"),
    ),
    (
        "corridor over 2,000 km across",
        lambda d: d["features"][0].update(
            geometry={"type": "LineString", "coordinates": [[0, 0], [15, 0]]},
            properties={**d["features"][0]["properties"], "width_m": 400_000},
        ),
        ("width_m", "2,070 km"),
    ),
    ("altitude not a pair", set_in(props, "altitude_m", [0, 1, 2]), ("altitude_m",)),
    (
        "altitude lower above upper",
        set_in(props, "altitude_m", [9000, 100]),
        ("altitude_m", "9000"),
    ),
    ("timestamp not RFC 3339", set_in(props, "start", "16/09/2017 04:00"), ("start",)),
    ("timestamp without offset", set_in(props, "start", "2017-09-16T04:00:00"), ("start",)),
    ("end before start", set_in(props, "end", "2017-09-16T03:00:00Z"), ("end", "before")),
    (
        "geometry spans over 180 degrees",
        set_in(geometry, "coordinates", ring((-100, 0), (100, 0), (100, 1), (-100, 1), (-100, 0))),
        ("180",),
    ),
    (
        "geometry over 2,000 km across",
        set_in(geometry, "coordinates", ring((0, 0), (25, 0), (25, 1), (0, 1), (0, 0))),
        ("2,000 km",),
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "words"), FEATURE_CASES, ids=[c[0] for c in FEATURE_CASES]
)
def test_feature_refusals_name_the_feature_and_the_rule(
    name: str, change: Callable[[Doc], None], words: tuple[str, ...]
) -> None:
    doc = copy.deepcopy(VALID)
    change(doc)
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(json.dumps(doc))
    problems = refused.value.problems
    assert problems, name
    feature = "feature #0" if name == "missing id" else "feature 'ru-strike-7'"
    if name in {"negative radius", "disc over 2,000 km across"}:
        feature = "feature 'sdf-hq'"
    matching = [p for p in problems if p.startswith(feature)]
    assert matching, f"{name}: no problem names {feature}: {problems}"
    text = " ".join(matching)
    for word in words:
        assert word in text, f"{name}: {word!r} not in {matching}"


def test_duplicate_id_is_refused_naming_it() -> None:
    doc = copy.deepcopy(VALID)
    doc["features"][1]["id"] = "ru-strike-7"
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(json.dumps(doc))
    assert any("ru-strike-7" in p and "duplicate" in p.lower() for p in refused.value.problems)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinite_numbers_are_refused(token: str) -> None:
    text = json.dumps(VALID).replace('"radius_m": 500', f'"radius_m": {token}')
    assert token in text
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(text)
    assert any("sdf-hq" in p for p in refused.value.problems)


def test_invalid_json_is_unreadable_with_its_position() -> None:
    with pytest.raises(ScenarioUnreadable) as refused:
        parse_scenario('{"type": "FeatureCollection", "features": [}')
    assert "line 1" in str(refused.value)


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "Feature", "geometry": None, "properties": {}},
        [1, 2, 3],
        {"type": "FeatureCollection", "tansiq": VALID["tansiq"]},
    ],
    ids=["a Feature", "a list", "no features"],
)
def test_not_a_feature_collection_is_refused(doc: object) -> None:
    with pytest.raises(ScenarioInvalid):
        parse_scenario(json.dumps(doc))


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    doc = copy.deepcopy(VALID)
    props(doc)["altitude_m"] = [9000, 100]
    props(doc)["start"] = "yesterday"
    doc["features"][1]["properties"]["party"] = "nobody"
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(json.dumps(doc))
    problems = refused.value.problems
    assert len(problems) == 3
    assert sum("ru-strike-7" in p for p in problems) == 2
    assert sum("sdf-hq" in p for p in problems) == 1


def test_the_valid_file_is_read_whole() -> None:
    scenario = parse_scenario(json.dumps(VALID))
    first, second = scenario.volumes
    assert (first.id, first.party, first.kind) == ("ru-strike-7", "ru", "air_strike")
    assert (first.altitude_low, first.altitude_high) == (0.0, 9000.0)
    assert first.end - first.start == 7200.0
    assert second.buffer_m == 500.0
    assert second.start == float("-inf") and second.end == float("inf")
    assert dict(second.properties) == {
        "party": "coalition",
        "kind": "protected_site",
        "radius_m": 500,
    }
