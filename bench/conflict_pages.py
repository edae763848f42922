"""How long a page of a party's conflicts takes (``GET /v1/conflicts``), on a stored theater.

    cd bench && ../.venv/bin/python conflict_pages.py --db /tmp/tq/s1m.db [--whole ngo]
        [--before ngo] [--walk ngo]

For each of the theater's six parties, as the route reads them: the first page of
100 (all states), the first page of open ones, a page filtered by a box that no
region meets (the worst case: the page stops after reading its most, empty, and
says where), a page filtered by a box of 2 km about Deir ez-Zor, where the theater
is densest, and a page filtered by an hour of the week.

With ``--whole PARTY``, that party's open conflicts are also read whole, filtered and
cut afterwards, as the route did before pages were read a chunk at a time (minutes
at 1M), for the ratio. With ``--before PARTY``, that party's box pages are also read
as they were before the store kept extents (every conflict read whole and its
regions parsed, 500 at a time), over as many conflicts as the page reads now, for
the ratio. With ``--walk PARTY``, every page of the box about Deir ez-Zor is read, to
the end, as a client following ``next_after`` would.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from profile_filing import party_records
from tansiq.service import theater as theater_module
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import ConflictRecord, PartyRecord, SqliteStore
from tansiq.store.base import ConflictState
from theater import WEEK_START

Box = tuple[float, float, float, float]

#: a box on the open sea, far from the theater: no region meets it
NOWHERE = (-30.0, -30.0, -29.0, -29.0)
#: about 2 km across, on Deir ez-Zor (40.14 E, 35.33 N), the theater's densest town
DEIR_EZ_ZOR = (40.129, 35.321, 40.151, 35.339)
#: an hour of the theater's second day
AN_HOUR = (WEEK_START + 30 * 3600.0, WEEK_START + 31 * 3600.0)


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
    box: Box | None = None,
    hour: tuple[float, float] | None = None,
) -> str:
    start, end = hour if hour is not None else (None, None)
    page, more = theater.conflicts_page(party, state, start, end, box, 0, 100)
    return f"{len(page)} conflicts, more after {more}"


def page_before_extents(theater: Theater, party: PartyRecord, box: Box, most: int) -> str:
    """A box page as the theater read it before extents were kept: the party's
    conflicts 500 at a time, each read whole and its regions parsed and checked, here
    over at most ``most`` of them (what a page reads now)."""
    store, after, read = theater._store, 0, 0
    page: list[ConflictRecord] = []
    while read < most and len(page) < 100:
        chunk, last, _ = store.conflicts_of_party_after(party.id, None, after, 500)
        read += len(chunk)
        page += theater_module._meeting(chunk, box)[: 100 - len(page)]
        if last is None:
            break
        after = last
    return f"{len(page)} conflicts, {read:,} read"


def read_whole(theater: Theater, party: PartyRecord) -> str:
    return f"{len(theater.conflicts(party, 'open')[:101])} kept of all"


def walk(theater: Theater, party: PartyRecord, box: Box) -> str:
    pages = found = 0
    after: int | None = 0
    while after is not None:
        page, after = theater.conflicts_page(party, None, None, None, box, after, 100)
        pages, found = pages + 1, found + len(page)
    return f"{found:,} conflicts in {pages} pages"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--whole", metavar="PARTY", help="also read this party's whole list")
    parser.add_argument("--before", metavar="PARTY", help="also read its box pages as before")
    parser.add_argument("--walk", metavar="PARTY", help="read every page of a box, to the end")
    args = parser.parse_args()
    store = SqliteStore(args.db)
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    for party in party_records(store):
        print(party.id)
        timed("first page of 100", partial(first_page, theater, party))
        timed("first page of 100 open", partial(first_page, theater, party, "open"))
        nowhere = timed("a box no region meets", partial(first_page, theater, party, None, NOWHERE))
        town = timed("a box on Deir ez-Zor", partial(first_page, theater, party, None, DEIR_EZ_ZOR))
        timed("an hour", partial(first_page, theater, party, None, None, AN_HOUR))
        if party.id == args.before:
            most = theater.conflicts_scanned
            for name, box, now in (
                ("no region meets", NOWHERE, nowhere),
                ("on Deir ez-Zor", DEIR_EZ_ZOR, town),
            ):
                before = timed(
                    f"a box {name}, regions parsed (before)",
                    partial(page_before_extents, theater, party, box, most),
                )
                print(f"  ratio: {before / now:,.1f} times as long before")
        if party.id == args.whole:
            again = partial(first_page, theater, party, "open")
            paged = timed("again, first page of 100 open", again)
            whole = timed(
                "open ones read whole, then cut (the route before)",
                partial(read_whole, theater, party),
            )
            print(f"  ratio: {whole / paged:,.0f} times as long read whole")
        if party.id == args.walk:
            timed(
                "every page of the box on Deir ez-Zor", partial(walk, theater, party, DEIR_EZ_ZOR)
            )
    theater.close()


if __name__ == "__main__":
    main()
