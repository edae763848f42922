"""Two drawings of a region are the same within drawing noise, and never when further apart."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from tansiq.service.same_drawing import DRAWING_NOISE_DEG, alike, longitude_scale


def _polygon_text(rings: list[np.ndarray], multi: bool = False) -> str:
    coordinates = [ring.tolist() for ring in rings]
    if multi:
        return json.dumps({"type": "MultiPolygon", "coordinates": [[ring] for ring in coordinates]})
    return json.dumps({"type": "Polygon", "coordinates": coordinates})


def _ring(lon: float, lat: float, radius_deg: float, vertices: int) -> np.ndarray:
    """A closed counterclockwise ring of ``vertices`` positions about (lon, lat)."""
    turns = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    ring = np.c_[lon + radius_deg * np.cos(turns), lat + radius_deg * np.sin(turns)]
    return np.vstack([ring, ring[:1]])


@settings(max_examples=150, deadline=None)
@given(
    vertices=st.integers(4, 60),
    radius_deg=st.floats(1e-4, 0.05),
    scale=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_alike_only_within_the_noise(
    vertices: int, radius_deg: float, scale: float, seed: int
) -> None:
    """A ring whose vertices each moved by up to ``scale`` times the noise: alike
    whenever every vertex moved less than 0.9 of it, and never when the two regions
    are further apart than the noise (their Hausdorff distance, densified)."""
    ring = _ring(40.0, 35.0, radius_deg, vertices)
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0.0, 2 * math.pi, len(ring))
    lengths = rng.uniform(0.0, scale * DRAWING_NOISE_DEG, len(ring))
    moved = ring + np.c_[lengths * np.cos(angles), lengths * np.sin(angles)]
    moved[-1] = moved[0]
    first, second = _polygon_text([ring]), _polygon_text([moved])
    a, b = shapely.from_geojson(first), shapely.from_geojson(second)
    if not shapely.is_valid(b):
        return
    same = alike(first, second)
    if lengths.max() < 0.9 * DRAWING_NOISE_DEG:
        assert same
    if same:  # apart by no more than the noise, longitudes scaled (never less than on the ground)
        lats = np.concatenate([ring[:, 1], moved[:, 1]])
        scale = longitude_scale(float(lats.min()), float(lats.max()))
        a, b = (shapely.transform(g, lambda xy: xy * (scale, 1.0)) for g in (a, b))
        apart = shapely.hausdorff_distance(a, b, densify=0.01)
        assert apart <= DRAWING_NOISE_DEG * (1 + 1e-9)


def test_what_is_no_latitude_is_not_scaled() -> None:
    """Bounds beyond the poles or not numbers scale nothing (scaled by a cosine near
    zero, regions 50° of longitude apart read as alike: a reviewer)."""
    assert longitude_scale(95.0, 96.0) == longitude_scale(math.nan, math.nan) == 1.0
    assert longitude_scale(-10.0, 10.0) == 1.0
    assert longitude_scale(60.0, 61.0) == pytest.approx(0.5)


def test_the_noise_is_measured_on_the_ground_at_every_latitude() -> None:
    """A ring moved 0.3 m east is the same drawing at 75° N as at the equator, though
    it moved 1.04e-5° of longitude there (compared in degrees, that read as a change,
    and a far end moved 60 km as a new entry into a zone: a reviewer); moved 3 m, it is
    not, at either."""
    for lat in (0.0, 75.0):
        metre_deg = 1.0 / (111_320.0 * math.cos(math.radians(lat)))
        ring = _ring(40.0, lat, 0.001, 32)
        near = ring + np.array([0.3 * metre_deg, 0.0])
        far = ring + np.array([3.0 * metre_deg, 0.0])
        assert alike(_polygon_text([ring]), _polygon_text([near])), lat
        assert not alike(_polygon_text([ring]), _polygon_text([far])), lat
        # with a vertex more on an edge: the same region, compared by covering
        denser = np.vstack([near[:1], (near[0] + near[1]) / 2, near[1:]])
        assert alike(_polygon_text([ring]), _polygon_text([denser])), lat
        denser_far = np.vstack([far[:1], (far[0] + far[1]) / 2, far[1:]])
        assert not alike(_polygon_text([ring]), _polygon_text([denser_far])), lat


def test_a_region_drawn_with_other_vertices_is_alike_within_the_noise() -> None:
    """The same circle drawn with 64 and with 65 vertices, and moved by half the noise:
    alike (told by the regions, not vertex for vertex); moved by three times the noise,
    not."""
    radius = 0.0004  # chords of 64 vertices stray 0.2 m from the circle: inside the noise
    near = _polygon_text([_ring(40.0, 35.0, radius, 64)])
    other = _polygon_text([_ring(40.0 + 0.5 * DRAWING_NOISE_DEG, 35.0, radius, 65)])
    far = _polygon_text([_ring(40.0 + 3 * DRAWING_NOISE_DEG, 35.0, radius, 65)])
    assert alike(near, other)
    assert not alike(near, far)


def test_a_polygon_with_a_hole_is_not_two_polygons_of_the_same_rings() -> None:
    """The same rings, vertex for vertex, as a disc with a hole and as two polygons (a
    disc and a smaller one inside it): different regions, whatever their positions."""
    outer, inner = _ring(40.0, 35.0, 0.01, 32), _ring(40.0, 35.0, 0.005, 32)[::-1]
    holed = _polygon_text([outer, inner])
    two = _polygon_text([outer, inner[::-1]], multi=True)
    assert not alike(holed, two)
    assert alike(holed, holed.replace(" ", ""))


def test_positions_of_other_lengths_are_compared_as_regions() -> None:
    """A drawing with heights in some positions (not one this service writes) is
    compared as a region, not refused."""
    ring = _ring(40.0, 35.0, 0.001, 16)
    with_heights = [[*p, 10.0] if i % 2 else p for i, p in enumerate(ring.tolist())]
    text = json.dumps({"type": "Polygon", "coordinates": [with_heights]})
    assert alike(_polygon_text([ring]), text)
