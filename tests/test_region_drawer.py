"""The region drawer: each volume drawn once per frame, the regions as if drawn afresh."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from tansiq.engine.region import RegionDrawer, overlap_regions
from tansiq.scenario.model import Volume

GEOD = Geod(ellps="WGS84")


def disc(name: str, lon: float, lat: float, radius: float) -> Volume:
    return Volume(name, name, "k", shapely.Point(lon, lat), radius, 0, 100, 0, 10, {})


def lens_area(r1: float, r2: float, d: float) -> float:
    """Area where two circles of radii r1, r2 with centres d apart overlap (plane)."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a1 = math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    a2 = math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    kite = 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return r1 * r1 * a1 + r2 * r2 * a2 - kite


def around(lon: float, lat: float, count: int, seed: int) -> list[Volume]:
    """``count`` discs within a kilometre of (lon, lat): a contested square kilometre."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        x, y, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), rng.uniform(0, 500))
        out.append(disc(f"v{i}", x, y, rng.uniform(100, 400)))
    return out


def test_a_drawer_that_keeps_drawings_draws_the_regions_a_fresh_one_does() -> None:
    """Every pair, in a shuffled order (so most drawings are reused), is identical,
    vertex for vertex, to drawing the pair alone."""
    volumes = around(40.1249, 35.1251, 8, seed=3)  # next to a grid cell's edge
    pairs = [(a, b) for a in volumes for b in volumes if a is not b]
    random.Random(1).shuffle(pairs)
    # room for about five drawings of a disc (259 positions each): evicted ones too
    drawer = RegionDrawer(capacity=1300)
    for a, b in pairs:
        kept = drawer.regions(a, b, 250.0)
        fresh = overlap_regions(a, b, 250.0)
        for got, want in zip(kept, fresh, strict=True):
            assert shapely.equals_exact(got, want, tolerance=0.0)
        assert drawer.kept <= 1300
    assert drawer.kept > 1000  # it filled up


def test_a_drawing_larger_than_the_whole_capacity_is_drawn_and_not_kept() -> None:
    a, b = disc("a", 36.0, 33.0, 300.0), disc("b", 36.004, 33.0, 300.0)
    drawer = RegionDrawer(capacity=200)
    assert shapely.equals_exact(drawer.regions(a, b, 0.0)[0], overlap_regions(a, b, 0.0)[0], 0.0)
    assert drawer.kept == 0


def test_a_replaced_volume_is_drawn_again_though_it_keeps_its_id() -> None:
    a, b = disc("a", 36.0, 33.0, 300.0), disc("b", 36.004, 33.0, 300.0)
    drawer = RegionDrawer()
    before, _ = drawer.regions(a, b, 0.0)
    kept = drawer.kept
    moved = dataclasses.replace(a, geometry=shapely.Point(36.002, 33.0))  # same id, new place
    after, _ = drawer.regions(moved, b, 0.0)
    assert drawer.kept == kept  # the old drawing of "a" was let go
    assert shapely.equals_exact(after, overlap_regions(moved, b, 0.0)[0], tolerance=0.0)
    assert after.area > 2 * before.area  # the discs now overlap far more


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-180.0, 180.0),
    lat=st.floats(-85.0, 85.0),
    radius=st.floats(50.0, 20_000.0),
    separation=st.sampled_from([0.0, 500.0, 3000.0]),
    bearing=st.floats(0.0, 360.0),
    apart=st.floats(0.1, 1.8),
)
def test_regions_drawn_in_a_grid_frame_are_true_on_the_ellipsoid(
    lon: float, lat: float, radius: float, separation: float, bearing: float, apart: float
) -> None:
    """Wherever the pair lies (far from its frame's centre, across 180°, near the
    poles), each vertex of each region is in its own disc and within the separation
    of the other, to a part in ten thousand (the drawing's tolerance is 0.1 %), and
    the region is the whole lens where the two discs meet, not a part of it."""
    apart_m = apart * radius + separation / 2
    other_lon, other_lat, _ = GEOD.fwd(lon, lat, bearing, apart_m)
    a, b = disc("a", lon, lat, radius), disc("b", float(other_lon), float(other_lat), radius)
    regions = RegionDrawer().regions(a, b, separation)
    lens = lens_area(radius, radius + separation, apart_m)
    for region, own, other in zip(regions, (a, b), (b, a), strict=True):
        ring = shapely.get_coordinates(region)
        assert ring[:, 0].min() >= -180.0 and ring[:, 0].max() <= 180.0
        # drawn with 32 segments a quarter circle: a little less than the true lens
        area = abs(GEOD.geometry_area_perimeter(region)[0])
        assert lens * 0.995 <= area <= lens * 1.0001
        n = len(ring)
        for centre, limit in ((own, radius), (other, radius + separation)):
            lons = np.full(n, centre.geometry.x)
            lats = np.full(n, centre.geometry.y)
            _, _, distance = GEOD.inv(lons, lats, ring[:, 0], ring[:, 1])
            assert distance.max() <= limit * 1.0001 + 0.1
