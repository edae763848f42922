"""Whether the time of a 404 tells another party's large filing from a made-up id.

    cd bench && ../.venv/bin/python unknown_filing.py [--vertices 50000] [--rounds 4000]

In a fresh store, red files one small operation and one whose footprint has
``--vertices`` vertices (about 1.9 MB of GeoJSON at 50,000); blue then asks for
each of them and for a made-up id of the same shape, ``--rounds`` times each, in
turn, as ``GET /v1/operations/{id}`` does (``Theater.filing``: all three are
"unknown" to blue). Printed: each one's 10th and 50th percentile in µs and the
large one's excess over the made-up id; and, in the same run, the read the
service made before 2026-12-03 (the filing read whole, its party compared after),
which is what a party could time then.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tansiq.errors import UnknownFiling
from tansiq.service import parties
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import WEEK_START


def operation(vertices: int) -> str:
    """A polygon of ``vertices`` vertices about (40, 35), 5 km across, for a day."""
    ring = [
        [40.0 + 0.03 * math.cos(2 * math.pi * i / vertices),
         35.0 + 0.025 * math.sin(2 * math.pi * i / vertices)]
        for i in range(vertices)
    ]  # fmt: skip
    ring.append(ring[0])
    feature = {
        "type": "Feature",
        "id": "area",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "kind": "patrol",
            "start": "2017-09-12T06:00:00Z",
            "end": "2017-09-12T18:00:00Z",
        },
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def percentiles(samples: list[float]) -> tuple[float, float]:
    """The 10th and 50th percentiles, µs."""
    cuts = statistics.quantiles(samples, n=10)
    return cuts[0] * 1e6, cuts[4] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=4_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "tansiq.db")
        red = parties.add_party(store, "red", "Red", "en")[0]
        blue = parties.add_party(store, "blue", "Blue", "en")[0]
        theater = Theater(store, clock=exercise_clock(WEEK_START))
        large_body = operation(args.vertices)
        small = theater.file(red, "operation", operation(8)).filing.id
        large = theater.file(red, "operation", large_body).filing.id
        made_up = "operation-" + "0" * (len(large) - len("operation-"))
        print(f"red's large filing: {len(large_body) / 1e6:.2f} MB")

        def as_blue(filing_id: str) -> None:
            try:
                theater.filing(blue, filing_id)
            except UnknownFiling:
                return
            raise AssertionError("blue read red's filing")

        def read_then_compared(filing_id: str) -> None:
            record = store.get_filing(filing_id)
            assert record is None or record.party_id != blue.id

        for name, ask in (("now", as_blue), ("before 2026-12-03", read_then_compared)):
            times: dict[str, list[float]] = {"made-up": [], "small": [], "large": []}
            ids = {"made-up": made_up, "small": small, "large": large}
            calls: dict[str, Callable[[], None]] = {
                key: functools.partial(ask, fid) for key, fid in ids.items()
            }
            for _ in range(args.rounds):
                for key, call in calls.items():
                    started = time.perf_counter()
                    call()
                    times[key].append(time.perf_counter() - started)
            p10 = {key: percentiles(samples)[0] for key, samples in times.items()}
            p50 = {key: percentiles(samples)[1] for key, samples in times.items()}
            cells = ", ".join(f"{key} {p10[key]:.1f}/{p50[key]:.1f}" for key in times)
            excess = p10["large"] - p10["made-up"]
            print(f"{name}: p10/p50 µs: {cells}; large minus made-up at p10 {excess:+.1f} µs")
        store.close()


if __name__ == "__main__":
    main()
