"""The Earth-centred box of a lon/lat box must hold every surface point of it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.engine.geodesy import ecef, ecef_box_of_lonlat_box

lat = st.floats(-90, 90)
lon = st.floats(-180, 180)
width = st.floats(0, 180)


@settings(max_examples=300, deadline=None)
@given(lon, lat, width, lat)
def test_box_holds_every_point_and_one_box_equals_many(
    lon0: float, lat_a: float, dlon: float, lat_b: float
) -> None:
    lat0, lat1 = min(lat_a, lat_b), max(lat_a, lat_b)
    lon1 = lon0 + dlon
    args = [np.array([v, v]) for v in (lon0, lat0, lon1, lat1)]
    many_lo, many_hi = ecef_box_of_lonlat_box(*args)
    one_lo, one_hi = ecef_box_of_lonlat_box(*[a[:1] for a in args])
    np.testing.assert_allclose(one_lo[0], many_lo[0], rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(one_hi[0], many_hi[0], rtol=1e-12, atol=1e-6)
    grid_lon, grid_lat = np.meshgrid(np.linspace(lon0, lon1, 41), np.linspace(lat0, lat1, 41))
    x, y, z = ecef(grid_lon.ravel(), grid_lat.ravel())
    points = np.column_stack([x, y, z])
    assert (points >= one_lo[0] - 1e-6).all()
    assert (points <= one_hi[0] + 1e-6).all()


def test_box_across_the_antimeridian_reaches_the_negative_x_axis() -> None:
    lo, hi = ecef_box_of_lonlat_box(*[np.array([v]) for v in (179.0, 0.0, 181.0, 1.0)])
    assert lo[0, 0] == -6378137.0
    assert lo[0, 1] < 0 < hi[0, 1]
