"""WGS 84 helpers for the engine: the ellipsoid, Earth-centred coordinates, a local projection.

PROJ gives exact geodesic distances (:mod:`tansiq.engine.proj_geodesic`); what
pyproj does not offer is a projection whose centre changes from one pair of
volumes to the next inside one vectorised call, so :func:`local_forward` /
:func:`local_inverse` are written here (the compiled exact stage has its own copy
of the forward formulas). They only locate closest points: every distance the
engine reports is measured afterwards with ``geod_inverse`` between two real
points.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

A = 6378137.0  # WGS 84 semi-major axis, metres
F = 1 / 298.257223563
E2 = F * (2 - F)
B = A * (1 - F)
MEAN_RADIUS = (2 * A + B) / 3
#: one degree of latitude is at least this long on the ground (at the equator), metres
MIN_DEGREE_M = 110_574.0

def prime_vertical_radius(lat_rad: FloatArray) -> FloatArray:
    return A / np.sqrt(1 - E2 * np.sin(lat_rad) ** 2)


def meridional_radius(lat_rad: FloatArray) -> FloatArray:
    return A * (1 - E2) / (1 - E2 * np.sin(lat_rad) ** 2) ** 1.5


def ecef(lon_deg: FloatArray, lat_deg: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Earth-centred, Earth-fixed coordinates of surface points, metres."""
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    n = prime_vertical_radius(lat)
    p = n * np.cos(lat)
    return p * np.cos(lon), p * np.sin(lon), n * (1 - E2) * np.sin(lat)


def _range_of_cos(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact min and max of cos over [lo, hi] (radians, any width, hi >= lo)."""
    c_lo, c_hi = np.cos(lo), np.cos(hi)
    cmin = np.minimum(c_lo, c_hi)
    cmax = np.maximum(c_lo, c_hi)
    two_pi = 2 * np.pi
    # cos reaches +1 at multiples of 2π and -1 at odd multiples of π inside the range
    has_max = np.floor(hi / two_pi) >= np.ceil(lo / two_pi)
    has_min = np.floor((hi - np.pi) / two_pi) >= np.ceil((lo - np.pi) / two_pi)
    return np.where(has_min, -1.0, cmin), np.where(has_max, 1.0, cmax)


def ecef_box_of_lonlat_box(
    lon0: FloatArray, lat0: FloatArray, lon1: FloatArray, lat1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The exact axis-aligned ECEF box of each lon/lat box on the ellipsoid's surface.

    Every surface point whose lon/lat lies in the box lies in the returned box, so a
    chord-distance test between boxes can never drop a pair closer than the test's
    distance (a chord is never longer than the geodesic). Returns (mins, maxs), each (n, 3).
    """
    if len(lon0) == 1:
        # one box (ConflictIndex.check, add): plain floats are ~10x faster than numpy here
        lo, hi = ecef_box_of_one(float(lon0[0]), float(lat0[0]), float(lon1[0]), float(lat1[0]))
        return np.array([lo]), np.array([hi])
    phi0, phi1 = np.radians(lat0), np.radians(lat1)
    lam0, lam1 = np.radians(lon0), np.radians(lon1)
    n0, n1 = prime_vertical_radius(phi0), prime_vertical_radius(phi1)
    # p = N cos φ (distance from the axis) is largest at the latitude nearest the equator
    p0, p1 = n0 * np.cos(phi0), n1 * np.cos(phi1)
    p_min = np.minimum(p0, p1)
    p_max = np.where((phi0 <= 0) & (phi1 >= 0), A, np.maximum(p0, p1))
    cmin, cmax = _range_of_cos(lam0, lam1)
    # sin λ = cos(λ - π/2)
    smin, smax = _range_of_cos(lam0 - np.pi / 2, lam1 - np.pi / 2)
    out_min = np.empty((len(lon0), 3))
    out_max = np.empty((len(lon0), 3))
    # x = p cos λ and y = p sin λ with p >= 0: the extremes are at the corners of the ranges
    out_min[:, 0] = np.where(cmin >= 0, p_min * cmin, p_max * cmin)
    out_max[:, 0] = np.where(cmax >= 0, p_max * cmax, p_min * cmax)
    out_min[:, 1] = np.where(smin >= 0, p_min * smin, p_max * smin)
    out_max[:, 1] = np.where(smax >= 0, p_max * smax, p_min * smax)
    z0 = n0 * (1 - E2) * np.sin(phi0)
    z1 = n1 * (1 - E2) * np.sin(phi1)
    out_min[:, 2] = np.minimum(z0, z1)
    out_max[:, 2] = np.maximum(z0, z1)
    return out_min, out_max


def _cos_range_one(lo: float, hi: float) -> tuple[float, float]:
    c_lo, c_hi = math.cos(lo), math.cos(hi)
    cmin, cmax = min(c_lo, c_hi), max(c_lo, c_hi)
    two_pi = 2 * math.pi
    if math.floor(hi / two_pi) >= math.ceil(lo / two_pi):
        cmax = 1.0
    if math.floor((hi - math.pi) / two_pi) >= math.ceil((lo - math.pi) / two_pi):
        cmin = -1.0
    return cmin, cmax


def ecef_box_of_one(
    lon0: float, lat0: float, lon1: float, lat1: float
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """:func:`ecef_box_of_lonlat_box` for a single box, same formulas on floats."""
    phi0, phi1 = math.radians(lat0), math.radians(lat1)
    lam0, lam1 = math.radians(lon0), math.radians(lon1)
    n0 = A / math.sqrt(1 - E2 * math.sin(phi0) ** 2)
    n1 = A / math.sqrt(1 - E2 * math.sin(phi1) ** 2)
    p0, p1 = n0 * math.cos(phi0), n1 * math.cos(phi1)
    p_min = min(p0, p1)
    p_max = A if phi0 <= 0 <= phi1 else max(p0, p1)
    cmin, cmax = _cos_range_one(lam0, lam1)
    smin, smax = _cos_range_one(lam0 - math.pi / 2, lam1 - math.pi / 2)
    z0 = n0 * (1 - E2) * math.sin(phi0)
    z1 = n1 * (1 - E2) * math.sin(phi1)
    lo = (
        p_min * cmin if cmin >= 0 else p_max * cmin,
        p_min * smin if smin >= 0 else p_max * smin,
        min(z0, z1),
    )
    hi = (
        p_max * cmax if cmax >= 0 else p_min * cmax,
        p_max * smax if smax >= 0 else p_min * smax,
        max(z0, z1),
    )
    return lo, hi


def local_forward(
    lon: FloatArray, lat: FloatArray, lon0: FloatArray, lat0: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Azimuthal equidistant projection, each point about its own centre, metres.

    Spherical formulas scaled by the ellipsoid's two principal radii at the centre,
    so that lengths near the centre are right in every direction to first order.
    """
    lam = np.radians(lon - lon0)
    phi = np.radians(lat)
    phi0 = np.radians(lat0)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    sin_phi0, cos_phi0 = np.sin(phi0), np.cos(phi0)
    cos_lam = np.cos(lam)
    cos_c = np.clip(sin_phi0 * sin_phi + cos_phi0 * cos_phi * cos_lam, -1.0, 1.0)
    c = np.arccos(cos_c)
    sin_c = np.sin(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(sin_c > 1e-15, c / sin_c, 1.0)
    east = k * cos_phi * np.sin(lam)
    north = k * (cos_phi0 * sin_phi - sin_phi0 * cos_phi * cos_lam)
    return east * prime_vertical_radius(phi0), north * meridional_radius(phi0)


def local_inverse(
    x: FloatArray, y: FloatArray, lon0: FloatArray, lat0: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`local_forward`."""
    phi0 = np.radians(lat0)
    east = x / prime_vertical_radius(phi0)
    north = y / meridional_radius(phi0)
    c = np.hypot(east, north)
    sin_c, cos_c = np.sin(c), np.cos(c)
    sin_phi0, cos_phi0 = np.sin(phi0), np.cos(phi0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(c > 1e-15, north * sin_c / c, 0.0)
    phi = np.arcsin(np.clip(cos_c * sin_phi0 + ratio * cos_phi0, -1.0, 1.0))
    lam = np.arctan2(east * sin_c, c * cos_phi0 * cos_c - north * sin_phi0 * sin_c)
    lam = np.where(c > 1e-15, lam, 0.0)
    return lon0 + np.degrees(lam), np.degrees(phi)
