"""What each SQLite statement of a contested change costs, on a stored theater.

    cd bench && ../.venv/bin/python sql_statements.py --db /tmp/tq/s1m.db [--changes 600]

Runs ``--changes`` contested changes in-process, as ``profile_filing.py`` does
(one COMMIT each), with the store's writing connection timing every statement;
prints, per kind of statement, its time per change, how many per change and its
mean. The operations it files are cancelled at the end (untimed).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from profile_filing import cancel_all, party_records, run
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import WEEK_START


class TimedConnection:
    """The store's writing connection, timing each statement by its first 70 characters."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def _timed(self, key: str, call: Any, *args: Any) -> Any:
        t = time.perf_counter()
        result = call(*args)
        entry = self.spent[re.sub(r"\s+", " ", key)[:70]]
        entry[0] += 1
        entry[1] += time.perf_counter() - t
        return result

    def execute(self, sql: str, args: Any = ()) -> Any:
        return self._timed(sql, self._db.execute, sql, args)

    def executemany(self, sql: str, args: Any) -> Any:
        return self._timed("MANY " + sql, self._db.executemany, sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--changes", type=int, default=600)
    args = parser.parse_args()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    records = party_records(store)
    timed = TimedConnection(store._db)
    store._db = timed  # type: ignore[assignment]
    t0 = time.perf_counter()
    opened, held = run(theater, records, args.changes, seed=int(time.time()))
    wall = time.perf_counter() - t0
    store._db = timed._db
    cancel_all(theater, records, held)
    n = args.changes
    print(f"{n / wall:.0f} changes/s, {opened / n:.2f} conflicts opened each")
    for key, (count, spent) in sorted(timed.spent.items(), key=lambda kv: -kv[1][1])[:14]:
        print(
            f"{spent * 1000 / n:6.3f} ms/change {count / n:5.1f}/change"
            f" {1e6 * spent / max(count, 1):7.0f} µs each  {key}"
        )


if __name__ == "__main__":
    main()
