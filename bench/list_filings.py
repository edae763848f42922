"""How long a party's own filings take to list (``GET /v1/operations``), on a stored theater.

    cd bench && ../.venv/bin/python list_filings.py --db /tmp/tq/s1m.db

Opens the store (an older one is migrated first: the time to open says what that
cost), then, for each of the theater's six parties, reads the first page of 50 of
its operations and all of its active ones in pages of 200, as the route does.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

from tansiq.store import SqliteStore
from theater import PARTIES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    args = parser.parse_args()
    with sqlite3.connect(args.db) as raw:
        (schema,) = raw.execute("PRAGMA user_version").fetchone()
        (versions,) = raw.execute("SELECT count(*) FROM filing_version").fetchone()
    print(f"schema {schema}, {versions:,} filing versions")
    started = time.perf_counter()
    store = SqliteStore(args.db)
    print(f"opened (migrated if older) in {time.perf_counter() - started:.2f} s")
    for party in PARTIES:
        started = time.perf_counter()
        store.filings_of_party(party.id, "operation", None, "", 51)
        first_ms = (time.perf_counter() - started) * 1e3
        started, count, after = time.perf_counter(), 0, ""
        while True:
            page = store.filings_of_party(party.id, "operation", "active", after, 201)
            count += min(len(page), 200)
            if len(page) <= 200:
                break
            after = page[199].id
        took = time.perf_counter() - started
        print(f"{party.id}: first page of 50 in {first_ms:.1f} ms;"
              f" all {count:,} active in pages of 200 in {took:.2f} s")  # fmt: skip
    store.close()


if __name__ == "__main__":
    main()
