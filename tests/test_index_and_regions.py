"""ConflictIndex as the service will use it, and the overlap region a conflict discloses."""

from __future__ import annotations

import dataclasses
import math

import pytest
import shapely
from pyproj import Geod

from tansiq import ConflictIndex, Scenario, SeparationRule, Volume, detect
from tansiq.errors import DuplicateVolume, UnknownVolume

GEOD = Geod(ellps="WGS84")
RULES = (
    SeparationRule(("*", "*"), horizontal_m=0.0),
    SeparationRule(("air_strike", "protected_site"), 3000.0),
)


def disc(
    vid: str, party: str, lon: float, lat: float, radius: float, kind: str = "drone_flight"
) -> Volume:
    return Volume(id=vid, party=party, kind=kind, geometry=shapely.Point(lon, lat), buffer_m=radius)


def east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, metres)
    return lon2, lat2


def test_check_add_remove_replace() -> None:
    index = ConflictIndex(RULES)
    site = disc("hospital", "un", 40.0, 35.0, 100.0, "protected_site")
    index.add(site)
    strike = Volume(
        id="strike",
        party="ru",
        kind="air_strike",
        geometry=shapely.Point(*east_of(40.0, 35.0, 3000.0)),
        buffer_m=50.0,
    )
    found = index.check(strike)
    assert [(c.a, c.b) for c in found] == [("hospital", "strike")]
    assert found[0].horizontal_distance_m == pytest.approx(2850.0, abs=0.01)
    assert found[0].horizontal_m == 3000.0

    index.add(strike)
    assert len(index) == 2
    # checking a stored volume never reports it against itself
    assert [(c.a, c.b) for c in index.check(strike)] == [("hospital", "strike")]
    # a replacement moved 3.2 km away no longer conflicts
    # only the kinds asked for are judged, and a kind no volume has is not learnt
    assert [c.a for c in index.check(strike, kinds={"protected_site"})] == ["hospital"]
    assert index.check(strike, kinds={"convoy", "air_strike"}) == []
    assert "convoy" not in index._table.kinds
    moved = dataclasses.replace(strike, geometry=shapely.Point(*east_of(40.0, 35.0, 3200.0)))
    assert index.check(moved) == []
    index.remove("hospital")
    assert index.check(strike) == []
    assert "hospital" not in index and len(index) == 1


def test_index_errors_name_the_id() -> None:
    index = ConflictIndex()
    index.add(disc("a", "p", 0, 0, 1))
    with pytest.raises(DuplicateVolume, match="'a'"):
        index.add(disc("a", "q", 0, 0, 1))
    with pytest.raises(UnknownVolume, match="'zz'"):
        index.remove("zz")
    with pytest.raises(DuplicateVolume):
        index.add_many([disc("b", "p", 0, 0, 1), disc("b", "q", 0, 0, 1)])
    assert len(index) == 1


def test_index_agrees_with_detect_through_many_single_adds_and_removals() -> None:
    # enough single adds to pack several trees (the tail holds 256)
    volumes = [
        disc(f"v{i:04d}", "pqr"[i % 3], 40.0 + (i % 40) * 0.004, 35.0 + (i // 40) * 0.004, 250.0)
        for i in range(1200)
    ]
    index = ConflictIndex()
    for v in volumes:
        index.add(v)
    for v in volumes[::7]:
        index.remove(v.id)
    kept = [v for i, v in enumerate(volumes) if i % 7]
    expected = {(c.a, c.b) for c in detect(Scenario("t", (), (), tuple(kept)))}
    seen = {(c.a, c.b) for v in kept for c in index.check(v)}
    assert expected and seen == expected


def test_the_volumes_held_copy_lists_them_by_window_start_then_id() -> None:
    """What the service's catch-up after new rules orders a million volumes by, beside
    the changes: the copy lists those of the kinds asked for, by the start of their
    windows then their ids (ties in starts included), without removed ones, and does
    not change when the index does."""
    index = ConflictIndex()
    volumes = [
        dataclasses.replace(
            disc(f"v{(i * 37) % 100:03d}", "pq"[i % 2], 40.0 + i * 0.01, 35.0, 50.0,
                 ("convoy", "patrol", "site")[i % 3]),
            start=1.0e9 + 3600.0 * (i % 4),
        )
        for i in range(100)
    ]  # fmt: skip
    # ids numpy's strings would order wrongly (trailing NULs: "v" first) or make huge
    # (a long one), with the same start: ordered by id alone
    volumes[1:4] = [
        dataclasses.replace(volumes[0], id=vid) for vid in ("v\x00", "v", "v" * 100_000)
    ]
    index.add_many(volumes[:60])
    for v in volumes[60:]:
        index.add(v)
    for v in volumes[::9]:
        index.remove(v.id)
    held = index.held()
    kept = [v for i, v in enumerate(volumes) if i % 9 and v.kind in {"convoy", "site"}]
    expected = sorted((v.start, v.id) for v in kept)
    assert held.turns({"convoy", "site", "unfiled"}) == expected
    index.remove(kept[0].id)
    index.add(dataclasses.replace(volumes[0], start=0.0))
    assert held.turns({"convoy", "site"}) == expected
    assert held.turns({"unfiled"}) == []


def test_overlap_regions_lie_in_each_footprint_within_the_separation() -> None:
    a = disc("a", "p", 40.0, 35.0, 1000.0, "air_strike")
    b = disc("b", "q", *east_of(40.0, 35.0, 3500.0), 500.0, "protected_site")
    (conflict,) = detect(Scenario("t", (), RULES, (a, b)))
    assert conflict.horizontal_distance_m == pytest.approx(2000.0, abs=0.01)
    region_a, region_b = conflict.overlap_regions()
    assert not region_a.is_empty and not region_b.is_empty
    for region, own, other, own_r, other_r in (
        (region_a, a, b, 1000.0, 500.0),
        (region_b, b, a, 500.0, 1000.0),
    ):
        ring = shapely.get_coordinates(region)
        own_lon, own_lat = own.geometry.x, own.geometry.y
        other_lon, other_lat = other.geometry.x, other.geometry.y
        n = len(ring)
        _, _, to_own = GEOD.inv([own_lon] * n, [own_lat] * n, ring[:, 0], ring[:, 1])
        _, _, to_other = GEOD.inv([other_lon] * n, [other_lat] * n, ring[:, 0], ring[:, 1])
        # each vertex: in its own footprint, within 3000 m of the other (0.1 % drawing slack)
        assert max(to_own) <= own_r * 1.001
        assert max(to_other) <= (other_r + 3000.0) * 1.001
        # and the region reaches the far side of its own footprint's part within range
        assert max(to_own) >= own_r * 0.99


@pytest.mark.parametrize(("lon_a", "lon_b"), [(179.99, -179.99), (-179.99, 179.99), (180.0, 180.0)])
def test_overlap_regions_across_the_antimeridian_are_cut_there(lon_a: float, lon_b: float) -> None:
    """Regions are GeoJSON for people: longitudes in [-180, 180], and a region that
    crosses 180° is cut in two (RFC 7946 §3.1.9), whichever side is ``a``."""
    a = disc("a", "p", lon_a, -16.5, 3000.0)
    b = disc("b", "q", lon_b, -16.5, 3000.0)
    (conflict,) = detect(Scenario("t", (), RULES, (a, b)))
    # each region is the lens where the two 3 km discs overlap
    _, _, d = GEOD.inv(lon_a, -16.5, lon_b, -16.5)
    lens = 2 * 3000.0**2 * math.acos(d / 6000.0) - d / 2 * math.sqrt(6000.0**2 - d**2)
    for region in conflict.overlap_regions():
        lon = shapely.get_coordinates(region)[:, 0]
        assert lon.min() >= -180.0 and lon.max() <= 180.0
        assert region.geom_type == "MultiPolygon"  # one piece each side of 180°
        assert all(part.area > 0 for part in region.geoms)
        # the cut loses nothing: both pieces together are the whole lens
        assert abs(GEOD.geometry_area_perimeter(region)[0]) == pytest.approx(lens, rel=0.002)


def test_window_is_the_common_time_or_the_gap() -> None:
    a = dataclasses.replace(disc("a", "p", 0, 0, 10), start=0.0, end=100.0)
    b = dataclasses.replace(disc("b", "q", 0, 0, 10), start=50.0, end=200.0)
    (overlapping,) = detect(Scenario("t", (), (), (a, b)))
    assert overlapping.window == (50.0, 100.0)
    c = dataclasses.replace(b, start=130.0)
    rules = (SeparationRule(("*", "*"), time_s=60.0),)
    (gapped,) = detect(Scenario("t", (), rules, (a, c)))
    assert gapped.time_gap_s == 30.0
    assert gapped.window == (100.0, 130.0)
