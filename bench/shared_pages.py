"""How long a page of ``GET /v1/shared`` takes to read from the store, with many sites shared.

    cd bench && ../.venv/bin/python shared_pages.py [--sites 5000]

A fresh store in a temporary directory: one party files ``--sites`` sites, each shared
with all (a humanitarian organisation's hospitals, say); another reads pages of 50 of
what is shared with it (``Theater.shared_with``, the store's read; the route also
renders each filing in full), the first page and one from the middle, each the mean
of 20 reads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tansiq.service import parties
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore


def site(k: int) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "share": "all",
            "features": [
                {
                    "type": "Feature",
                    "id": f"h{k}",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [36 + (k % 100) * 0.1, 33 + (k // 100) * 0.01],
                    },
                    "properties": {
                        "kind": "protected_site",
                        "radius_m": 100,
                        "start": "2017-09-16T00:00:00Z",
                        "end": "2017-09-30T00:00:00Z",
                    },
                }
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "shared.db")
        ngo = parties.add_party(store, "ngo", "NGO", "en")[0]
        reader = parties.add_party(store, "red", "Red", "en")[0]
        theater = Theater(store, clock=exercise_clock(1505520000.0))  # 2017-09-16T00:00Z
        for k in range(args.sites):
            theater.file(ngo, "site", site(k))
        every = [f.id for f in theater.shared_with(reader)]
        assert len(every) == args.sites
        for at in (0, args.sites // 2):
            after = "" if at == 0 else every[at - 1]
            started = time.perf_counter()
            for _ in range(20):
                page = theater.shared_with(reader, after, 51)
            took = (time.perf_counter() - started) / 20
            assert [f.id for f in page] == every[at : at + 51]
            print(f"{args.sites:,} shared, a page of 50 from #{at:,}: {took * 1e3:.2f} ms")
        theater.close()
        store.close()


if __name__ == "__main__":
    main()
