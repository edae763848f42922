"""How long a page of a party's conflicts takes (``GET /v1/conflicts``), on a stored theater.

    cd bench && ../.venv/bin/python conflict_pages.py --db /tmp/tq/s1m.db [--whole ngo]

For each of the theater's six parties, as the route reads them: the first page of
100 (all states), the first page of open ones, and a page filtered by a box that no
region meets (the worst case: the page stops after reading its most, empty, and
says where). With ``--whole PARTY``, that party's open conflicts are also read whole,
filtered and cut afterwards, as the route did before pages were read a chunk at a
time (minutes at 1M), for the ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from profile_filing import party_records
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import PartyRecord, SqliteStore
from tansiq.store.base import ConflictState
from theater import WEEK_START

#: a box on the open sea, far from the theater: no region meets it
NOWHERE = (-30.0, -30.0, -29.0, -29.0)


def timed(what: str, run: Callable[[], str]) -> float:
    started = time.perf_counter()
    found = run()
    took = time.perf_counter() - started
    print(f"  {what}: {took * 1e3:.1f} ms ({found})")
    return took


def first_page(
    theater: Theater,
    party: PartyRecord,
    state: ConflictState | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> str:
    page, more = theater.conflicts_page(party, state, None, None, box, 0, 100)
    return f"{len(page)} conflicts, more after {more}"


def read_whole(theater: Theater, party: PartyRecord) -> str:
    return f"{len(theater.conflicts(party, 'open')[:101])} kept of all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--whole", metavar="PARTY", help="also read this party's whole list")
    args = parser.parse_args()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    for party in party_records(store):
        print(party.id)
        timed("first page of 100", partial(first_page, theater, party))
        timed("first page of 100 open", partial(first_page, theater, party, "open"))
        timed("a box no region meets", partial(first_page, theater, party, None, NOWHERE))
        if party.id == args.whole:
            again = partial(first_page, theater, party, "open")
            paged = timed("again, first page of 100 open", again)
            whole = timed(
                "open ones read whole, then cut (the route before)",
                partial(read_whole, theater, party),
            )
            print(f"  ratio: {whole / paged:,.0f} times as long read whole")
    theater.close()


if __name__ == "__main__":
    main()
