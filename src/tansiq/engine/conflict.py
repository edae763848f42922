"""A conflict between two volumes, and what it discloses of each."""

from __future__ import annotations

from typing import NamedTuple

import shapely

from tansiq.scenario.model import Volume


class Conflict(NamedTuple):
    """Two volumes of different parties closer than their separation.

    ``a < b`` as strings. Each gap is 0 where the two overlap in that dimension.
    ``horizontal_m``, ``vertical_m`` and ``time_s`` are the separation that applied.
    An immutable record (a named tuple: a check can return hundreds, and a theater
    millions, so it is the cheapest immutable object Python makes).
    """

    a: str
    b: str
    horizontal_distance_m: float
    vertical_gap_m: float
    time_gap_s: float
    horizontal_m: float
    vertical_m: float
    time_s: float
    volume_a: Volume
    volume_b: Volume

    @property
    def window(self) -> tuple[float, float]:
        """When the conflict is: the common time of both windows, or the gap between them."""
        start = max(self.volume_a.start, self.volume_b.start)
        end = min(self.volume_a.end, self.volume_b.end)
        return (min(start, end), max(start, end))

    def overlap_regions(self) -> tuple[shapely.Geometry, shapely.Geometry]:
        """The part of a's footprint within the separation of b's, and the reverse (lon/lat).

        This is what a party may later be shown of the other's volume. Computed on
        demand (it costs a buffer and an intersection), see :mod:`tansiq.engine.region`.
        """
        from tansiq.engine.region import overlap_regions

        return overlap_regions(self.volume_a, self.volume_b, self.horizontal_m)

    def as_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "horizontal_distance_m": self.horizontal_distance_m,
            "vertical_gap_m": self.vertical_gap_m,
            "time_gap_s": self.time_gap_s,
        }
