"""How long a change of the separation rules holds the theater: every pair judged again.

    cp /tmp/tq/s10k.db /tmp/tq/rules.db   # it changes the store: run it on a copy
    cd bench && ../.venv/bin/python rules_change.py --db /tmp/tq/rules.db [--widen-m 100]

Opens a store that ``load.py`` filled, then sets the theater's rules to the
benchmark's own with every horizontal separation ``--widen-m`` wider (as a
coordinator would, through ``Theater.set_rules``), and prints the time it took:
``detect`` over every active volume, then the conflicts closed, opened and
(those whose separation changed) drawn again, all under the theater's lock.
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
    args = parser.parse_args()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    coordinator = store.get_party("coordinator")
    assert coordinator is not None, "a store filled by load.py has a coordinator"
    wider = tuple(
        SeparationRule(r.between, r.horizontal_m + args.widen_m, r.vertical_m, r.time_s)
        for r in SEPARATION
    )
    started = time.perf_counter()
    still_open = theater.set_rules(coordinator, wider)
    took = time.perf_counter() - started
    print(f"{theater.active_volumes:,} volumes, {still_open:,} open conflicts: {took:.1f} s")


if __name__ == "__main__":
    main()
