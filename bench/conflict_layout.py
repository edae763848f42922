"""What closing and writing a conflict row would cost in other layouts of the table.

    cd bench && ../.venv/bin/python conflict_layout.py --db /tmp/tq/s10k.db --scratch /tmp/tq/layout

A conflict is closed by an UPDATE of its state (``SqliteStore.close_conflict``),
about three times a contested filing at 1M, and such UPDATEs were the largest
single statement in a change's samples (docs/benchmarks.md, "What 500/s would
take"). Two changes of the schema could make them cheaper, and this measures
both before either is paid for with a migration of 5.4 million rows:

- ``regions_apart``: the two regions (kilobytes of GeoJSON) in a table of their
  own, so that the conflict row is small;
- ``state_unindexed``: the four indexes by filing and by party without the state,
  so that a close rewrites none of their entries (the two partial indexes of open
  conflicts still drop it).

Each layout gets a fresh copy of the store (``VACUUM``-ed, so that the copies
start alike), then every open conflict is closed in random order, seven a
COMMIT (a loaded server's batch), and as many new rows are inserted the same
way. Printed: CPU and wall microseconds per statement. The store given is only
read.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import time
from pathlib import Path

LAYOUTS = ("as_is", "regions_apart", "state_unindexed")
#: statements a COMMIT, as a loaded server batches them
BATCH = 7

_CHANGES = {
    "as_is": "",
    "regions_apart": """
        CREATE TABLE conflict_region (id INTEGER PRIMARY KEY, region_a TEXT, region_b TEXT);
        INSERT INTO conflict_region SELECT id, region_a, region_b FROM conflict;
        ALTER TABLE conflict DROP COLUMN region_a;
        ALTER TABLE conflict DROP COLUMN region_b;
    """,
    "state_unindexed": """
        DROP INDEX conflict_by_filing_a; DROP INDEX conflict_by_filing_b;
        DROP INDEX conflict_by_party_a; DROP INDEX conflict_by_party_b;
        CREATE INDEX conflict_by_filing_a ON conflict (filing_a);
        CREATE INDEX conflict_by_filing_b ON conflict (filing_b);
        CREATE INDEX conflict_by_party_a ON conflict (party_a);
        CREATE INDEX conflict_by_party_b ON conflict (party_b);
    """,
}


def laid_out(source: Path, path: Path, layout: str) -> sqlite3.Connection:
    shutil.copy(source, path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # as the store has it
    db.executescript(f"BEGIN; {_CHANGES[layout]} COMMIT;")
    db.execute("VACUUM")
    return db


#: SQL and its arguments
Statement = tuple[str, tuple[object, ...]]


def per_statement(db: sqlite3.Connection, statements: list[Statement]) -> tuple[float, float]:
    """(CPU, wall) microseconds a statement, BATCH of them a COMMIT."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(statements), BATCH):
        db.execute("BEGIN")
        for sql, args in statements[start : start + BATCH]:
            db.execute(sql, args)
        db.execute("COMMIT")
    count = max(len(statements), 1)
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def closes(db: sqlite3.Connection) -> list[Statement]:
    ids = [row[0] for row in db.execute("SELECT id FROM conflict WHERE state = 'open'")]
    random.Random(1).shuffle(ids)
    sql = (
        "UPDATE conflict SET state = 'resolved', closed_at = ?, version = version + 1"
        " WHERE id = ? AND state = 'open'"
    )
    return [(sql, (1.0e9, conflict_id)) for conflict_id in ids]


def inserts(db: sqlite3.Connection, layout: str, count: int) -> list[Statement]:
    """New rows like the last one stored (its regions written out in full)."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(conflict)")]
    listed = ", ".join(columns)
    last = db.execute(f"SELECT {listed} FROM conflict ORDER BY id DESC LIMIT 1").fetchone()
    regions: tuple[object, ...] = ()
    if layout == "regions_apart":
        regions = db.execute(
            "SELECT region_a, region_b FROM conflict_region WHERE id = ?", (last[0],)
        ).fetchone()
    first_id = last[0] + 1
    made: list[Statement] = []
    marks = ", ".join("?" * len(columns))
    for k in range(count):
        row = (first_id + k, *last[1:])
        made.append((f"INSERT INTO conflict ({listed}) VALUES ({marks})", row))
        if regions:
            made.append(("INSERT INTO conflict_region VALUES (?, ?, ?)", (first_id + k, *regions)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--scratch", type=Path, required=True, help="a folder for the copies")
    parser.add_argument("--rounds", type=int, default=2, help="each layout this many times")
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    for round_ in range(args.rounds):
        for layout in LAYOUTS:
            path = args.scratch / f"{layout}.db"
            db = laid_out(args.db, path, layout)
            closing = closes(db)
            close_cpu, close_wall = per_statement(db, closing)
            writing = inserts(db, layout, len(closing))
            rows = len(closing)
            insert_cpu, insert_wall = per_statement(db, writing)
            per_row = len(writing) / max(rows, 1)  # two statements a row with regions apart
            print(
                f"round {round_ + 1} {layout:16} close: {close_cpu:5.1f} us CPU"
                f" ({close_wall:5.1f} wall), {rows} rows; insert: {insert_cpu * per_row:5.1f}"
                f" us CPU a row ({insert_wall * per_row:5.1f} wall)",
                flush=True,
            )
            db.close()
            for leftover in args.scratch.glob(f"{layout}.db*"):
                leftover.unlink()


if __name__ == "__main__":
    main()
