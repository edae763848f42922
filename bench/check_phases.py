"""Where one ``ConflictIndex.check`` spends its time at 1M stored, phase by phase.

    .venv/bin/python bench/check_phases.py [--stored 1000000]

Builds the index as ``bench/run.py index`` does (``add_many`` of the stored
volumes, then 10,000 single adds), then times each step of ``check`` apart for
2,000 fresh volumes: building the footprint, widening its box, querying the box
index, the exact stage (with the geodesics), and making and sorting the
``Conflict`` records. The phases reach into the index's private parts on
purpose: this is a measuring tool, not an API.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tansiq import ConflictIndex
from tansiq.engine.candidates import widened_box_of_one
from tansiq.engine.detect import make_conflicts
from tansiq.engine.pairs import judge_pairs
from theater import SEPARATION, make_volumes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.stored
    index = ConflictIndex(SEPARATION)
    index.add_many(make_volumes(n, 1))
    extra = make_volumes(10_000, 2, first_id=n)
    for v in extra:
        index.add(v)
    probes = make_volumes(2_000, 3, first_id=n + 10_000)
    for v in extra[:20]:
        index.check(v)
    phases: dict[str, list[float]] = {
        k: [] for k in ("footprint", "box", "query", "exact stage", "records+sort")
    }
    for v in probes:
        t = [time.perf_counter_ns()]
        fp = index.footprints_of([v])
        t.append(time.perf_counter_ns())
        box = widened_box_of_one(fp, index._table)
        t.append(time.perf_counter_ns())
        slots = index._tree.query(box[:4], box[4:])
        t.append(time.perf_counter_ns())
        query = np.zeros(slots.size, dtype=np.int64)
        verdict = judge_pairs(fp.kernel_side(), query, index._stored(), slots, index._table)
        t.append(time.perf_counter_ns())
        stored = [index._volume_at(s) for s in slots[verdict.rows].tolist()]
        found = make_conflicts([v] * len(stored), stored, verdict)
        found.sort(key=lambda c: (c.a, c.b))
        t.append(time.perf_counter_ns())
        for k, name in enumerate(phases):
            phases[name].append((t[k + 1] - t[k]) / 1000)
    for name, values in phases.items():
        p50, p99 = np.percentile(values, 50), np.percentile(values, 99)
        print(f"{name:14s} p50 {p50:7.1f} µs  p99 {p99:8.1f} µs")


if __name__ == "__main__":
    main()
