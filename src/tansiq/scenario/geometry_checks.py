"""Checking the ``geometry`` of a feature and building its shapely geometry.

A geometry is a GeoJSON ``Point``, ``LineString``, ``Polygon`` or
``MultiPolygon`` (RFC 7946) in lon/lat on WGS 84. Positions are ``[lon, lat]``
or ``[lon, lat, height]``; the height is ignored (altitudes are
``properties.altitude_m``), so the shapely geometry is 2D. Winding order is not
checked (RFC 7946 §3.1.6: parsers should not reject a polygon for it).
"""

from __future__ import annotations

import contextlib
import math
import re

import shapely

from tansiq.scenario.geometry_size import (
    MAX_ACROSS_M,
    MAX_SPAN_DEG,
    across_if_too_large,
    covering_arc,
    longitude_interval,
    unwrap_longitudes,
)
from tansiq.scenario.problems import (
    NonFinite,
    Problems,
    Skip,
    describe,
    format_number,
    format_path,
    quote,
    read_number,
)

GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPolygon")
# Past this many bad positions in one geometry (lat/lon swapped, say), the rest are counted.
_MAX_POSITION_PROBLEMS = 10

Path = tuple[str | int, ...]
Position = tuple[float, float]
Ring = list[Position]


def check_geometry(value: object, problems: Problems) -> shapely.Geometry | None:
    """The shapely geometry of a feature's ``geometry`` member, or ``None`` if it breaks a rule.

    Every problem found is added to ``problems``.
    """
    geometry_type = _geometry_type(value, problems)
    if geometry_type is None:
        return None
    assert isinstance(value, dict)
    coordinates = _coordinates(value, problems)
    if coordinates is None:
        return None
    reader = _CoordinateReader(problems)
    geometry = _build(geometry_type, coordinates, reader)
    reader.flush()
    if geometry is None:
        return None
    valid = _check_validity(geometry, problems)
    small_enough = _check_size(geometry, problems)
    return geometry if valid and small_enough else None


def _geometry_type(value: object, problems: Problems) -> str | None:
    if not isinstance(value, dict):
        problems.add("geometry", f"must be a GeoJSON geometry object, got {describe(value)}")
        return None
    if "type" not in value:
        problems.add("geometry.type", "missing (Point, LineString, Polygon or MultiPolygon)")
        return None
    geometry_type = value["type"]
    if not isinstance(geometry_type, str):
        problems.add("geometry.type", f"must be a string, got {describe(geometry_type)}")
        return None
    if geometry_type not in GEOMETRY_TYPES:
        problems.add(
            "geometry.type",
            f"unknown geometry type {quote(geometry_type)} "
            "(must be Point, LineString, Polygon or MultiPolygon)",
        )
        return None
    return geometry_type


def _coordinates(value: dict[str, object], problems: Problems) -> list[object] | None:
    if "coordinates" not in value:
        problems.add("geometry.coordinates", "missing")
        return None
    coordinates = value["coordinates"]
    if isinstance(coordinates, NonFinite):
        return None
    if not isinstance(coordinates, list):
        problems.add("geometry.coordinates", f"must be a list, got {describe(coordinates)}")
        return None
    if not coordinates:
        problems.add("geometry.coordinates", "empty geometry (no coordinates)")
        return None
    return coordinates


def _build(
    geometry_type: str, coordinates: list[object], reader: _CoordinateReader
) -> shapely.Geometry | None:
    path: Path = ("geometry", "coordinates")
    if geometry_type == "Point":
        position = reader.position(coordinates, path)
        return None if position is None else shapely.Point(position)
    if geometry_type == "LineString":
        line = reader.line(coordinates, path)
        return None if line is None else shapely.LineString(line)
    if geometry_type == "Polygon":
        rings = reader.polygon(coordinates, path)
        return None if rings is None else shapely.Polygon(rings[0], rings[1:])
    polygons = reader.multipolygon(coordinates, path)
    if polygons is None:
        return None
    return shapely.MultiPolygon([shapely.Polygon(rings[0], rings[1:]) for rings in polygons])


class _CoordinateReader:
    """Reads nested coordinate lists into positions, recording every structural problem.

    Problems with single positions are capped at ``_MAX_POSITION_PROBLEMS`` per
    geometry, then counted; :meth:`flush` adds them to the feature's problems.
    """

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.position_problems = Problems(problems.prefix)

    def flush(self) -> None:
        shown = self.position_problems.lines[:_MAX_POSITION_PROBLEMS]
        self.problems.lines.extend(shown)
        self.problems.places.extend(self.position_problems.places[: len(shown)])
        hidden = len(self.position_problems) - len(shown)
        if hidden:
            self.problems.add("geometry.coordinates", f"{hidden} more bad positions not listed")

    def position(self, value: object, path: Path) -> Position | None:
        fast = _plain_position(value)
        if fast is not None:
            return fast
        member = format_path(path)
        if isinstance(value, NonFinite):
            return None
        if not isinstance(value, list) or len(value) not in (2, 3):
            self.position_problems.add(
                member,
                f"must be a position [lon, lat] or [lon, lat, height], got {describe(value)}",
            )
            return None
        numbers: list[float] = []
        for axis, item in enumerate(value):
            with contextlib.suppress(Skip):  # recorded in position_problems
                axis_member = format_path((*path, axis))
                numbers.append(read_number(item, axis_member, self.position_problems))
        if len(numbers) != len(value):
            return None
        lon, lat = numbers[0], numbers[1]
        ok = True
        if not -180.0 <= lon <= 180.0:
            self.position_problems.add(
                format_path((*path, 0)),
                f"longitude {format_number(lon)} is out of range [-180, 180]",
            )
            ok = False
        if not -90.0 <= lat <= 90.0:
            self.position_problems.add(
                format_path((*path, 1)), f"latitude {format_number(lat)} is out of range [-90, 90]"
            )
            ok = False
        return (lon, lat) if ok else None

    def positions(self, value: object, path: Path, what: str) -> list[Position] | None:
        """A list of positions (a line or a ring); ``None`` if any of them is bad."""
        if not isinstance(value, list):
            self.problems.add(
                format_path(path), f"must be a {what} (a list of positions), got {describe(value)}"
            )
            return None
        if value and _looks_like_number(value[0]):
            self.problems.add(
                format_path(path), f"must be a {what} (a list of positions), got a single position"
            )
            return None
        positions = [self.position(item, (*path, index)) for index, item in enumerate(value)]
        good = [position for position in positions if position is not None]
        return good if len(good) == len(positions) else None

    def line(self, value: list[object], path: Path) -> list[Position] | None:
        positions = self.positions(value, path, "LineString")
        if len(value) < 2:
            self.problems.add(
                format_path(path), f"a LineString needs at least 2 positions, got {len(value)}"
            )
            return None
        return positions

    def ring(self, value: object, path: Path) -> Ring | None:
        ring = self.positions(value, path, "ring")
        if not isinstance(value, list) or (value and _looks_like_number(value[0])):
            return None  # not a list of positions: reported by positions()
        ok = ring is not None
        if len(value) < 4:
            self.problems.add(
                format_path(path),
                f"ring has {len(value)} positions; a ring needs at least 4 "
                "(the first is repeated at the end)",
            )
            ok = False
        if ring and len(ring) >= 2 and ring[0] != ring[-1]:
            self.problems.add(
                format_path(path),
                f"ring is not closed: the first position {_show(ring[0])} "
                f"is not the last {_show(ring[-1])}",
            )
            ok = False
        return ring if ok else None

    def polygon(self, value: object, path: Path) -> list[Ring] | None:
        if not isinstance(value, list):
            self.problems.add(
                format_path(path), f"must be a Polygon (a list of rings), got {describe(value)}"
            )
            return None
        if not value:
            self.problems.add(format_path(path), "empty polygon (it needs an exterior ring)")
            return None
        if isinstance(value[0], list) and value[0] and _looks_like_number(value[0][0]):
            self.problems.add(
                format_path(path),
                "must be a Polygon (a list of rings), got a list of positions "
                "(a ring is one more level of [ ])",
            )
            return None
        rings = [self.ring(item, (*path, index)) for index, item in enumerate(value)]
        good = [ring for ring in rings if ring is not None]
        return good if len(good) == len(rings) else None

    def multipolygon(self, value: list[object], path: Path) -> list[list[Ring]] | None:
        polygons = [self.polygon(item, (*path, index)) for index, item in enumerate(value)]
        good = [polygon for polygon in polygons if polygon is not None]
        return good if len(good) == len(polygons) else None


def _looks_like_number(value: object) -> bool:
    return isinstance(value, int | float | NonFinite) and not isinstance(value, bool)


def _show(position: Position) -> str:
    return f"[{format_number(position[0])}, {format_number(position[1])}]"


_REASON = re.compile(r"(?P<what>.*?)\[(?P<x>\S+) (?P<y>\S+)\]")


def _explain(reason: str) -> str:
    """GEOS's ``Self-intersection[40.15 35.34]`` as ``self-intersection at [40.15, 35.34]``."""
    match = _REASON.fullmatch(reason)
    if match is None:
        return reason[:1].lower() + reason[1:]
    what = match["what"].strip()
    return f"{what[:1].lower()}{what[1:]} at [{match['x']}, {match['y']}]"


def _check_validity(geometry: shapely.Geometry, problems: Problems) -> bool:
    """Whether a (Multi)Polygon is valid (OGC simple features); record why not."""
    if isinstance(geometry, shapely.Polygon):
        reason = shapely.is_valid_reason(geometry)
        if reason != "Valid Geometry":
            problems.add("geometry", f"polygon is not valid: {_explain(reason)}")
            return False
        return True
    if not isinstance(geometry, shapely.MultiPolygon):
        return True
    ok = True
    for index, part in enumerate(geometry.geoms):
        reason = shapely.is_valid_reason(part)
        if reason != "Valid Geometry":
            member = format_path(("geometry", "coordinates", index))
            problems.add(member, f"polygon is not valid: {_explain(reason)}")
            ok = False
    if ok:
        reason = shapely.is_valid_reason(geometry)
        if reason != "Valid Geometry":
            problems.add(
                "geometry",
                "MultiPolygon is not valid: its polygons overlap or share an edge "
                f"({_explain(reason)})",
            )
            ok = False
    return ok


def _parts(geometry: shapely.Geometry) -> list[tuple[str, shapely.Geometry]]:
    """The connected parts of a geometry, each with the member that holds it."""
    if isinstance(geometry, shapely.MultiPolygon):
        return [
            (format_path(("geometry", "coordinates", index)), part)
            for index, part in enumerate(geometry.geoms)
        ]
    return [("geometry", geometry)]


def _check_size(geometry: shapely.Geometry, problems: Problems) -> bool:
    """Whether ``geometry`` spans at most 180 degrees of longitude and 2,000 km; record why not."""
    if isinstance(geometry, shapely.Point):
        return True
    ok = True
    intervals = []
    for member, part in _parts(geometry):
        low, high = longitude_interval(part)
        intervals.append((low, high))
        if high - low > MAX_SPAN_DEG:
            problems.add(member, _span_problem(high - low))
            ok = False
    if not ok:
        return False
    west, width = covering_arc(intervals)
    if width > MAX_SPAN_DEG:
        problems.add("geometry", _span_problem(width, together=True))
        return False
    across = across_if_too_large(unwrap_longitudes(geometry, west))
    if across is not None:
        problems.lines.append(f"{problems.prefix}{_across_problem(across)}")
        problems.places.append((problems.prefix.removesuffix(": "), "geometry"))
        return False
    return True


def _span_problem(span: float, *, together: bool = False) -> str:
    subject = "its polygons span" if together else "spans"
    return (
        f"{subject} {span:.6g} degrees of longitude; the limit is {MAX_SPAN_DEG:.0f} "
        "(split it, at the antimeridian if it crosses it, as RFC 7946 says)"
    )


def _across_problem(across_m: float) -> str:
    km = f"{across_m / 1000:,.0f}"
    if km == f"{MAX_ACROSS_M / 1000:,.0f}":
        km = f"{across_m / 1000:,.3f}"
    return f"geometry is {km} km across; the limit is {MAX_ACROSS_M / 1000:,.0f} km (split it)"


def _plain_position(value: object) -> Position | None:
    """The common case, checked without building any message: 2 or 3 finite in-range numbers.

    Anything else (or any doubt) returns None and goes through the full check,
    which names the problem.
    """
    if not isinstance(value, list) or len(value) not in (2, 3):
        return None
    try:
        numbers = [float(v) for v in value if type(v) in (int, float)]
    except OverflowError:
        return None
    if len(numbers) != len(value) or not all(math.isfinite(v) for v in numbers):
        return None
    lon, lat = numbers[0], numbers[1]
    if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
        return (lon, lat)
    return None
