"""The validated, in-memory form of a scenario.

Times are seconds since the Unix epoch as floats, with ``-inf``/``+inf`` for an
absent bound; altitudes are metres with ``-inf``/``+inf`` for the whole column.
A float keeps whole seconds exact for any date the format can carry, so the
closed-interval comparisons of the spec stay exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely

UNBOUNDED_LOW = -math.inf
UNBOUNDED_HIGH = math.inf


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    lang: str


@dataclass(frozen=True, slots=True)
class SeparationRule:
    """Minimum distances between two kinds; ``"*"`` matches any kind."""

    between: tuple[str, str]
    horizontal_m: float = 0.0
    vertical_m: float = 0.0
    time_s: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Volume:
    """One feature of a scenario: a footprint, an altitude band and a time window.

    ``geometry`` is the core geometry exactly as given (lon/lat, WGS 84);
    the footprint is every point within ``buffer_m`` of it (``radius_m`` of a
    Point, half the ``width_m`` of a LineString, 0 for polygons).
    """

    id: str
    party: str
    kind: str
    geometry: shapely.Geometry
    buffer_m: float = 0.0
    altitude_low: float = UNBOUNDED_LOW
    altitude_high: float = UNBOUNDED_HIGH
    start: float = UNBOUNDED_LOW
    end: float = UNBOUNDED_HIGH
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    parties: tuple[Party, ...]
    separation: tuple[SeparationRule, ...]
    volumes: tuple[Volume, ...]
    version: int = 1

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)
