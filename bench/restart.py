"""How long a restart takes before the server answers, on a store filled by ``load.py``.

    .venv/bin/python bench/restart.py --db /tmp/tansiq-1m.db [--runs 3] [--cold] [--reparse]

1. ``tansiq serve`` is started on the store ``--runs`` times; each time, the
   seconds from the process's start to its first answer (``/openapi.json``) are
   recorded. The server reads every active volume's stored footprint into its
   in-memory index (``Theater._load``).
   With ``--cold``, the kernel's page cache is dropped before each start (root
   only), as after a reboot: the store is read from the disk, not from memory.
2. With ``--reparse``, the way a restart worked before footprints were stored is
   timed in this process for comparison: every active filing's GeoJSON parsed and
   validated again, and the same index built from the volumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results import write_json
from tansiq.cli.local_server import free_local_port, wait_until_answering
from tansiq.engine.index import ConflictIndex
from tansiq.scenario.model import Volume
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

TANSIQ = Path(sys.executable).with_name("tansiq")



def serve_until_ready(db: Path) -> float:
    port = free_local_port()
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answering(
            f"http://127.0.0.1:{port}", timeout_s=600, process=server, poll_s=0.02
        )
        return time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=60)


def drop_page_cache() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise SystemExit(f"--cold: cannot drop the page cache ({exc}); it needs root") from None


def reparse(db: Path) -> tuple[float, int]:
    """The old restart: parse every active filing and index its volumes."""
    store = SqliteStore(db)
    t0 = time.perf_counter()
    theater = Theater.__new__(Theater)  # only its parser, without opening the theater
    theater._separation = ()
    volumes: list[Volume] = []
    for filing in store.active_filings():
        volumes.extend(theater.volumes(filing.party_id, filing.id, filing.body))
    index = ConflictIndex()
    index.add_many(volumes)
    took = time.perf_counter() - t0
    store.close()
    return took, len(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reparse", action="store_true", help="also time the old restart")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each start")
    args = parser.parse_args()
    with sqlite3.connect(args.db) as raw:
        (stored,) = raw.execute("SELECT count(*) FROM volume").fetchone()
    ready = []
    for _ in range(args.runs):
        if args.cold:
            drop_page_cache()
        ready.append(serve_until_ready(args.db))
    result: dict[str, object] = {
        "stored_volumes": stored,
        "cold": args.cold,
        "ready_s": ready,
        "ready_median_s": statistics.median(ready),
    }
    print(json.dumps(result), flush=True)
    if args.reparse:
        took, indexed = reparse(args.db)
        assert indexed == stored, (indexed, stored)
        result["reparse_s"] = took
        result["ratio"] = statistics.median(ready) / took
    print(json.dumps(result, indent=1))
    write_json("restart", result)


if __name__ == "__main__":
    main()
