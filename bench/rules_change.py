"""How long a change of the separation rules takes: the pairs it changes judged again.

    cp /tmp/tq/s10k.db /tmp/tq/rules.db   # it changes the store: run it on a copy
    cd bench && ../.venv/bin/python rules_change.py --db /tmp/tq/rules.db [--widen-m 100]
        [--pair artillery protected_site | --lead-time-h 6]

Opens a store that ``load.py`` filled, then sets the theater's rules to the
benchmark's own with every horizontal separation ``--widen-m`` wider (as a
coordinator would, through ``Theater.set_rules``; ``--pair``: only the rule
between two kinds; ``--lead-time-h``: only the lead time), and prints the time
it took: the index made again under the new rules, then the catch-up (the pairs
of the kinds whose minimums changed judged again, their conflicts closed, opened
and drawn again), waited for here as ``set_rules`` does by default. Until
2026-12-02 all of it held the theater; now only the index does (``rules_catch_up.py``
measures what filings meanwhile get).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tansiq.scenario.model import SeparationRule
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import SEPARATION, WEEK_START


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a copy of a filled store")
    parser.add_argument("--widen-m", type=float, default=100.0)
    parser.add_argument(
        "--pair",
        nargs=2,
        metavar="KIND",
        help="widen only the rule between these two kinds (default: every rule)",
    )
    parser.add_argument(
        "--lead-time-h",
        type=float,
        help="change only the lead time, to this many hours (the rules stay as they are)",
    )
    args = parser.parse_args()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    coordinator = store.get_party("coordinator")
    assert coordinator is not None, "a store filled by load.py has a coordinator"
    widened = {tuple(args.pair)} if args.pair else {r.between for r in SEPARATION}
    wider = tuple(
        SeparationRule(r.between, r.horizontal_m + args.widen_m, r.vertical_m, r.time_s)
        if r.between in widened and args.lead_time_h is None
        else r
        for r in SEPARATION
    )
    started = time.perf_counter()
    done = theater.set_rules(coordinator, wider, lead_time_h=args.lead_time_h or 0.0)
    took = time.perf_counter() - started
    print(
        f"{theater.active_volumes:,} volumes; {len(done.kinds)} pairs of kinds judged again:"
        f" {done.opened:,} conflicts opened, {done.resolved:,} resolved, {done.changed:,}"
        f" changed, {done.kept:,} kept; {took:.1f} s"
    )


if __name__ == "__main__":
    main()
