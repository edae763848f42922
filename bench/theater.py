"""A deterministic synthetic theater over Syria and Iraq, for benchmarks.

``make_theater(n, seed)`` returns a :class:`~tansiq.scenario.model.Scenario` of
``n`` volumes filed by six parties. Everything is drawn with one seeded numpy
generator and the geometries are built with shapely's vectorised constructors,
so the same ``(n, seed, first_id)`` always gives the same theater and a million
volumes take seconds, not minutes.

The mix, chosen to look like a week of operations in 2017:

* positions: 80 % uniform over lon 35..48, lat 29..38, 20 % around a dozen
  hotspots (Aleppo, Idlib, Raqqa, Deir ez-Zor, Mosul, ...), Gaussian with a
  0.6 degree standard deviation, clipped to the box;
* footprints: the size across is log-uniform from 50 m to 40 km. A Point is a
  disc of that diameter (``radius_m``); a LineString is a 2..10-vertex route of
  that length with a corridor ``width_m`` log-uniform from 50 m to
  min(3 km, length); a Polygon is a 4..12-vertex perturbed ellipse of that
  major axis (star-shaped around its centre, hence valid and simple, wound
  counter-clockwise). The geometry type depends on the kind (a convoy is mostly
  a route, a protected site mostly a disc), about 60/20/20 overall;
* time: start uniform in the week of 2017-09-11, duration log-uniform from
  30 min to 12 h, whole seconds; 5 % of protected sites and partner positions
  are unbounded in time;
* altitude: air kinds get a band (air strikes and no-fly zones: lower
  0..2000 m, upper 3000..12000 m; air patrols and drone flights a thinner band
  so that vertical separations matter), ground kinds the whole column.

``write_geojson(scenario, path)`` saves a theater as a scenario-v1 file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from tansiq.scenario.model import Party, Scenario, SeparationRule, Volume

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LON_RANGE = (35.0, 48.0)
LAT_RANGE = (29.0, 38.0)
WEEK_START = datetime(2017, 9, 11, tzinfo=UTC).timestamp()
WEEK_S = 7 * 24 * 3600
SIZE_RANGE_M = (50.0, 40_000.0)
DURATION_RANGE_S = (1800.0, 12 * 3600.0)
HOTSPOT_FRACTION = 0.2
HOTSPOT_SIGMA_DEG = 0.6
UNBOUNDED_TIME_FRACTION = 0.05

# Metres per degree of latitude, and of longitude at the equator (WGS 84, rounded).
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 111_320.0

PARTIES: tuple[Party, ...] = (
    Party("coalition", "Coalition", "en"),
    Party("ru", "Russian forces", "ru"),
    Party("sy", "القوات السورية", "ar"),
    Party("tr", "Türk Silahlı Kuvvetleri", "tr"),
    Party("un", "United Nations", "en"),
    Party("ngo", "منظمة إنسانية", "ar"),
)
PARTY_WEIGHTS = np.array([0.30, 0.22, 0.20, 0.12, 0.08, 0.08])

KINDS: tuple[str, ...] = (
    "air_strike",
    "air_patrol",
    "artillery",
    "ground_movement",
    "river_crossing",
    "convoy",
    "drone_flight",
    "protected_site",
    "partner_position",
    "no_fly_zone",
)
AIR_KINDS = frozenset({"air_strike", "air_patrol", "drone_flight", "no_fly_zone"})
TIMELESS_KINDS = frozenset({"protected_site", "partner_position"})

# P(kind | party), rows in PARTIES order, columns in KINDS order (normalised below).
_KIND_GIVEN_PARTY = np.array(
    [
        # strike patrol arty  ground river convoy drone prot  partner nfz
        [0.16, 0.12, 0.08, 0.10, 0.03, 0.08, 0.14, 0.08, 0.18, 0.03],  # coalition
        [0.20, 0.12, 0.10, 0.10, 0.03, 0.08, 0.12, 0.08, 0.14, 0.03],  # ru
        [0.10, 0.06, 0.18, 0.20, 0.05, 0.12, 0.06, 0.08, 0.14, 0.01],  # sy
        [0.10, 0.08, 0.14, 0.16, 0.02, 0.10, 0.12, 0.06, 0.20, 0.02],  # tr
        [0.00, 0.00, 0.00, 0.08, 0.04, 0.30, 0.04, 0.50, 0.00, 0.04],  # un
        [0.00, 0.00, 0.00, 0.06, 0.04, 0.40, 0.00, 0.50, 0.00, 0.00],  # ngo
    ]
)
KIND_GIVEN_PARTY = _KIND_GIVEN_PARTY / _KIND_GIVEN_PARTY.sum(axis=1, keepdims=True)

POINT, LINE, POLYGON = 0, 1, 2
# P(geometry type | kind), columns Point, LineString, Polygon.
GEOMETRY_GIVEN_KIND = np.array(
    [
        [0.60, 0.05, 0.35],  # air_strike
        [0.30, 0.40, 0.30],  # air_patrol
        [0.80, 0.00, 0.20],  # artillery
        [0.45, 0.45, 0.10],  # ground_movement
        [0.80, 0.20, 0.00],  # river_crossing
        [0.35, 0.65, 0.00],  # convoy
        [0.50, 0.30, 0.20],  # drone_flight
        [0.85, 0.00, 0.15],  # protected_site
        [0.75, 0.00, 0.25],  # partner_position
        [0.30, 0.00, 0.70],  # no_fly_zone
    ]
)

# (name, lon, lat)
HOTSPOTS: tuple[tuple[str, float, float], ...] = (
    ("Aleppo", 37.16, 36.20),
    ("Idlib", 36.63, 35.93),
    ("Afrin", 36.87, 36.51),
    ("Manbij", 37.95, 36.53),
    ("Raqqa", 39.01, 35.95),
    ("Palmyra", 38.27, 34.56),
    ("Deir ez-Zor", 40.14, 35.33),
    ("Abu Kamal", 40.92, 34.45),
    ("Hasakah", 40.75, 36.50),
    ("Mosul", 43.13, 36.34),
    ("Tal Afar", 42.45, 36.37),
    ("Ramadi", 43.30, 33.42),
)

SEPARATION: tuple[SeparationRule, ...] = (
    SeparationRule(("*", "*"), 0.0, 0.0, 0.0),
    SeparationRule(("air_strike", "protected_site"), horizontal_m=3000.0),
    SeparationRule(("artillery", "protected_site"), horizontal_m=2000.0),
    SeparationRule(("air_strike", "partner_position"), horizontal_m=1000.0, time_s=1800.0),
    SeparationRule(("artillery", "partner_position"), horizontal_m=1000.0),
    SeparationRule(("air_strike", "convoy"), horizontal_m=1000.0, time_s=600.0),
    SeparationRule(("air_strike", "air_patrol"), vertical_m=300.0, time_s=900.0),
    SeparationRule(("drone_flight", "air_patrol"), vertical_m=150.0),
    SeparationRule(("drone_flight", "drone_flight"), vertical_m=100.0, time_s=300.0),
)


@dataclass(frozen=True, slots=True)
class TheaterArrays:
    """The columns a theater is built from (handy for vectorised baselines)."""

    party: IntArray
    kind: IntArray
    gtype: IntArray
    geometry: npt.NDArray[np.object_]
    buffer_m: FloatArray
    altitude_low: FloatArray
    altitude_high: FloatArray
    start: FloatArray
    end: FloatArray


def _log_uniform(
    rng: np.random.Generator, low: float | FloatArray, high: float | FloatArray, size: int
) -> FloatArray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _categorical(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One draw per row of ``probs`` (rows sum to 1), vectorised."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1))
    out: IntArray = np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return out


def _to_lonlat(
    lon0: FloatArray, lat0: FloatArray, dx: FloatArray, dy: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Offsets in metres around (lon0, lat0) to lon/lat: a per-feature affine map."""
    lon = lon0 + dx / (M_PER_DEG_LON * np.cos(np.radians(lat0)))
    lat = lat0 + dy / M_PER_DEG_LAT
    return lon, lat


def _centres(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    lon = rng.uniform(*LON_RANGE, n)
    lat = rng.uniform(*LAT_RANGE, n)
    hot = rng.random(n) < HOTSPOT_FRACTION
    k = int(hot.sum())
    spots = np.array([(x, y) for _, x, y in HOTSPOTS])
    which = rng.integers(0, len(HOTSPOTS), k)
    lon[hot] = spots[which, 0] + rng.normal(0.0, HOTSPOT_SIGMA_DEG, k)
    lat[hot] = spots[which, 1] + rng.normal(0.0, HOTSPOT_SIGMA_DEG, k)
    # Keep every footprint (at most 20 km from its centre) inside the box.
    margin = 0.25
    np.clip(lon, LON_RANGE[0] + margin, LON_RANGE[1] - margin, out=lon)
    np.clip(lat, LAT_RANGE[0] + margin, LAT_RANGE[1] - margin, out=lat)
    return lon, lat


def _lines(
    rng: np.random.Generator, lon0: FloatArray, lat0: FloatArray, length: FloatArray
) -> npt.NDArray[np.object_]:
    """Routes: a random walk of 2..10 vertices, turns within +-40 degrees."""
    m = len(lon0)
    if m == 0:
        return np.empty(0, dtype=object)
    nv = rng.integers(2, 11, m)
    owner = np.repeat(np.arange(m), nv)
    first = np.cumsum(nv) - nv  # index of each line's first vertex
    pos = np.arange(len(owner)) - first[owner]  # vertex number within its line
    heading0 = rng.uniform(0.0, 2 * math.pi, m)
    turn = rng.uniform(-math.radians(40), math.radians(40), len(owner))
    turn[pos == 0] = 0.0
    heading = heading0[owner] + _segmented_cumsum(turn, first, owner)
    step = (length / (nv - 1))[owner]
    step[pos == 0] = 0.0  # the first vertex is the start
    dx = _segmented_cumsum(step * np.cos(heading), first, owner)
    dy = _segmented_cumsum(step * np.sin(heading), first, owner)
    # Centre each route on its drawn position.
    dx -= (np.bincount(owner, dx, m) / nv)[owner]
    dy -= (np.bincount(owner, dy, m) / nv)[owner]
    lon, lat = _to_lonlat(lon0[owner], lat0[owner], dx, dy)
    geoms: npt.NDArray[np.object_] = shapely.linestrings(np.column_stack([lon, lat]), indices=owner)
    return geoms


def _polygons(
    rng: np.random.Generator, lon0: FloatArray, lat0: FloatArray, across: FloatArray
) -> npt.NDArray[np.object_]:
    """Perturbed ellipses: strictly increasing angles, gaps below pi, so simple."""
    m = len(lon0)
    if m == 0:
        return np.empty(0, dtype=object)
    nv = rng.integers(4, 13, m)
    owner = np.repeat(np.arange(m), nv)
    first = np.cumsum(nv) - nv
    pos = np.arange(len(owner)) - first[owner]
    sector = 2 * math.pi / nv[owner]
    angle = (pos + rng.uniform(-0.35, 0.35, len(owner))) * sector
    a = (across / 2)[owner]
    b = (across / 2 * rng.uniform(0.3, 1.0, m))[owner]
    radius = rng.uniform(0.75, 1.0, len(owner))
    ex = a * radius * np.cos(angle)
    ey = b * radius * np.sin(angle)
    rot = rng.uniform(0.0, math.pi, m)[owner]
    dx = ex * np.cos(rot) - ey * np.sin(rot)
    dy = ex * np.sin(rot) + ey * np.cos(rot)
    lon, lat = _to_lonlat(lon0[owner], lat0[owner], dx, dy)
    rings = shapely.linearrings(np.column_stack([lon, lat]), indices=owner)
    geoms: npt.NDArray[np.object_] = shapely.polygons(rings)
    return geoms


def _segmented_cumsum(values: FloatArray, first: IntArray, owner: IntArray) -> FloatArray:
    """Cumulative sum that restarts at each segment's first element."""
    total = np.cumsum(values)
    before = total[first] - values[first]  # the running sum just before each segment
    out: FloatArray = total - before[owner]
    return out


def theater_arrays(n: int, seed: int = 0) -> TheaterArrays:
    """Draw the columns of a theater of ``n`` volumes."""
    rng = np.random.default_rng(seed)
    party = rng.choice(len(PARTIES), size=n, p=PARTY_WEIGHTS).astype(np.int64)
    kind = _categorical(rng, KIND_GIVEN_PARTY[party])
    gtype = _categorical(rng, GEOMETRY_GIVEN_KIND[kind])
    lon0, lat0 = _centres(rng, n)
    across = _log_uniform(rng, *SIZE_RANGE_M, n)

    geometry = np.empty(n, dtype=object)
    buffer_m = np.zeros(n)
    is_point = gtype == POINT
    geometry[is_point] = shapely.points(lon0[is_point], lat0[is_point])
    # A radius or width that is a whole number of metres keeps the file exact.
    buffer_m[is_point] = np.maximum(np.round(across[is_point] / 2), 1.0)

    is_line = gtype == LINE
    length = across[is_line]
    high = np.clip(length, 50.0, 3000.0)
    width = np.round(_log_uniform(rng, 50.0, high, int(is_line.sum())))
    geometry[is_line] = _lines(rng, lon0[is_line], lat0[is_line], length)
    buffer_m[is_line] = width / 2

    is_poly = gtype == POLYGON
    geometry[is_poly] = _polygons(rng, lon0[is_poly], lat0[is_poly], across[is_poly])

    kinds = np.array(KINDS)
    air = np.isin(kinds[kind], sorted(AIR_KINDS))
    altitude_low = np.full(n, -math.inf)
    altitude_high = np.full(n, math.inf)
    broad = air & np.isin(kinds[kind], ["air_strike", "no_fly_zone"])
    altitude_low[broad] = np.round(rng.uniform(0.0, 2000.0, int(broad.sum())), -1)
    altitude_high[broad] = np.round(rng.uniform(3000.0, 12000.0, int(broad.sum())), -1)
    patrol = kinds[kind] == "air_patrol"
    low = np.round(rng.uniform(1500.0, 9000.0, int(patrol.sum())), -1)
    altitude_low[patrol] = low
    altitude_high[patrol] = low + np.round(rng.uniform(300.0, 3000.0, len(low)), -1)
    drone = kinds[kind] == "drone_flight"
    low = np.round(rng.uniform(0.0, 3000.0, int(drone.sum())), -1)
    altitude_low[drone] = low
    altitude_high[drone] = low + np.round(rng.uniform(100.0, 1500.0, len(low)), -1)

    start = WEEK_START + np.floor(rng.uniform(0.0, WEEK_S, n))
    end = start + np.round(_log_uniform(rng, *DURATION_RANGE_S, n))
    timeless = np.isin(kinds[kind], sorted(TIMELESS_KINDS)) & (
        rng.random(n) < UNBOUNDED_TIME_FRACTION
    )
    start[timeless] = -math.inf
    end[timeless] = math.inf

    return TheaterArrays(
        party=party,
        kind=kind,
        gtype=gtype,
        geometry=geometry,
        buffer_m=buffer_m,
        altitude_low=altitude_low,
        altitude_high=altitude_high,
        start=start,
        end=end,
    )


def make_volumes(n: int, seed: int = 0, first_id: int = 0) -> tuple[Volume, ...]:
    """``n`` volumes with ids ``<party>-<number>``, numbered from ``first_id``."""
    cols = theater_arrays(n, seed)
    party_ids = [p.id for p in PARTIES]
    parties = [party_ids[i] for i in cols.party.tolist()]
    kinds = [KINDS[i] for i in cols.kind.tolist()]
    ids = [f"{p}-{i:07d}" for p, i in zip(parties, range(first_id, first_id + n), strict=True)]
    return tuple(
        map(
            Volume,
            ids,
            parties,
            kinds,
            cols.geometry.tolist(),
            cols.buffer_m.tolist(),
            cols.altitude_low.tolist(),
            cols.altitude_high.tolist(),
            cols.start.tolist(),
            cols.end.tolist(),
        )
    )


def make_theater(n: int, seed: int = 0, first_id: int = 0) -> Scenario:
    """A deterministic synthetic theater of ``n`` volumes over Syria and Iraq."""
    return Scenario(
        name=f"Synthetic theater, {n} volumes, seed {seed}",
        parties=PARTIES,
        separation=SEPARATION,
        volumes=make_volumes(n, seed, first_id),
    )


def _instant(t: float) -> str | None:
    if math.isinf(t):
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _feature_properties(v: Volume) -> dict[str, Any]:
    props: dict[str, Any] = {"party": v.party, "kind": v.kind}
    gtype = v.geometry.geom_type
    if gtype == "Point" and v.buffer_m:
        props["radius_m"] = v.buffer_m
    elif gtype == "LineString" and v.buffer_m:
        props["width_m"] = v.buffer_m * 2
    if not (math.isinf(v.altitude_low) and math.isinf(v.altitude_high)):
        props["altitude_m"] = [v.altitude_low, v.altitude_high]
    start, end = _instant(v.start), _instant(v.end)
    if start is not None:
        props["start"] = start
    if end is not None:
        props["end"] = end
    props.update(v.properties)
    return props


def write_geojson(scenario: Scenario, path: str | Path) -> None:
    """Save ``scenario`` as a scenario-v1 GeoJSON file (streamed; slow-ish at 1M)."""
    header = {
        "type": "FeatureCollection",
        "tansiq": {
            "version": scenario.version,
            "name": scenario.name,
            "parties": [{"id": p.id, "name": p.name, "lang": p.lang} for p in scenario.parties],
            "separation": [
                {
                    "between": list(r.between),
                    "horizontal_m": r.horizontal_m,
                    "vertical_m": r.vertical_m,
                    "time_s": r.time_s,
                }
                for r in scenario.separation
            ],
        },
    }
    head = json.dumps(header, ensure_ascii=False)
    assert head.endswith("}")
    volumes: Sequence[Volume] = scenario.volumes
    chunk = 50_000
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(head[:-1] + ', "features": [\n')
        for lo in range(0, len(volumes), chunk):
            part = volumes[lo : lo + chunk]
            geojson = shapely.to_geojson(np.array([v.geometry for v in part], dtype=object))
            for i, (v, g) in enumerate(zip(part, geojson.tolist(), strict=True)):
                sep = ",\n" if lo + i else ""
                ident = json.dumps(v.id, ensure_ascii=False)
                props = json.dumps(_feature_properties(v), ensure_ascii=False)
                out.write(
                    f'{sep}{{"type": "Feature", "id": {ident}, "geometry": {g}, '
                    f'"properties": {props}}}'
                )
        out.write("\n]}\n")


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Generate a synthetic theater.")
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="write a scenario-v1 GeoJSON file")
    args = parser.parse_args()
    t0 = time.perf_counter()
    scenario = make_theater(args.n, args.seed)
    print(f"{len(scenario.volumes)} volumes in {time.perf_counter() - t0:.2f} s")
    if args.output:
        t0 = time.perf_counter()
        write_geojson(scenario, args.output)
        print(f"wrote {args.output} in {time.perf_counter() - t0:.2f} s")
