"""Checks of what a store keeps beside its records, read from the file itself."""

from __future__ import annotations

import sqlite3

import shapely

from tansiq.store import extents


def assert_extents_hold_the_regions(path: str) -> None:
    """Every conflict with regions, of any state, has an extent (what a box filter reads
    in their place) that holds both regions and is no wider than their bounds padded;
    no conflict without regions has one."""
    with sqlite3.connect(path) as raw:
        kept = {i: (w, s, e, n) for i, w, s, e, n in raw.execute("SELECT * FROM conflict_extent")}
        rows = raw.execute("SELECT id, region_a, region_b FROM conflict").fetchall()
    assert kept.keys() == {i for i, a, b in rows if a or b}
    for conflict_id, region_a, region_b in rows:
        if not (region_a or region_b):
            continue
        regions = shapely.from_geojson([region_a, region_b])
        west, south, east, north = shapely.total_bounds(regions)
        w, s, e, n = kept[conflict_id]
        assert w <= west and s <= south and e >= east and n >= north, conflict_id
        assert max(west - w, south - s, e - east, n - north) <= 2 * extents.PAD_DEGREES
