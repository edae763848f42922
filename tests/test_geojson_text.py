"""Regions written by orjson: shapely's GeoJSON, to a ten-millionth of a degree."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.engine.lens import turns_left_once
from tansiq.engine.region import RegionDrawer, overlap_regions
from tansiq.scenario.model import Volume
from tansiq.service.geojson_text import DECIMALS, region_geojson, ring_geojson

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


def written_by_polygons(drawer: RegionDrawer, a: Volume, b: Volume, separation: float) -> list[str]:
    return [region_geojson(region) for region in drawer.regions(a, b, separation)]


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(-180.0, 180.0), lat=st.floats(-90.0, 90.0),
       ra=st.floats(0.5, 50_000.0), rb=st.floats(0.5, 50_000.0),
       apart=st.floats(0.0, 1.2), bearing=st.floats(0.0, 360.0),
       separation=st.sampled_from([0.0, 0.3, 50.0, 2_000.0]))  # fmt: skip
def test_a_lens_written_from_its_ring_is_the_text_its_polygon_gives(
    lon: float, lat: float, ra: float, rb: float, apart: float, bearing: float, separation: float
) -> None:
    """Anywhere (by 180° and the poles too), any sizes (one inside the other, slivers):
    the rings `lens_rings` gives, written by `ring_geojson`, are the very text the
    regions' polygons give, and where it gives none the service writes the polygons."""
    from pyproj import Geod

    reach = (ra + rb + separation) * apart
    lon_b, lat_b, _ = Geod(ellps="WGS84").fwd(lon, lat, bearing, reach)
    a, b = disc("a", lon, lat, ra), disc("b", float(lon_b), float(lat_b), rb)
    drawer = RegionDrawer()
    rings = drawer.lens_rings(a, b, separation)
    if rings is None:
        return
    assert [ring_geojson(ring) for ring in rings] == written_by_polygons(
        drawer, a, b, separation
    )


def test_lenses_near_the_antimeridian_a_pole_or_a_float_from_touching_are_left_to_polygons() -> (
    None
):
    drawer = RegionDrawer()
    near_180 = disc("a", 179.9999, 10.0, 100.0), disc("b", -179.9999, 10.0, 100.0)
    round_the_pole = disc("a", 0.0, 89.99, 2_000.0), disc("b", 0.0, 89.995, 2_000.0)
    touching = disc("a", 40.0, 35.0, 100.0), disc("b", 40.0 + 199.5 / 91_290, 35.0, 100.0)
    for a, b in (near_180, round_the_pole, touching):
        assert drawer.lens_rings(a, b, 0.0) is None
    usual = disc("a", 40.0, 35.0, 60.0), disc("b", 40.0005, 35.0003, 40.0)
    rings = drawer.lens_rings(*usual, 0.0)
    assert rings is not None
    assert [ring_geojson(ring) for ring in rings] == written_by_polygons(drawer, *usual, 0.0)


def test_only_a_convex_counterclockwise_ring_is_taken_as_it_is() -> None:
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    assert turns_left_once(square)
    assert turns_left_once(np.array([[0, 0], [1, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float))
    assert not turns_left_once(square[::-1].copy())  # clockwise
    bowtie = np.array([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]], dtype=float)
    assert not turns_left_once(bowtie)
    assert not turns_left_once(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float))  # not closed
    spike = np.array([[0, 0], [2, 0], [1, 0], [1, 1], [0, 0]], dtype=float)
    assert not turns_left_once(spike)
    turns = np.linspace(0, 4 * np.pi, 40)
    twice = np.column_stack([np.cos(turns), np.sin(turns)])
    twice[-1] = twice[0]
    assert not turns_left_once(twice)
    assert not turns_left_once(np.array([[0, 0], [1, 0], [2, 0], [0, 0]], float))  # flat
    # a ring that is not convex is written by the polygons' path: valid, counterclockwise
    notch = np.array([[0, 0], [2, 0], [2, 2], [1, 1], [0, 2], [0, 0]], dtype=float)
    assert not turns_left_once(notch)
    assert ring_geojson(notch) == region_geojson(shapely.Polygon(notch))
    assert ring_geojson(square) == region_geojson(shapely.Polygon(square))
