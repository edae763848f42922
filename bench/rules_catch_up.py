"""A change of the rules on a stored theater while it keeps filing: how long it holds the
theater, how long its catch-up takes, and what filings meanwhile get.

    cp /tmp/tq/s1m.db /tmp/tq/rules1m.db   # it changes the store: run it on a copy
    cd bench && ../.venv/bin/python rules_catch_up.py --db /tmp/tq/rules1m.db

Opens a store that ``load.py`` filled and starts one filer thread making contested
changes back to back, as ``profile_filing.py`` makes them (file, replace with
``If-Match``, cancel, in the contested square kilometre). After ``--before`` seconds
the air-strike / protected-site separation is widened from 3 to 4 km (the change
``rule_phases.py`` times without making it) through ``Theater.set_rules``, as the API
makes it: it returns once the rules are in force, and the theater's own thread judges
the pairs filed before again, slice by slice (docs/service.md, "Changing the rules").
Prints how long the index took to make again (beside the filings) and to bring up to
date (under the theater's lock), the catch-up's length and its slices, the process's
peak memory, and the filer's rate and latency before, while the rules were being set,
during the catch-up (or its first ``--during`` seconds) and after it (``--after``
seconds). Within one process, so the
filer and the catch-up share the interpreter, as requests and the catch-up do in
``tansiq serve``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import resource
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from load import ACTIVE, contested
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import PartyRecord, SqliteStore
from theater import PARTIES, WEEK_START

WIDENED = ("air_strike", "protected_site")


class Filer(threading.Thread):
    """Contested changes back to back; each one's end time and length, seconds."""

    def __init__(self, theater: Theater, records: list[PartyRecord]) -> None:
        super().__init__(daemon=True)
        self.theater, self.records = theater, records
        self.done: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.held: list[tuple[str, int] | None] = [None] * ACTIVE

    def run(self) -> None:
        rng = random.Random(5)
        while not self.stop.is_set():
            slot = rng.randrange(ACTIVE)
            party = self.records[slot % len(self.records)]
            mine = self.held[slot]
            started = time.perf_counter()
            if mine is None:
                outcome = self.theater.file(party, "operation", contested(rng, f"op{slot}"))
            elif rng.random() < 0.7:
                body = contested(rng, f"op{slot}")
                outcome = self.theater.replace(party, mine[0], mine[1], body)
            else:
                outcome = self.theater.cancel(party, mine[0], mine[1])
            ended = time.perf_counter()
            self.done.append((ended, ended - started))
            record = outcome.filing
            self.held[slot] = (
                None if record.state == "cancelled" else (record.id, record.version)
            )

    def cancel_all(self) -> None:
        for slot, mine in enumerate(self.held):
            if mine is not None:
                party = self.records[slot % len(self.records)]
                self.theater.cancel(party, mine[0], mine[1])


def timed(theater: Theater, method: str) -> list[float]:
    """Each call of one of the theater's methods timed from now on, seconds."""
    took: list[float] = []
    calls = getattr(theater, method)

    def timing(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return calls(*args)
        finally:
            took.append(time.perf_counter() - started)

    setattr(theater, method, timing)
    return took


def summary(done: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    took = sorted(t for at, t in done if start <= at < end)
    if not took:
        return {"filings": 0}
    return {
        "filings": len(took),
        "per_s": round(len(took) / (end - start), 1),
        "p50_ms": round(statistics.median(took) * 1000, 1),
        "p99_ms": round(took[int(0.99 * (len(took) - 1))] * 1000, 1),
        "max_ms": round(took[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a copy of a filled store")
    parser.add_argument("--before", type=float, default=20.0, help="seconds of filing first")
    parser.add_argument("--after", type=float, default=20.0, help="seconds of filing after")
    parser.add_argument(
        "--during",
        type=float,
        default=math.inf,
        help="stop watching the catch-up after this many seconds (default: once it is done)",
    )
    args = parser.parse_args()
    store = SqliteStore(args.db)
    opened = time.perf_counter()
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    print(f"theater read in {time.perf_counter() - opened:.1f} s", flush=True)
    coordinator = store.get_party("coordinator")
    assert coordinator is not None, "a store filled by load.py has a coordinator"
    records = [r for p in PARTIES if (r := store.get_party(p.id)) is not None]
    slices = timed(theater, "_catch_up_slice")  # how long each slice holds the theater
    index_s = timed(theater, "_rules_index")  # made (beside the filings)
    update_s = timed(theater, "_index_brought_up_to_date")  # (under the theater's lock)
    new = tuple(
        dataclasses.replace(r, horizontal_m=r.horizontal_m + 1000.0) if r.between == WIDENED else r
        for r in theater.rules
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    filer = Filer(theater, records)
    filer.start()
    time.sleep(args.before)
    changed_at = time.perf_counter()
    answered = theater.set_rules(coordinator, new, wait_s=0.0)
    in_force_at = time.perf_counter()
    print(
        f"rules in force, and set_rules answered, after {in_force_at - changed_at:.2f} s"
        f" (the index made again beside the filings in {sum(index_s):.2f} s, brought up"
        f" to date under the theater's lock in {sum(update_s):.3f} s, the first slice);"
        f" {answered.volumes:,} volumes to judge again",
        flush=True,
    )
    last_said = time.perf_counter()
    while True:
        outcome = theater.rules_outcome
        assert outcome is not None
        if outcome.done or time.perf_counter() - changed_at >= args.during:
            break
        if time.perf_counter() - last_said >= 30.0:
            last_said = time.perf_counter()
            print(
                f"  {last_said - changed_at:.0f} s: {outcome.judged:,} of"
                f" {outcome.volumes:,} volumes judged again, {len(slices):,} slices",
                flush=True,
            )
        time.sleep(0.2)
    caught_up_at = time.perf_counter()
    time.sleep(args.after)
    filer.stop.set()
    filer.join()
    ended_at = time.perf_counter()
    ordered = sorted(slices)
    print(
        {
            "volumes": outcome.volumes,
            "opened": outcome.opened,
            "resolved": outcome.resolved,
            "changed": outcome.changed,
            "kept": outcome.kept,
            "index_s": round(sum(index_s), 2),
            "brought_up_to_date_s": round(sum(update_s), 3),
            "judged": outcome.judged,
            # the catch-up's length, or as long as it was watched (--during)
            ("catch_up_s" if outcome.done else "watched_s"): round(caught_up_at - changed_at, 1),
            "slices": len(slices),
            "slice_p50_ms": round(statistics.median(ordered) * 1000, 1),
            "slice_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
            "slice_max_ms": round(ordered[-1] * 1000, 1),
            # the process's peak, before and once caught up (two indexes while the new
            # one is made)
            "peak_rss_mb": [
                round(rss_before / 1024),
                round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            ],
        }
    )
    print("before", summary(filer.done, changed_at - args.before, changed_at))
    print("setting", summary(filer.done, changed_at, in_force_at))
    print("during", summary(filer.done, changed_at, caught_up_at))
    print("after", summary(filer.done, caught_up_at, ended_at))
    filer.cancel_all()
    theater.close()


if __name__ == "__main__":
    main()
