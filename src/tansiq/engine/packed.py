"""Footprints as bytes, one volume at a time, and back to columns in one go.

The service keeps every active volume's footprint in its store, so that a
restart reads columns instead of re-parsing and re-validating every filing's
GeoJSON (at a million volumes that is minutes; reading the bytes is seconds).
Kind and party are kept as names, not as the codes in the ``cat`` columns: the
codes depend on the separation rules and on the order parties were first seen.

The layout is numpy's native one (little-endian float64 and int32 on every
platform Tansiq runs on); a store is not meant to move between architectures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.footprints import Footprints
from tansiq.engine.kernel import CAT_COLUMNS, GTYPE, KIND, NUM_COLUMNS, PARTY, POLE
from tansiq.engine.outlines import Outlines

#: a packed row: the ``num`` columns, then the geometry type and pole flags (small
#: integers, exact as float64: one blob to read instead of three columns)
PACKED_COLUMNS = NUM_COLUMNS + 2


@dataclass(frozen=True, slots=True)
class PackedFootprint:
    """One volume's footprint: its ``num`` row with geometry type and pole flags
    appended, and its outline (positions as float64 pairs, part lengths as int32)."""

    num: bytes
    xy: bytes
    parts: bytes


def pack(fp: Footprints) -> list[PackedFootprint]:
    """Each row of ``fp`` as bytes."""
    o = fp.outlines
    out = []
    for row in range(len(fp)):
        first, last = int(o.row_part[row]), int(o.row_part[row + 1])
        lo, hi = int(o.part_start[first]), int(o.part_start[last])
        lengths = np.diff(o.part_start[first : last + 1]).astype(np.int32)
        num = np.append(fp.num[row], (fp.cat[row, GTYPE], fp.cat[row, POLE]))
        out.append(
            PackedFootprint(
                num.tobytes(), np.ascontiguousarray(o.xy[lo:hi]).tobytes(), lengths.tobytes()
            )
        )
    return out


def unpack(
    ids: Sequence[str],
    nums: Sequence[bytes],
    xys: Sequence[bytes],
    parts: Sequence[bytes],
    kind_codes: NDArray[np.int64],
    party_codes: NDArray[np.int64],
) -> Footprints:
    """The :class:`Footprints` of packed rows, given as columns (the fields of
    :class:`PackedFootprint`), without their shapely geometries: only the vectorised
    builder and overlap regions use those, not the index or the check."""
    n = len(nums)
    packed = np.frombuffer(b"".join(nums), dtype=np.float64).reshape(n, PACKED_COLUMNS)
    cat = np.empty((n, CAT_COLUMNS), dtype=np.int64)
    cat[:, PARTY] = party_codes
    cat[:, KIND] = kind_codes
    cat[:, GTYPE] = packed[:, NUM_COLUMNS]
    cat[:, POLE] = packed[:, NUM_COLUMNS + 1]
    xy = np.frombuffer(b"".join(xys), dtype=np.float64).reshape(-1, 2)
    lengths = np.frombuffer(b"".join(parts), dtype=np.int32)
    parts_per_row = np.fromiter(map(len, parts), dtype=np.int64, count=n) // 4
    row_part = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(parts_per_row, out=row_part[1:])
    part_start = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=part_start[1:])
    id_column = np.empty(n, dtype=object)
    id_column[:] = ids
    return Footprints(
        id_column,
        np.full(n, None, dtype=object),
        np.ascontiguousarray(packed[:, :NUM_COLUMNS]),
        cat,
        Outlines(np.array(xy), part_start, row_part),
    )
