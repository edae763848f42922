"""The region drawer: each volume drawn once per frame, the regions as if drawn afresh."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from tansiq.engine.lens import disc_lens
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


def corridor(name: str, lon: float, lat: float, radius: float) -> Volume:
    """A short corridor (10 m of line, ``radius`` either side): not a disc, so drawn
    by buffers and overlay, through the drawer's kept drawings."""
    line = shapely.LineString([(lon, lat), (lon + 0.0001, lat)])
    return Volume(name, name, "k", line, radius, 0, 100, 0, 10, {})


def around(lon: float, lat: float, count: int, seed: int) -> list[Volume]:
    """``count`` corridors within a kilometre of (lon, lat): a contested square kilometre."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        x, y, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), rng.uniform(0, 500))
        out.append(corridor(f"v{i}", x, y, rng.uniform(100, 400)))
    return out


def test_a_drawer_that_keeps_drawings_draws_the_regions_a_fresh_one_does() -> None:
    """Every pair, in a shuffled order (so most drawings are reused), is identical,
    vertex for vertex, to drawing the pair alone."""
    volumes = around(40.1249, 35.1251, 8, seed=3)  # next to a grid cell's edge
    pairs = [(a, b) for a in volumes for b in volumes if a is not b]
    random.Random(1).shuffle(pairs)
    # room for about five drawings of a corridor (about 270 positions each): evicted
    # ones too
    drawer = RegionDrawer(capacity=1300)
    for a, b in pairs:
        kept = drawer.regions(a, b, 250.0)
        fresh = overlap_regions(a, b, 250.0)
        for got, want in zip(kept, fresh, strict=True):
            assert shapely.equals_exact(got, want, tolerance=0.0)
        assert drawer.kept <= 1300
    assert drawer.kept > 1000  # it filled up


def test_a_drawing_larger_than_the_whole_capacity_is_drawn_and_not_kept() -> None:
    a, b = corridor("a", 36.0, 33.0, 300.0), corridor("b", 36.004, 33.0, 300.0)
    drawer = RegionDrawer(capacity=200)
    assert shapely.equals_exact(drawer.regions(a, b, 0.0)[0], overlap_regions(a, b, 0.0)[0], 0.0)
    assert drawer.kept == 0


def test_a_replaced_volume_is_drawn_again_though_it_keeps_its_id() -> None:
    a, b = corridor("a", 36.0, 33.0, 300.0), corridor("b", 36.004, 33.0, 300.0)
    drawer = RegionDrawer()
    before, _ = drawer.regions(a, b, 0.0)
    kept = drawer.kept
    assert kept > 0
    moved = dataclasses.replace(a, geometry=corridor("a", 36.002, 33.0, 0.0).geometry)
    after, _ = drawer.regions(moved, b, 0.0)
    assert drawer.kept == kept  # the old drawing of "a" was let go
    assert shapely.equals_exact(after, overlap_regions(moved, b, 0.0)[0], tolerance=0.0)
    assert after.area > 2 * before.area  # the discs now overlap far more


@pytest.mark.parametrize("drawing", ["lens", "overlay"])
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
    drawing: str,
    lon: float,
    lat: float,
    radius: float,
    separation: float,
    bearing: float,
    apart: float,
) -> None:
    """Wherever the pair lies (far from its frame's centre, across 180°, near the
    poles), each vertex of each region is in its own disc and within the separation
    of the other, to a part in ten thousand (the drawing's tolerance is 0.1 %), and
    the region is the whole lens where the two discs meet, not a part of it: drawn
    as a lens, and as any other footprint is (buffers and overlay)."""
    apart_m = apart * radius + separation / 2
    other_lon, other_lat, _ = GEOD.fwd(lon, lat, bearing, apart_m)
    a, b = disc("a", lon, lat, radius), disc("b", float(other_lon), float(other_lat), radius)
    regions = RegionDrawer(lenses=drawing == "lens").regions(a, b, separation)
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


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-180.0, 180.0),
    lat=st.floats(-85.0, 85.0),
    radius=st.floats(20.0, 20_000.0),
    other=st.floats(0.2, 5.0),
    separation=st.sampled_from([0.0, 100.0, 3000.0]),
    bearing=st.floats(0.0, 360.0),
    apart=st.floats(0.0, 1.0),
)
def test_a_lens_is_the_overlay_of_the_two_discs_but_for_its_chords(
    lon: float, lat: float, radius: float, other: float, separation: float,
    bearing: float, apart: float,
) -> None:  # fmt: skip
    """Discs of any sizes, one inside the other included: the lens and the overlay
    of the two buffers cover the same ground but for the buffers' chords (an arc of
    π/64 strays 0.03 % of its radius from its chord)."""
    radius_b = radius * other
    apart_m = apart * (radius + radius_b + separation)
    other_lon, other_lat, _ = GEOD.fwd(lon, lat, bearing, apart_m)
    a, b = disc("a", lon, lat, radius), disc("b", float(other_lon), float(other_lat), radius_b)
    lenses = RegionDrawer().regions(a, b, separation)
    overlays = RegionDrawer(lenses=False).regions(a, b, separation)
    sagitta = (max(radius, radius_b) + separation) * (1 - math.cos(math.pi / 128))
    for lens, overlay in zip(lenses, overlays, strict=True):
        if overlay.geom_type == "Point":
            # the chords do not meet: the overlay gives the closest point; the arcs
            # may still meet, in a sliver no wider than a chord's sagitta
            assert abs(GEOD.geometry_area_perimeter(lens)[0]) <= sagitta * 2 * radius
            continue
        assert lens.geom_type == overlay.geom_type
        # the ground between them: no wider, on average, than a chord strays from its arc
        _, perimeter = GEOD.geometry_area_perimeter(overlay)
        differ = abs(GEOD.geometry_area_perimeter(shapely.symmetric_difference(lens, overlay))[0])
        assert differ <= perimeter * sagitta + 1e-3, (differ, perimeter * sagitta)


@settings(max_examples=200, deadline=None)
@given(
    ra=st.floats(1.0, 10_000.0),
    rb=st.floats(1.0, 10_000.0),
    apart=st.floats(0.0, 1.2),
    angle=st.floats(0.0, 2 * math.pi),
)
def test_a_lens_is_where_the_two_circles_meet_to_its_chords(
    ra: float, rb: float, apart: float, angle: float
) -> None:
    """In the plane, against the overlay of two finely drawn circles (1,024 segments
    a quarter): the lens is valid, counterclockwise, and no further from it than
    its own chords stray from their arcs (where the circles cross, exactly)."""
    d = apart * (ra + rb)
    bx, by = d * math.cos(angle), d * math.sin(angle)
    ring = disc_lens(0.0, 0.0, ra, bx, by, rb, math.pi / 64)
    fine = shapely.intersection(
        shapely.Point(0, 0).buffer(ra, quad_segs=1024),
        shapely.Point(bx, by).buffer(rb, quad_segs=1024),
    )
    fine_error = max(ra, rb) * (1 - math.cos(math.pi / 2048))
    if len(ring) == 0:
        assert d >= ra + rb and (fine.is_empty or fine.area < 1e-6 * ra * rb)
        return
    lens = shapely.Polygon(ring)
    chord = max(ra, rb) * (1 - math.cos(math.pi / 128))
    if ra + rb - d <= 4 * fine_error:
        # the circles all but touch: the fine overlay is no truer than its chords, and
        # the lens is a sliver no wider than they stray, or a point where they touch to
        # a float (found by hypothesis: ra=110.5, rb=2, apart=1.0): the service draws
        # a pair less than a metre into each other the general way (engine/region.py)
        assert lens.area <= 8 * fine_error * min(ra, rb)
        return
    assert lens.is_valid and shapely.is_ccw(lens.exterior)
    # where the circles cross at a shallow angle, a small error moves the crossing far
    # along them: only the fine overlay's (tiny) error, in both places
    with np.errstate(divide="ignore", invalid="ignore"):  # numpy's note on concentric circles
        apart_m = shapely.hausdorff_distance(lens, fine)
    assert apart_m <= chord + 200 * fine_error + 1e-9 * ra


def test_discs_a_float_step_from_touching_get_valid_regions() -> None:
    """A lens nanometres wide collapses into a spike once in degrees: the regions
    are drawn the general way instead (the closest point), valid either way."""
    a = disc("a", 36.0, 33.0, 50.0)
    b = disc("b", 36.00201615107914, 33.00060484532374, 50.0)  # found by a second review
    regions = RegionDrawer().regions(a, b, 100.0)
    assert all(shapely.is_valid(r) for r in regions)
    overlays = RegionDrawer(lenses=False).regions(a, b, 100.0)
    assert [r.geom_type for r in regions] == [r.geom_type for r in overlays]


@pytest.mark.parametrize("drawing", ["lens", "overlay"])
@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_a_region_round_a_pole_is_a_valid_cap(drawing: str, pole: float) -> None:
    """Discs that hold a pole: the region goes once round every longitude, so it is
    written closed along the pole and cut at 180° (drawn as it is, it would cross
    itself, and GEOS refused it: the change failed). The lens of a 5 km disc 1.1 km
    from the pole and a 3 km one 2.2 km from it, on the other side of a meridian."""
    side = 1.0 if pole > 0 else -1.0
    a = disc("a", 0.0, side * 89.99, 5000.0)
    b = disc("b", 90.0, side * 89.98, 3000.0)
    _, _, apart_m = GEOD.inv(0.0, side * 89.99, 90.0, side * 89.98)
    regions = RegionDrawer(lenses=drawing == "lens").regions(a, b, 0.0)
    lens = lens_area(5000.0, 3000.0, apart_m)
    for region in regions:
        assert region.is_valid
        west, south, east, north = region.bounds
        assert (west, east) == (-180.0, 180.0) and pole in (south, north)
        assert lens * 0.995 <= abs(GEOD.geometry_area_perimeter(region)[0]) <= lens * 1.001


def test_a_region_in_parts_one_round_a_pole_is_valid() -> None:
    """Two discs of one volume (a MultiPoint), one holding the pole, both within
    the other volume's reach: the region has two parts, and the one round the pole
    is closed along it like a whole region would be (it was written invalid)."""
    a = Volume("a", "a", "k", shapely.MultiPoint([(0.0, 89.995), (180.0, 89.95)]), 2000.0,
               0, 100, 0, 10, {})  # fmt: skip
    b = disc("b", 90.0, 89.99, 10_000.0)
    for region in RegionDrawer().regions(a, b, 0.0):
        assert region.is_valid and region.geom_type == "MultiPolygon"
        assert region.bounds[3] == 90.0
        area = abs(GEOD.geometry_area_perimeter(region)[0])
        assert 2 * math.pi * 2000.0**2 * 0.995 <= area <= 2 * math.pi * 2000.0**2


def test_the_extent_of_two_lenses_holds_both_and_a_position_not_a_number_gives_none() -> None:
    """`rings_bounds` is the bounds of both rings' positions together; a ring with a
    position that is not a number gives no extent (its regions are then read), as
    numpy's reductions did."""
    from tansiq.engine.lens import rings_bounds
    from tansiq.store import extents

    ring_a = np.array([[40.0, 35.0], [40.2, 35.1], [40.1, 35.3], [40.0, 35.0]])
    ring_b = np.array([[39.9, 35.05], [40.05, 34.95], [39.9, 35.05]])
    assert rings_bounds(ring_a, ring_b) == (39.9, 34.95, 40.2, 35.3)
    assert rings_bounds(ring_a, ring_b) == tuple(
        shapely.total_bounds([shapely.Polygon(ring_a), shapely.Polygon(ring_b)])
    )
    broken = ring_b.copy()
    broken[1, 1] = math.nan
    assert all(math.isnan(v) for v in rings_bounds(ring_a, broken))
    assert extents.padded(*rings_bounds(ring_a, broken)) is None
