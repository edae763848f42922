"""Settle every pair on which Tansiq and the tuned GeoPandas baseline disagree.

Each disagreeing pair is measured with the tests' slow geodesic reference
(``tests/reference.py``: boundaries refined to 0.5 m pieces, with an error
bound). A pair counts against the engine only if the reference is sure: its
footprint distance lies outside the spec's tolerance band (max(1 m, 0.1 %) of
the minimum, widened by the reference's own error) on the other side.

    .venv/bin/python bench/verify_disagreements.py 300000
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import tansiq  # noqa: E402
from baseline_geopandas import detect_filter_first  # noqa: E402
from reference import core_distance, separation_for  # noqa: E402
from theater import make_theater  # noqa: E402


def main(size: int) -> int:
    scenario = make_theater(size)
    start = time.perf_counter()
    engine = {(c.a, c.b) for c in tansiq.detect(scenario)}
    print(f"tansiq: {len(engine):,} conflicts in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    baseline = {(min(a, b), max(a, b)) for a, b in detect_filter_first(scenario)}
    print(f"geopandas-tuned: {len(baseline):,} conflicts in {time.perf_counter() - start:.1f} s")
    volumes = {v.id: v for v in scenario.volumes}
    wrong_total = 0
    for label, pairs, engine_says in (
        ("only tansiq", engine - baseline, True),
        ("only geopandas", baseline - engine, False),
    ):
        wrong = 0
        for a, b in sorted(pairs):
            va, vb = volumes[a], volumes[b]
            minimum = separation_for(va.kind, vb.kind, scenario.separation).horizontal_m
            core = core_distance(va.geometry, vb.geometry, spacing_m=0.5)
            footprint = max(0.0, core.distance_m - va.buffer_m - vb.buffer_m)
            tolerance = max(1.0, 0.001 * minimum) + core.error_m
            if abs(footprint - minimum) > tolerance and (footprint <= minimum) != engine_says:
                wrong += 1
                print(f"  engine wrong: {a} {b} footprint {footprint:.3f} m, minimum {minimum}")
        print(f"{label}: {len(pairs):,} pairs, engine wrong on {wrong}")
        wrong_total += wrong
    return 1 if wrong_total else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
