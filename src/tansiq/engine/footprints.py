"""Per-volume derived columns the engine works on, built once for many volumes at a time.

A :class:`Footprints` holds, for n volumes: the core geometry put into one
continuous longitude frame (a MultiPolygon split at the antimeridian becomes one
piece spanning ±180) and its outline as flat coordinates, its lon/lat bounds, the
exact Earth-centred box of those bounds, and the volume's altitude band, time
window, party and kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from tansiq.engine.geodesy import FloatArray, ecef_box_of_lonlat_box, ecef_box_of_one
from tansiq.engine.kernel import (
    ALT_HIGH,
    ALT_LOW,
    AREA,
    BOX_MAX,
    BOX_MIN,
    BUFFER,
    CAT_COLUMNS,
    END,
    GTYPE,
    KIND,
    LAT_MAX,
    LAT_MIN,
    LINE,
    LON_MAX,
    LON_MIN,
    NUM_COLUMNS,
    PARTY,
    POINT,
    POLE,
    START,
)
from tansiq.engine.outlines import Outlines, build_outlines
from tansiq.scenario.model import Volume

MULTIPOLYGON = 6  # shapely's type id
NORTH_POLE, SOUTH_POLE = 1, 2


@dataclass(slots=True)
class Footprints:
    """Columns for n volumes (see module docstring). Rows are aligned across all columns.

    ``num`` and ``cat`` hold the numeric and integer columns named in
    :mod:`tansiq.engine.kernel` (row-major, one row per volume, the layout the
    compiled stage reads); the properties below are views of single columns.
    """

    ids: NDArray[np.object_]
    geometry: NDArray[np.object_]
    num: FloatArray
    cat: NDArray[np.int64]
    outlines: Outlines

    def __len__(self) -> int:
        return len(self.num)

    def kernel_side(self) -> KernelSide:
        o = self.outlines
        return (self.num, self.cat, o.xy, o.part_start, o.row_part)

    @property
    def party(self) -> NDArray[np.int64]:
        return self.cat[:, PARTY]

    @property
    def kind(self) -> NDArray[np.int64]:
        return self.cat[:, KIND]

    @property
    def gtype(self) -> NDArray[np.int64]:
        return self.cat[:, GTYPE]

    @property
    def pole(self) -> NDArray[np.int64]:
        return self.cat[:, POLE]

    @property
    def buffer_m(self) -> FloatArray:
        return self.num[:, BUFFER]

    @property
    def alt_low(self) -> FloatArray:
        return self.num[:, ALT_LOW]

    @property
    def alt_high(self) -> FloatArray:
        return self.num[:, ALT_HIGH]

    @property
    def start(self) -> FloatArray:
        return self.num[:, START]

    @property
    def end(self) -> FloatArray:
        return self.num[:, END]

    @property
    def box_min(self) -> FloatArray:
        return self.num[:, BOX_MIN : BOX_MIN + 3]

    @property
    def box_max(self) -> FloatArray:
        return self.num[:, BOX_MAX : BOX_MAX + 3]

    @property
    def lon_min(self) -> FloatArray:
        return self.num[:, LON_MIN]

    @property
    def lon_max(self) -> FloatArray:
        return self.num[:, LON_MAX]

    @property
    def lat_min(self) -> FloatArray:
        return self.num[:, LAT_MIN]

    @property
    def lat_max(self) -> FloatArray:
        return self.num[:, LAT_MAX]

    @property
    def lon_center(self) -> FloatArray:
        centre: FloatArray = (self.lon_min + self.lon_max) / 2
        return centre

    @property
    def lat_center(self) -> FloatArray:
        centre: FloatArray = (self.lat_min + self.lat_max) / 2
        return centre


#: what :func:`tansiq.engine.kernel.judge` reads of one side: num, cat and the outlines
KernelSide = tuple[FloatArray, NDArray[np.int64], FloatArray, NDArray[np.int64], NDArray[np.int64]]


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
    gtype = np.where(type_ids == 0, POINT, np.where(type_ids == 1, LINE, AREA))
    num = np.empty((n, NUM_COLUMNS))
    num[:, [ALT_LOW, ALT_HIGH, START, END, BUFFER]] = np.array(
        [(v.altitude_low, v.altitude_high, v.start, v.end, v.buffer_m) for v in volumes],
        dtype=np.float64,
    ).reshape(n, 5)
    bounds = shapely.bounds(geoms).reshape(n, 4)
    num[:, [LON_MIN, LAT_MIN, LON_MAX, LAT_MAX]] = bounds
    box_min, box_max = ecef_box_of_lonlat_box(
        bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3]
    )
    num[:, BOX_MIN : BOX_MIN + 3] = box_min
    num[:, BOX_MAX : BOX_MAX + 3] = box_max
    cat = np.empty((n, CAT_COLUMNS), dtype=np.int64)
    cat[:, PARTY] = party_codes
    cat[:, KIND] = kind_codes
    cat[:, GTYPE] = gtype
    cat[:, POLE] = np.where(bounds[:, 3] >= 90.0, NORTH_POLE, 0) | np.where(
        bounds[:, 1] <= -90.0, SOUTH_POLE, 0
    )
    return Footprints(ids, geoms, num, cat, build_outlines(geoms, gtype == AREA))


def footprint_of_one(volume: Volume, kind_code: int, party_code: int) -> Footprints:
    """:func:`build_footprints` for one volume, on plain floats.

    ``ConflictIndex.check`` and single adds build one footprint per call; the
    vectorised builder's two dozen numpy calls would cost more than the check.
    """
    geometry = continuous_frame(volume.geometry)
    lon0, lat0, lon1, lat1 = geometry.bounds
    box_lo, box_hi = ecef_box_of_one(lon0, lat0, lon1, lat1)
    num = np.array(
        [[
            volume.altitude_low, volume.altitude_high, volume.start, volume.end, volume.buffer_m,
            *box_lo, *box_hi, lon0, lat0, lon1, lat1,
        ]]
    )  # fmt: skip
    if isinstance(geometry, shapely.Point):
        gtype, rings = POINT, [geometry]
    elif isinstance(geometry, shapely.LineString):
        gtype, rings = LINE, [geometry]
    elif isinstance(geometry, shapely.Polygon):
        gtype, rings = AREA, [geometry.exterior, *geometry.interiors]
    else:
        gtype, rings = AREA, shapely.get_rings(shapely.get_parts(geometry)).tolist()
    pole = (NORTH_POLE if lat1 >= 90.0 else 0) | (SOUTH_POLE if lat0 <= -90.0 else 0)
    cat = np.array([[party_code, kind_code, gtype, pole]], dtype=np.int64)
    if len(rings) == 1:
        xy = shapely.get_coordinates(rings[0])
        part_start = np.array([0, len(xy)], dtype=np.int64)
    else:
        xy, part_of = shapely.get_coordinates(rings, return_index=True)
        part_start = np.zeros(len(rings) + 1, dtype=np.int64)
        np.cumsum(np.bincount(part_of, minlength=len(rings)), out=part_start[1:])
    outlines = Outlines(xy, part_start, np.array([0, len(rings)], dtype=np.int64))
    ids = np.empty(1, dtype=object)
    ids[0] = volume.id
    geometries = np.empty(1, dtype=object)
    geometries[0] = geometry
    return Footprints(ids, geometries, num, cat, outlines)


def continuous_frame(geometry: shapely.Geometry) -> shapely.Geometry:
    """The geometry in one continuous frame of longitudes: see :func:`_continuous_frame`
    (only multi-part geometries can need a shift)."""
    if isinstance(geometry, shapely.MultiPolygon):
        return _continuous_frame(geometry)
    return geometry


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
