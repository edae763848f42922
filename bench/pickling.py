"""What a change's answer and events cost to pickle and unpickle (they cross between
processes with ``tansiq serve --processes 2``): the records as they pickle now (their
fields, :func:`tansiq.store.base.pickled_as_fields`) against dataclasses' own way."""

from __future__ import annotations

import argparse
import pickle
import time
from typing import Any

from tansiq.service.outcomes import LiveEvent, Outcome
from tansiq.store.base import ConflictRecord, FilingRecord


def change(conflicts: int, region_bytes: int) -> tuple[Outcome, list[LiveEvent]]:
    """An answer with ``conflicts`` conflicts, and its events (one per side of each)."""
    records = tuple(
        ConflictRecord(
            id=k, volume_a=f"operation-{k:012x}/a", volume_b=f"site-{k:012x}/b",
            filing_a=f"operation-{k:012x}", filing_b=f"site-{k:012x}", party_a="red",
            party_b="blue", kind_a="strike", kind_b="hospital", state="open",
            horizontal_distance_m=12.5, vertical_gap_m=0.0, time_gap_s=0.0,
            window_start=1.5e9, window_end=1.5e9 + 3600, opened_at=1.5e9, closed_at=None,
            acked_a_at=None, acked_b_at=None, region_a=f"{k}a" + "1" * region_bytes,
            region_b=f"{k}b" + "2" * region_bytes, late_notice=False, no_entry=False,
            version=1, rules_change=None,
        )
        for k in range(conflicts)
    )
    filing = FilingRecord("operation-0", "red", "operation", 2, "active", "{}" * 200, 1.5e9, 1.6e9)
    events = [LiveEvent(2 * c.id + s, p, "conflict.opened", c)
              for c in records for s, p in enumerate(("red", "blue"))]  # fmt: skip
    return Outcome(filing, records), events


def timed(value: Any, rounds: int) -> tuple[float, float]:
    """Microseconds to pickle it, and to unpickle it (the best of three)."""
    best_dump = best_load = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        best_dump = min(best_dump, (time.perf_counter() - started) / rounds * 1e6)
        started = time.perf_counter()
        for _ in range(rounds):
            pickle.loads(data)
        best_load = min(best_load, (time.perf_counter() - started) / rounds * 1e6)
    return best_dump, best_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conflicts", type=int, default=8, help="a change's conflicts")
    parser.add_argument("--region-bytes", type=int, default=3000, help="each region's text")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    answer, events = change(args.conflicts, args.region_bytes)
    now = [timed(answer, args.rounds), timed(events, args.rounds)]
    kinds = (ConflictRecord, FilingRecord, LiveEvent, Outcome)
    for kind in kinds:  # dataclasses' own way: __getstate__ and __setstate__
        del kind.__reduce__  # (this process only: it ends here)
    before = [timed(answer, args.rounds), timed(events, args.rounds)]
    for name, (dump, load), (dump_before, load_before) in zip(
        ("answer", "events"), now, before, strict=True
    ):
        print(
            f"{name}: pickle {dump:.1f} µs, unpickle {load:.1f} µs;"
            f" dataclasses' own {dump_before:.1f} and {load_before:.1f} µs"
        )


if __name__ == "__main__":
    main()
