"""How far a conflict's regions move when a corridor's far end, beyond the zone it
crosses, moves: drawing noise, which ``service/same_drawing.py`` must absorb.

    cd bench && ../.venv/bin/python drawing_noise.py

Blue's zone is a 2 km disc about (40, 35); red's 200 m convoy route runs east along
35° N from 39.97 (inside the zone from 39.978) to 40.07. The route's far end is then
moved further east, step by step, and the conflict's regions are drawn again (as a
replacement draws them): printed, for each, how far the far end moved, the Hausdorff
distance between the drawings (metres, at 111 km a degree) and whether the service
kept the stored regions (the conflict's version unchanged).

Then what comparing a large region costs under the theater's lock (the cycle
collector paused, as there): a ``--vertices`` ring moved by 3e-6°, compared with
``same_drawing.alike`` vertex for vertex, and drawn with two vertices fewer (so
compared by covering); beside it, in the same run, what 1aebcb0 did for each
(the extent read from the stored text, then the buffers). Best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from tansiq.service import parties
from tansiq.service.geojson_text import region_geojson
from tansiq.service.same_drawing import DRAWING_NOISE_DEG, alike
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore, extents

MORNING = "2017-09-16T{}:00:00Z"
START_S = 1505520000.0  # 2017-09-16T00:00:00Z
METRES_A_DEGREE = 111_000.0


def feature_body(feature: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def zone() -> str:
    return feature_body({
        "type": "Feature", "id": "area",
        "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
        "properties": {"kind": "area", "radius_m": 2000.0, "altitude_m": [0.0, 3000.0],
                       "start": MORNING.format("06"), "end": MORNING.format("18")},
    })  # fmt: skip


def route(east: float) -> str:
    return feature_body({
        "type": "Feature", "id": "route",
        "geometry": {"type": "LineString", "coordinates": [[39.97, 35.0], [east, 35.0]]},
        "properties": {"kind": "convoy", "width_m": 200.0, "altitude_m": [0.0, 1000.0],
                       "start": MORNING.format("06"), "end": MORNING.format("18")},
    })  # fmt: skip


def apart_m(first: str, second: str) -> float:
    a, b = shapely.from_geojson([first, second])
    return float(shapely.hausdorff_distance(a, b, densify=0.05)) * METRES_A_DEGREE


def as_at_1aebcb0(first: str, second: str) -> bool:
    """The comparison as 1aebcb0 made it: the stored text's extent, then buffers."""
    extents.of_regions(first)
    a, b = shapely.from_geojson(first), shapely.from_geojson(second)
    wa, wb = shapely.buffer([a, b], DRAWING_NOISE_DEG, quad_segs=2)
    return bool(shapely.covers(wa, b) and shapely.covers(wb, a))


def best_ms(calls: list[Callable[[], bool]], repeat: int) -> list[float]:
    """Each call's best time of ``repeat``, ms, the calls taken in turn (a slow spell
    of the machine then slows each alike)."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, taken in zip(calls, times, strict=True):
            started = time.perf_counter()
            assert call()
            taken.append(time.perf_counter() - started)
    return [min(taken) * 1e3 for taken in times]


def large_regions(vertices: int, repeat: int) -> None:
    turns = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    radius = 0.02 * (1 + 0.05 * np.sin(37 * turns))
    ring = np.c_[40 + radius * np.cos(turns), 35 + radius * np.sin(turns)]
    stored = region_geojson(shapely.Polygon(ring))
    moved = region_geojson(shapely.Polygon(ring + 3e-6))
    fewer = region_geojson(shapely.Polygon((ring + 3e-6)[1:-1]))
    gc.disable()
    for name, other in (("vertex for vertex", moved), ("two vertices fewer", fewer)):
        calls = [alike, as_at_1aebcb0]
        now, then = best_ms([functools.partial(call, stored, other) for call in calls], repeat)
        print(f"{vertices:,} vertices, {name}: alike {now:.1f} ms, as at 1aebcb0"
              f" {then:.1f} ms, ratio {now / then:.2f}")  # fmt: skip
    gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    noise_of_far_ends()
    large_regions(args.vertices, args.repeat)


def noise_of_far_ends() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "tansiq.db")
        red = parties.add_party(store, "red", "Red", "en")[0]
        blue = parties.add_party(store, "blue", "Blue", "en")[0]
        theater = Theater(store, clock=lambda: START_S)
        theater.file(blue, "zone", zone())
        filed = theater.file(red, "operation", route(40.07))
        (first,) = filed.conflicts
        for version, east in enumerate((40.2, 40.6, 41.0, 42.0, 43.0, 45.0, 48.0), start=1):
            (kept,) = theater.replace(red, filed.filing.id, version, route(east)).conflicts
            volumes = theater.volumes("red", filed.filing.id, route(east))
            ((_, _, judged),) = theater._pairs_of(volumes, START_S)
            drawn_a, drawn_b, _ = theater._region_texts(judged)
            if judged.a != first.volume_a:
                drawn_a, drawn_b = drawn_b, drawn_a
            moved = max(
                apart_m(first.region_a or "", drawn_a), apart_m(first.region_b or "", drawn_b)
            )
            print(f"far end moved {(east - 40.07) * 91.2:5.0f} km: regions drawn {moved:.3f} m"
                  f" from the first; stored kept: {kept.version == first.version}")  # fmt: skip
        store.close()


if __name__ == "__main__":
    main()
