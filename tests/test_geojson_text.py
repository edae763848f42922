"""Regions written by orjson: shapely's GeoJSON, to a ten-millionth of a degree."""

from __future__ import annotations

import json
from typing import Any

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.engine.region import RegionDrawer, overlap_regions
from tansiq.scenario.model import Volume
from tansiq.service.geojson_text import DECIMALS, region_geojson

coordinate = st.floats(-179.0, 179.0, allow_nan=False)


def assert_rounded(written: Any, full: Any) -> None:
    """``written`` is ``full`` (the same members) with each number within half a
    ten-millionth of a degree (either way at an exact half) and no more decimals."""
    if isinstance(full, float | int) and not isinstance(full, bool):
        assert abs(written - full) <= 0.5 * 10.0**-DECIMALS * (1 + 1e-9) + 1e-12
        assert written == round(written, DECIMALS)
    elif isinstance(full, list):
        assert isinstance(written, list) and len(written) == len(full)
        for w, f in zip(written, full, strict=True):
            assert_rounded(w, f)
    elif isinstance(full, dict):
        assert isinstance(written, dict) and written.keys() == full.keys()
        for key in full:
            assert_rounded(written[key], full[key])
    else:
        assert written == full


def disc(name: str, lon: float, lat: float, radius: float) -> Volume:
    return Volume(name, name, "k", shapely.Point(lon, lat), radius, 0, 100, 0, 10, {})


@settings(max_examples=60, deadline=None)
@given(lon=coordinate, lat=st.floats(-80.0, 80.0), radius=st.floats(10.0, 20_000.0),
       offset=st.floats(0.0, 0.2))  # fmt: skip
def test_drawn_regions_read_back_as_shapely_writes_them_rounded(
    lon: float, lat: float, radius: float, offset: float
) -> None:
    a, b = disc("a", lon, lat, radius), disc("b", lon + offset, lat, radius)
    for region in overlap_regions(a, b, 50.0):
        written = json.loads(region_geojson(region))
        assert_rounded(written, json.loads(shapely.to_geojson(shapely.orient_polygons(region))))
        assert shapely.from_geojson(json.dumps(written)).is_valid


def test_every_kind_of_region_and_the_odd_ones_left_to_shapely() -> None:
    with_hole = shapely.Polygon(
        [(0, 0), (1, 0), (1, 1), (0, 0)], holes=[[(0.5, 0.1), (0.9, 0.1), (0.9, 0.5)]]
    )
    split = shapely.MultiPolygon([shapely.box(179, 0, 180, 1), shapely.box(-180, 0, -179, 1)])
    others = [shapely.LineString([(0, 0), (1, 1)]), shapely.Point(), shapely.Polygon()]
    for geometry in [shapely.Point(40.123456789, 35.3), with_hole, split, *others]:
        full = json.loads(shapely.to_geojson(shapely.orient_polygons(geometry)))
        assert_rounded(json.loads(region_geojson(geometry)), full)
    assert json.loads(region_geojson(split))["type"] == "MultiPolygon"
    assert region_geojson(shapely.Point(40.123456789, 35.3)) == (
        '{"type":"Point","coordinates":[40.1234568,35.3]}'
    )


def test_an_overlap_narrower_than_the_rounding_is_written_in_full() -> None:
    sliver = shapely.box(40.0, 35.0, 40.00000002, 35.001)  # 2e-8 degrees wide: ~2 mm
    written = shapely.from_geojson(region_geojson(sliver))
    assert written.equals_exact(sliver, tolerance=0) and written.area > 0


def test_rings_follow_the_right_hand_rule() -> None:
    """RFC 7946 §3.1.6: an exterior ring counterclockwise, a hole clockwise, whatever
    way the geometry came (GEOS's intersections come clockwise)."""
    clockwise = shapely.Polygon(
        [(0, 0), (0, 1), (1, 1), (1, 0)], holes=[[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4)]]
    )
    a = Volume("a", "a", "k", shapely.Point(40.0, 35.0), 1000.0, 0, 100, 0, 10, {})
    b = Volume("b", "b", "k", shapely.Point(40.01, 35.0), 1000.0, 0, 100, 0, 10, {})
    # drawn as lenses (counterclockwise already) and by GEOS's overlay (clockwise)
    regions = [*overlap_regions(a, b, 500.0), *RegionDrawer(lenses=False).regions(a, b, 500.0)]
    assert not all(shapely.is_ccw(r.exterior) for r in regions)
    split = shapely.MultiPolygon(
        [shapely.box(179, 0, 180, 1, ccw=False), shapely.box(-180, 0, -179, 1, ccw=False)]
    )
    for geometry in [clockwise, *regions, split]:
        written = shapely.from_geojson(region_geojson(geometry))
        for polygon in shapely.get_parts(written):
            assert shapely.is_ccw(polygon.exterior)
            assert not any(shapely.is_ccw(hole) for hole in polygon.interiors)
        assert shapely.hausdorff_distance(written, geometry) < 1e-7  # the same place
