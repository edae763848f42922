"""Where a contested filing's time goes, in-process (no HTTP), under cProfile.

    cd bench && ../.venv/bin/python profile_filing.py [--stored 10000] [--filings 2000]
    cd bench && ../.venv/bin/python profile_filing.py --db /tmp/tansiq-1m.db  # filled by load.py
    cd bench && py-spy record -r 500 -f raw -o spy.txt -- \
        ../.venv/bin/python profile_filing.py --db /tmp/tansiq-1m.db --no-cprofile

A store of ``--stored`` synthetic volumes (as ``load.py`` fills it), then
``--filings`` changes in the contested square kilometre, made as ``load.py``'s
clients make them (file, replace with ``If-Match``, cancel), one after another in
this thread. Prints changes/s without the profiler, then the profile's top
functions by their own time and cumulative time. Each change commits on its
own (one thread: no group commit). Each run cancels its operations when it
ends (untimed), so that runs on a reused store start alike; start from a store
``load.py`` has just used (it cancels what earlier runs left).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import tempfile
import time
from pathlib import Path

from load import ACTIVE, contested, fill
from tansiq.service import parties
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import PartyRecord, SqliteStore
from theater import PARTIES, WEEK_START


def run(
    theater: Theater, records: list[PartyRecord], filings: int, seed: int
) -> tuple[int, list[tuple[str, int] | None]]:
    rng = random.Random(seed)
    held: list[tuple[str, int] | None] = [None] * ACTIVE
    opened = 0
    for _ in range(filings):
        slot = rng.randrange(ACTIVE)
        party = records[slot % len(records)]
        body = contested(rng, f"op{slot}")
        mine = held[slot]
        if mine is None:
            outcome = theater.file(party, "operation", body)
        elif rng.random() < 0.7:
            outcome = theater.replace(party, mine[0], mine[1], body)
        else:
            outcome = theater.cancel(party, mine[0], mine[1])
        record = outcome.filing
        held[slot] = None if record.state == "cancelled" else (record.id, record.version)
        opened += sum(1 for c in outcome.conflicts if c.opened_at == record.filed_at)
    return opened, held


def party_records(store: SqliteStore) -> list[PartyRecord]:
    """The theater's six parties as the store holds them (filled by ``load.py``)."""
    found = [store.get_party(p.id) for p in PARTIES]
    missing = [p.id for p, record in zip(PARTIES, found, strict=True) if record is None]
    if missing:
        raise SystemExit(f"the store has no party {', '.join(missing)}: fill it with load.py")
    return [record for record in found if record is not None]


def cancel_all(
    theater: Theater, records: list[PartyRecord], held: list[tuple[str, int] | None]
) -> None:
    for slot, mine in enumerate(held):
        if mine is not None:
            theater.cancel(records[slot % len(records)], mine[0], mine[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--filings", type=int, default=2000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--db", type=Path, help="use this store (filled by load.py) as it is")
    parser.add_argument(
        "--no-cprofile",
        action="store_true",
        help="time the changes only (to sample them with py-spy: cProfile slows small calls)",
    )
    args = parser.parse_args()
    if args.db is not None:
        store = SqliteStore(args.db)
    else:
        store = SqliteStore(Path(tempfile.mkdtemp(prefix="tansiq-profile-")) / "tansiq.db")
        for p in PARTIES:
            parties.add_party(store, p.id, p.name, "en")
        coordinator, _ = parties.add_party(store, "coordinator", "Coordinator", "en", "coordinator")
        fill(store, args.stored, coordinator)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    records = party_records(store)
    t0, cpu0 = time.perf_counter(), time.process_time()
    opened, held = run(theater, records, args.filings, seed=1)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    cancel_all(theater, records, held)
    print(
        f"{args.filings / took:.0f} changes/s ({took / args.filings * 1e3:.2f} ms a change,"
        f" {cpu / args.filings * 1e3:.2f} ms of CPU), {opened / args.filings:.2f} conflicts"
        " opened each"
    )
    if args.no_cprofile:
        return
    profiler = cProfile.Profile()
    profiler.enable()
    _, held = run(theater, records, args.filings, seed=2)
    profiler.disable()
    cancel_all(theater, records, held)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(json.dumps({"changes_per_s": args.filings / took}))


if __name__ == "__main__":
    main()
