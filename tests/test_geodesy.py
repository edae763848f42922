"""The Earth-centred box of a lon/lat box must hold every surface point of it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from tansiq.engine import kernel
from tansiq.engine.geodesy import E2, A, ecef, ecef_box_of_lonlat_box, local_forward, local_inverse
from tansiq.engine.local_projection import project, unproject
from tansiq.engine.proj_geodesic import GEOD_INVERSE, WGS84

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


def test_proj_geod_inverse_through_ctypes_agrees_with_geod_inv() -> None:
    """The compiled stage calls PROJ's geod_inverse itself: it must give Geod.inv's answers."""
    rng = np.random.default_rng(7)
    lon1, lon2 = rng.uniform(-180, 180, 500), rng.uniform(-540, 540, 500)
    lat1, lat2 = rng.uniform(-90, 90, 500), rng.uniform(-90, 90, 500)
    _, _, expected = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    scratch = np.zeros(3)
    got = [
        kernel._geodesic(GEOD_INVERSE, WGS84, np.array([x1, y1, x2, y2]), 0, scratch)
        for x1, y1, x2, y2 in zip(lon1, lat1, lon2, lat2, strict=True)
    ]
    assert np.array_equal(np.array(got), np.asarray(expected))
    one_degree = kernel._geodesic(GEOD_INVERSE, WGS84, np.array([10.0, 0.0, 10.0, 1.0]), 0, scratch)
    assert one_degree == pytest.approx(110_574.4, abs=0.1)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-180, 180),
    st.floats(-89, 89),
    st.floats(-1, 1),
    st.floats(-1, 1),
    st.floats(-3, 3),
    st.floats(-3, 3),
    st.sampled_from([(0.0, 1.0), (0.0, 0.5), (0.25, 0.375)]),
)
# an edge centred on the equator and on the projection's centre: its image is an S
# whose middle lies exactly on the chord
@example(10.0, -0.5, 1.0, 1.0, 0.5, 0.5, (0.0, 1.0))
@example(-70.0, -0.8, -0.6, 1.0, -0.3, 0.5, (0.25, 0.75))
def test_sagitta_bounds_how_far_a_projected_edge_strays_from_its_chord(
    lon: float,
    lat: float,
    dlon: float,
    dlat: float,
    centre_dlon: float,
    centre_dlat: float,
    piece: tuple[float, float],
) -> None:
    """The exact stage's lower bounds rest on this: every point of a piece's image lies
    within the piece's sagitta of its chord (edges across the equator bend both ways)."""
    lat1 = max(-90.0, min(90.0, lat + dlat))
    dlat = lat1 - lat
    lon0, lat0 = lon + centre_dlon, max(-89.9, min(89.9, lat + centre_dlat))
    phi0 = math.radians(lat0)
    w = 1 - E2 * math.sin(phi0) ** 2
    proj = np.array(
        [lon0, math.sin(phi0), math.cos(phi0), A / math.sqrt(w), A * (1 - E2) / w**1.5, 0.0]
    )

    def image(t: float) -> tuple[float, float]:
        x, y = kernel.project_point(lon + t * dlon, lat + t * dlat, *proj[:5])
        return float(x), float(y)

    t0, t1 = piece
    (x0, y0), (x1, y1) = image(t0), image(t1)
    five = [image(t0 + q * (t1 - t0)) for q in kernel.FRACTIONS]
    sagitta = kernel._sagitta(np.array(five).ravel(), 0)
    worst = 0.0
    for q in np.linspace(0.0, 1.0, 401):
        x, y = image(t0 + q * (t1 - t0))
        worst = max(worst, math.hypot(x - (x0 + q * (x1 - x0)), y - (y0 + q * (y1 - y0))))
    assert worst <= sagitta + 1e-6


@given(
    st.floats(-179.0, 179.0),
    st.floats(-89.0, 89.0),
    st.lists(st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)), min_size=1, max_size=20),
)
@settings(deadline=None)  # the first example may wait for numba to compile or load its cache
def test_the_compiled_local_projection_is_the_numpy_one(
    lon0: float, lat0: float, offsets: list[tuple[float, float]]
) -> None:
    """Overlap regions are drawn with the compiled loops; they must be the reference's."""
    coords = np.array([(lon0 + dx, max(-89.9, min(89.9, lat0 + dy))) for dx, dy in offsets])
    n = len(coords)
    x, y = local_forward(coords[:, 0], coords[:, 1], np.full(n, lon0), np.full(n, lat0))
    projected = project(coords, lon0, lat0, 0.0)
    np.testing.assert_allclose(projected, np.column_stack([x, y]), rtol=0, atol=1e-6)
    lon, lat = local_inverse(x, y, np.full(n, lon0), np.full(n, lat0))
    back = unproject(projected, lon0, lat0)
    np.testing.assert_allclose(back, np.column_stack([lon, lat]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(back, coords, rtol=0, atol=1e-9)
