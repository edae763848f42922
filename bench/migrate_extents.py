"""How long the schema-7 migration takes (each conflict's extent found from its regions).

    cd bench && ../.venv/bin/python migrate_extents.py --db /tmp/tq/s10k.db

Puts the store back to schema 6 (drops ``conflict_extent``: nothing else changes),
then opens it as ``tansiq serve`` would, which migrates it, its progress logged
every 5 s; prints the seconds it took and the CPU seconds this process spent. The
store is left at schema 7, as it was. Minutes on the 1M store.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import time
from pathlib import Path

from tansiq.store import SqliteStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    with sqlite3.connect(args.db) as raw:
        raw.executescript(
            "DROP TABLE IF EXISTS conflict_extent; DROP INDEX IF EXISTS open_conflict_by_volume_a;"
            " DROP INDEX IF EXISTS open_conflict_by_volume_b; PRAGMA user_version = 6;"
        )
    started, cpu = time.perf_counter(), time.process_time()
    SqliteStore(args.db).close()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"migrated in {took:.1f} s ({cpu:.1f} s of CPU)")


if __name__ == "__main__":
    main()
