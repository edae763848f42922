"""Rendering views: stored JSON is written into answers as it is, and only that."""

from __future__ import annotations

import json

import pytest

from tansiq.service.views import RawJSON, dumps


def test_raw_json_is_embedded_unchanged_and_filed_text_stays_text() -> None:
    region = '{"type":"Point","coordinates":[40.000000000000014,35.0]}'
    forged = "\x00" + "0" * 16 + ":0\x00" + region  # filed text posing as something else
    value = {"name": forged, "regions": [RawJSON(region), None, RawJSON(region)], "n": 1.5}
    text = dumps(value)
    assert text.count(region) == 2  # written as it is, digits and all
    assert json.loads(text) == {
        "name": forged,
        "regions": [json.loads(region), None, json.loads(region)],
        "n": 1.5,
    }


def test_anything_else_that_is_not_json_is_refused() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": object()})


def test_a_float_that_is_not_finite_is_written_null_so_the_answer_stays_json() -> None:
    assert json.loads(dumps({"a": float("inf"), "b": float("nan")})) == {"a": None, "b": None}


def test_each_raw_text_lands_in_its_own_place_in_a_long_page() -> None:
    regions = [f'{{"type":"Point","coordinates":[{k},{k}]}}' for k in range(1200)]
    page = {"conflicts": [{"id": k, "region": RawJSON(r)} for k, r in enumerate(regions)]}
    parsed = json.loads(dumps(page))["conflicts"]
    assert [c["region"]["coordinates"] for c in parsed] == [[k, k] for k in range(1200)]
