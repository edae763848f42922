"""Per-volume derived columns the engine works on, built once for many volumes at a time.

A :class:`Footprints` holds, for n volumes, struct-of-arrays columns: the core
geometry put into one continuous longitude frame (a MultiPolygon split at the
antimeridian becomes one piece spanning ±180), its lon/lat bounds, the exact
Earth-centred box of those bounds, how finely to sample it when locating
closest points, and the volume's altitude band, time window, party and kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import shapely
from numpy.typing import NDArray

from tansiq.engine.geodesy import (
    MEAN_RADIUS,
    FloatArray,
    ecef_box_of_lonlat_box,
)
from tansiq.scenario.model import Volume

POINT, LINE, AREA = 0, 1, 2
MULTIPOLYGON = 6  # shapely's type id
NORTH_POLE, SOUTH_POLE = 1, 2
#: the longest ground length of one degree (of latitude, near the poles), metres
MAX_DEGREE_M = 111_700.0
#: how far, at most, a sampled chord may stray from the true edge while locating closest points
SAMPLING_SAGITTA_M = 0.05


@dataclass(slots=True)
class Cores:
    """The columns that the horizontal distance needs: the core geometry and its bounds."""

    geometry: NDArray[np.object_]
    gtype: NDArray[np.int8]
    pole: NDArray[np.int8]
    lon_min: FloatArray
    lat_min: FloatArray
    lon_max: FloatArray
    lat_max: FloatArray
    step_deg: FloatArray

    @staticmethod
    def gather(source: Cores, rows: NDArray[np.int64]) -> Cores:
        """Just these columns, for ``rows`` of ``source`` (Cores or Footprints)."""
        return Cores(*[getattr(source, name)[rows] for name in CORE_COLUMNS])

    def take(self, rows: NDArray[np.int64]) -> Cores:
        return Cores.gather(self, rows)

    def __len__(self) -> int:
        return len(self.geometry)

    @property
    def lon_center(self) -> FloatArray:
        return (self.lon_min + self.lon_max) / 2

    @property
    def lat_center(self) -> FloatArray:
        return (self.lat_min + self.lat_max) / 2


@dataclass(slots=True)
class Footprints(Cores):
    """Columns for n volumes (see module docstring). Rows are aligned across all columns."""

    ids: NDArray[np.object_]
    party: NDArray[np.int64]
    kind: NDArray[np.int64]
    buffer_m: FloatArray
    alt_low: FloatArray
    alt_high: FloatArray
    start: FloatArray
    end: FloatArray
    box_min: FloatArray
    box_max: FloatArray

    def take(self, rows: NDArray[np.int64] | slice) -> Footprints:
        return Footprints(*[getattr(self, name)[rows] for name in COLUMNS])

    def put(self, rows: NDArray[np.int64] | slice, values: Footprints) -> None:
        """Overwrite ``rows`` with the rows of ``values``, column by column."""
        for name in COLUMNS:
            getattr(self, name)[rows] = getattr(values, name)

    @staticmethod
    def concat(parts: Sequence[Footprints]) -> Footprints:
        return Footprints(*[np.concatenate([getattr(p, name) for p in parts]) for name in COLUMNS])


CORE_COLUMNS = tuple(f.name for f in fields(Cores))
COLUMNS = tuple(f.name for f in fields(Footprints))


def build_footprints(
    volumes: Sequence[Volume], kind_codes: NDArray[np.int64], party_codes: NDArray[np.int64]
) -> Footprints:
    n = len(volumes)
    geoms = np.empty(n, dtype=object)
    geoms[:] = [v.geometry for v in volumes]
    multi = np.flatnonzero(shapely.get_type_id(geoms) == MULTIPOLYGON)
    for row in multi.tolist():
        geoms[row] = _continuous_frame(geoms[row])
    ids = np.empty(n, dtype=object)
    ids[:] = [v.id for v in volumes]
    type_ids = shapely.get_type_id(geoms)
    gtype = np.where(type_ids == 0, POINT, np.where(type_ids == 1, LINE, AREA)).astype(np.int8)
    bounds = shapely.bounds(geoms).reshape(n, 4)
    lon_min, lat_min, lon_max, lat_max = (bounds[:, i].copy() for i in range(4))
    pole = (
        np.where(lat_max >= 90.0, NORTH_POLE, 0) | np.where(lat_min <= -90.0, SOUTH_POLE, 0)
    ).astype(np.int8)
    box_min, box_max = ecef_box_of_lonlat_box(lon_min, lat_min, lon_max, lat_max)
    return Footprints(
        ids=ids,
        party=np.asarray(party_codes, dtype=np.int64),
        kind=np.asarray(kind_codes, dtype=np.int64),
        buffer_m=np.array([v.buffer_m for v in volumes], dtype=np.float64),
        alt_low=np.array([v.altitude_low for v in volumes], dtype=np.float64),
        alt_high=np.array([v.altitude_high for v in volumes], dtype=np.float64),
        start=np.array([v.start for v in volumes], dtype=np.float64),
        end=np.array([v.end for v in volumes], dtype=np.float64),
        geometry=geoms,
        gtype=gtype,
        pole=pole,
        lon_min=lon_min,
        lat_min=lat_min,
        lon_max=lon_max,
        lat_max=lat_max,
        step_deg=_sampling_step_deg(lon_min, lat_min, lon_max, lat_max),
        box_min=box_min,
        box_max=box_max,
    )


def _sampling_step_deg(
    lon_min: FloatArray, lat_min: FloatArray, lon_max: FloatArray, lat_max: FloatArray
) -> FloatArray:
    """Longest piece, in degrees, when sampling edges to locate closest points.

    An edge straight in lon/lat is a curve on the ground (a parallel's geodesic
    curvature is tan φ / R, plus what the projection adds): pieces are short enough
    that a chord strays at most ``SAMPLING_SAGITTA_M`` from the true edge, which
    bounds how much the located closest points can miss the true minimum by.
    """
    abs_lat = np.minimum(np.maximum(np.abs(lat_min), np.abs(lat_max)), 89.9999)
    curvature = (np.tan(np.radians(abs_lat)) + 1.0) / MEAN_RADIUS
    step_m = np.sqrt(8 * SAMPLING_SAGITTA_M / curvature)
    result: FloatArray = step_m / MAX_DEGREE_M
    return result


def _continuous_frame(geometry: shapely.Geometry) -> shapely.Geometry:
    """Shift the parts of a multi-part geometry by 360° so that it is one continuous piece.

    RFC 7946 splits a shape that crosses the antimeridian into parts on each side
    (say [179, 180] and [-180, -179]); the scenario reader has checked that the
    parts fit in an arc of at most 180°. Single-part geometries are taken literally:
    their edges are straight in lon/lat, so an edge from 179 to -179 goes the long way.
    """
    parts = list(shapely.get_parts(geometry))
    bounds = shapely.bounds(parts)
    lo, hi = bounds[:, 0], bounds[:, 2]
    if hi.max() - lo.min() <= 180.0:
        return geometry
    # the arc that holds every part starts after the widest empty gap on the circle
    order = np.argsort(lo)
    lo_s, hi_s = lo[order], hi[order]
    reach = np.maximum.accumulate(hi_s)
    gaps = np.append(lo_s[1:] - reach[:-1], lo_s[0] + 360.0 - reach[-1])
    start = lo_s[(int(np.argmax(gaps)) + 1) % len(lo_s)]
    shifted = [
        shapely.transform(p, lambda c: c + np.array([360.0, 0.0])) if b[0] < start else p
        for p, b in zip(parts, bounds, strict=True)
    ]
    # union: the two halves that met at ±180 become one polygon again
    return shapely.union_all(shifted)
