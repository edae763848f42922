"""Regions written by orjson are the GeoJSON shapely writes, value for value."""

from __future__ import annotations

import json

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.engine.region import overlap_regions
from tansiq.scenario.model import Volume
from tansiq.service.geojson_text import region_geojson

coordinate = st.floats(-179.0, 179.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(lon=coordinate, lat=st.floats(-80.0, 80.0), radius=st.floats(10.0, 20_000.0),
       offset=st.floats(0.0, 0.2))  # fmt: skip
def test_drawn_regions_read_back_as_shapely_writes_them(
    lon: float, lat: float, radius: float, offset: float
) -> None:
    def disc(name: str, at: float) -> Volume:
        return Volume(name, name, "k", shapely.Point(at, lat), radius, 0, 100, 0, 10, {})

    for region in overlap_regions(disc("a", lon), disc("b", lon + offset), 50.0):
        assert json.loads(region_geojson(region)) == json.loads(shapely.to_geojson(region))


def test_every_kind_of_region_and_the_odd_ones_left_to_shapely() -> None:
    with_hole = shapely.Polygon(
        [(0, 0), (1, 0), (1, 1), (0, 0)], holes=[[(0.5, 0.1), (0.9, 0.1), (0.9, 0.5)]]
    )
    split = shapely.MultiPolygon([shapely.box(179, 0, 180, 1), shapely.box(-180, 0, -179, 1)])
    others = [shapely.LineString([(0, 0), (1, 1)]), shapely.Point(), shapely.Polygon()]
    for geometry in [shapely.Point(40.1, 35.3), with_hole, split, *others]:
        written = json.loads(region_geojson(geometry))
        assert written == json.loads(shapely.to_geojson(geometry))
    assert json.loads(region_geojson(split))["type"] == "MultiPolygon"
