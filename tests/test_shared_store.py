"""Two theaters over one store file, as two processes serving it (``tansiq serve
--workers 2``, or two servers) hold them: each change is checked against every
change either committed before it, and each is told of the other's events.

The two theaters here live in one process, on two connections and two writer
locks; ``flock`` locks belong to an open file, so they exclude each other as two
processes' do.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from samples import sample_morning
from tansiq.scenario.model import SeparationRule
from tansiq.service import parties
from tansiq.service.theater import LiveEvent, Notice, StoredEvents, Theater
from tansiq.store import PartyRecord, SqliteStore
from test_theater import body, disc


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    for party_id in ("red", "blue"):
        parties.add_party(store, party_id, party_id.title(), "en")
    parties.add_party(store, "un", "UN", "en", "coordinator")
    store.close()
    return path


def two_theaters(db: Path) -> tuple[Theater, Theater, dict[str, PartyRecord]]:
    first, second = SqliteStore(db), SqliteStore(db)
    clock = sample_morning()
    known = {p.id: p for p in first.list_parties()}
    return Theater(first, clock=clock), Theater(second, clock=clock), known


def pairs_of(store: SqliteStore, state: str = "open") -> set[frozenset[str]]:
    return {
        frozenset((c.filing_a, c.filing_b))
        for c in store.conflicts_of_party("red") + store.conflicts_of_party("blue")
        if c.state == state
    }


def test_each_finds_what_the_other_filed_replaced_and_cancelled(db: Path) -> None:
    a, b, party = two_theaters(db)
    red, blue = party["red"], party["blue"]
    r1 = a.file(red, "operation", body(disc("r1", 40.0, 35.0))).filing.id
    # b's picture was read before r1 was filed: it reads r1 before it checks
    (found,) = b.file(blue, "operation", body(disc("b1", 40.005, 35.0))).conflicts
    assert found.filing_b == r1
    # a moves r1 far away: a knows of b1, so the conflict is resolved
    moved = a.replace(red, r1, 1, body(disc("r1", 41.0, 35.0)))
    assert moved.conflicts == ()
    store = SqliteStore(db)
    assert pairs_of(store) == set() and len(pairs_of(store, "resolved")) == 1
    # b checks against r1 where it is now, not where it was
    (there,) = b.file(blue, "operation", body(disc("b2", 41.005, 35.0))).conflicts
    assert there.filing_b == r1
    assert b.file(blue, "operation", body(disc("b3", 40.0, 35.0))).conflicts == ()
    # and a sees b's filings: a new red one meets b1 and b3
    r5 = a.file(red, "operation", body(disc("r5", 40.002, 35.0)))
    assert len(r5.conflicts) == 2
    # once r1 is cancelled through a, b no longer finds it
    a.cancel(red, r1, 2)
    assert b.file(blue, "operation", body(disc("b4", 41.0, 35.0))).conflicts == ()
    # a reads b4 at its next change, not before
    assert (a.active_volumes, b.active_volumes) == (4, 5)
    a.file(red, "operation", body(disc("r6", 45.0, 35.0)))
    assert a.active_volumes == 6


def test_simultaneous_filers_through_two_theaters_end_up_in_one_conflict_per_pair(
    db: Path,
) -> None:
    a, b, party = two_theaters(db)
    per_party = 12
    start = threading.Barrier(2 * per_party)

    def file(party_id: str, k: int) -> None:
        start.wait()
        through = (a, b)[k % 2]  # each party files through both
        through.file(party[party_id], "operation", body(disc(f"v{k}", 40.0 + k * 1e-4, 35.0)))

    threads = [
        threading.Thread(target=file, args=(party_id, k))
        for party_id in ("red", "blue")
        for k in range(per_party)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = SqliteStore(db)
    conflicts = store.conflicts_of_party("red")
    assert len(conflicts) == len(pairs_of(store)) == per_party * per_party


def test_rules_set_through_one_hold_in_the_other(db: Path) -> None:
    a, b, party = two_theaters(db)
    b.file(party["blue"], "site", body(disc("clinic", 40.0, 35.0)))
    # 1.5 km apart, 500 m discs: no conflict without a separation
    assert a.file(party["red"], "operation", body(disc("r1", 40.0165, 35.0))).conflicts == ()
    wide = [SeparationRule(("*", "*"), horizontal_m=2000.0)]
    outcome = a.set_rules(party["un"], wide)
    assert outcome.opened == 1
    assert b.rules == ()  # not yet read by b: its next change reads them first
    (found,) = b.file(party["blue"], "operation", body(disc("b1", 40.033, 35.0))).conflicts
    assert b.rules == tuple(wide) and found.horizontal_distance_m > 0.0


def test_events_of_the_other_are_handed_on_before_this_ones_own(db: Path) -> None:
    a, b, party = two_theaters(db)
    told: list[Notice] = []

    def listen(events: Sequence[Notice]) -> None:
        told.extend(events)

    b.subscribe(listen)
    b.look_for_others()
    assert told == []  # nothing happened yet
    a.file(party["red"], "operation", body(disc("r1", 40.0, 35.0)))
    a.file(party["blue"], "operation", body(disc("b1", 40.004, 35.0)))  # red's and blue's events
    b.look_for_others()  # what the watch thread does while b is idle
    assert told == [StoredEvents(frozenset({"red", "blue"}))]
    b.look_for_others()
    assert len(told) == 1  # each committed event once
    # a commits more; b's own next change hands a's on first, then its own
    a.file(party["red"], "operation", body(disc("r2", 40.008, 35.0)))
    b.file(party["blue"], "operation", body(disc("b2", 40.012, 35.0)))
    others, *own = told[1:]
    assert isinstance(others, StoredEvents) and others.party_ids == {"red", "blue"}
    assert own and all(isinstance(e, LiveEvent) for e in own)
    assert {e.party_id for e in own if isinstance(e, LiveEvent)} == {"red", "blue"}


def test_an_idle_theater_is_told_within_its_watch_interval(db: Path) -> None:
    a, b, party = two_theaters(db)
    got = threading.Event()
    b.subscribe(lambda events: got.set())
    stop = b.watch(interval_s=0.01)
    try:
        a.file(party["red"], "operation", body(disc("r1", 40.0, 35.0)))
        a.file(party["blue"], "operation", body(disc("b1", 40.004, 35.0)))
        assert got.wait(timeout=5)
    finally:
        stop()
