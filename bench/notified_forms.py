"""What a change of an operation holds the theater for when it reads again the forms
its entries into zones were notified with.

    cd bench && ../.venv/bin/python notified_forms.py [--routes 10] [--padding 90000]

Blue files two zones (2 km discs about (40, 35), asking 4 hours of notice). Red
files one operation of ``--routes`` routes, each crossing both zones, and a far
line of ``--padding`` vertices that makes its body large (1.7 MB at 90,000); then
moves each route once, alone, so that each pair of conflicts was notified with a
version of its own. Then one change moves every route: each conflict's entry is
judged against the version it was notified with. Printed: the change's time, the
part of it under the theater's lock, and how many bodies were parsed and for how
long. (A reviewer's script, 2026-12-03, made a bench.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tansiq.service import parties
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

START_S = 1505520000.0  # 2017-09-16T00:00:00Z
WINDOW = {"start": "2017-09-16T06:00:00Z", "end": "2017-09-16T18:00:00Z"}


def collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def zone(fid: str) -> str:
    return collection({
        "type": "Feature", "id": fid,
        "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
        "properties": {"kind": "area", "radius_m": 2000.0, "notice_h": 4.0,
                       "altitude_m": [0.0, 3000.0], **WINDOW},
    })  # fmt: skip


def operation(wests: list[float], padding: int) -> str:
    routes = [
        {
            "type": "Feature", "id": f"r{k}",
            "geometry": {"type": "LineString", "coordinates": [
                [west, 35.0 + (k - len(wests) / 2) * 0.0008],
                [40.07, 35.0 + (k - len(wests) / 2) * 0.0008]]},
            "properties": {"kind": "convoy", "width_m": 200.0, "altitude_m": [0.0, 1000.0],
                           **WINDOW},
        }
        for k, west in enumerate(wests)
    ]  # fmt: skip
    far = {
        "type": "Feature", "id": "far",
        "geometry": {"type": "LineString", "coordinates": [
            [45.0 + i * 1e-4, 30.0 + (i % 2) * 1e-4] for i in range(padding)]},
        "properties": {"kind": "convoy", "width_m": 200.0, "altitude_m": [0.0, 1000.0],
                       **WINDOW},
    }  # fmt: skip
    return collection(*routes, far)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=10)
    parser.add_argument("--padding", type=int, default=90_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "tansiq.db")
        red = parties.add_party(store, "red", "Red", "en")[0]
        blue = parties.add_party(store, "blue", "Blue", "en")[0]
        now = [START_S]
        theater = Theater(store, clock=lambda: now[0])
        theater.file(blue, "zone", zone("area"))
        wests = [39.98] * args.routes
        filed = theater.file(red, "operation", operation(wests, args.padding))
        theater.file(blue, "zone", zone("area2"))
        version = 1
        for k in range(args.routes):  # each route moved alone: notified with its version
            now[0] += 1
            wests[k] += 1e-3
            theater.replace(red, filed.filing.id, version, operation(wests, args.padding))
            version += 1
        conflicts = store.open_conflicts_of(filed.filing.id)
        versions = sorted({c.notice_version for c in conflicts if c.notice_version})
        body = operation(wests, args.padding)
        print(f"body {len(body) / 1e6:.2f} MB, {len(conflicts)} conflicts,"
              f" notified with {len(versions)} versions")  # fmt: skip

        parses: list[float] = []
        held: list[float] = []
        parse = theater.volumes
        change = theater._change

        def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return parse(*args, **kwargs)
            finally:
                parses.append(time.perf_counter() - started)

        def timed_change(work: Callable[[float], Any]) -> Any:
            def timed(at: float) -> Any:
                started = time.perf_counter()
                try:
                    return work(at)
                finally:
                    held.append(time.perf_counter() - started)

            return change(timed)

        theater.volumes = counted  # type: ignore[method-assign]
        theater._change = timed_change  # type: ignore[method-assign]
        now[0] += 1
        wests = [west + 1e-3 for west in wests]  # every route moved again
        started = time.perf_counter()
        moved = theater.replace(red, filed.filing.id, version, operation(wests, args.padding))
        took = time.perf_counter() - started
        late = sum(c.late_notice for c in moved.conflicts)
        print(f"the change: {took:.2f} s, {sum(held):.2f} s of it under the lock;"
              f" {len(parses)} bodies parsed (the new one included) in {sum(parses):.2f} s;"
              f" {late} of {len(moved.conflicts)} conflicts late")  # fmt: skip
        theater.close()
        store.close()


if __name__ == "__main__":
    main()
