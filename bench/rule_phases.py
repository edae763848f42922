"""Where a change of the rules spent its time in one piece, on a stored theater, read only.

    cd bench && ../.venv/bin/python rule_phases.py --db /tmp/tq/s1m.db [--sample 300]

Until 2026-12-02 ``Theater.set_rules`` held the theater for the whole change, and every
other change waited (503 after ``busy_wait_s``); the pairs are now judged again in
slices between other changes (``rules_catch_up.py``). This times the old way's steps one by one
for one plausible change, the air-strike / protected-site separation widened from 3 to
4 km, without making it (nothing is written): the volumes of the two kinds made from
the store, the pairs judged again (``detect``), the pair's open conflicts read, and
the regions of a sample of the conflicts found drawn (each kept conflict is drawn
again when its horizontal separation changes, each new one drawn once).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from tansiq.engine.detect import detect
from tansiq.engine.rules import pairs_changed
from tansiq.scenario.model import Scenario
from tansiq.service.catch_up import kind_pair
from tansiq.service.clocks import exercise_clock
from tansiq.service.rules import expiry_horizon
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import WEEK_START

WIDENED = ("air_strike", "protected_site")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--sample", type=int, default=300, help="conflicts whose regions are drawn")
    args = parser.parse_args()
    started = time.perf_counter()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    print(f"theater read in {time.perf_counter() - started:.1f} s")
    old = theater.rules
    new = tuple(
        dataclasses.replace(r, horizontal_m=r.horizontal_m + 1000.0) if r.between == WIDENED else r
        for r in old
    )
    by_kind = theater._index.ids_by_kind()
    changed = pairs_changed(old, new, by_kind)
    kinds = {kind for pair in changed for kind in pair}
    started = time.perf_counter()
    volumes = tuple(theater._index.get(v) for kind in sorted(kinds) for v in by_kind[kind])
    took = time.perf_counter() - started
    print(f"{len(volumes):,} volumes of {sorted(kinds)} made in {took:.1f} s")
    horizon = expiry_horizon(theater.now(), new)
    started = time.perf_counter()
    found = [
        c
        for c in detect(Scenario("theater", (), new, volumes))
        if kind_pair(c.volume_a.kind, c.volume_b.kind) in changed
        and min(c.volume_a.end, c.volume_b.end) >= horizon
    ]
    print(f"judged again: {len(found):,} conflicts in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    standing = [
        c for c in store.open_conflicts(kinds) if kind_pair(c.kind_a, c.kind_b) in changed
    ]
    took = time.perf_counter() - started
    print(f"{len(standing):,} open conflicts of the pair read in {took:.1f} s")
    sample = found[: args.sample]
    started = time.perf_counter()
    for conflict in sample:
        theater._region_texts(conflict)
    each = (time.perf_counter() - started) / max(len(sample), 1)
    print(
        f"regions: {each * 1e3:.2f} ms a conflict over {len(sample)}; all {len(found):,}"
        f" would take about {each * len(found):.0f} s"
    )
    theater.close()


if __name__ == "__main__":
    main()
