"""Filing, replacing and cancelling through the service, on a real SQLite file."""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

from samples import SAMPLE_MORNING_S, sample_morning
from stored import assert_extents_hold_the_regions
from tansiq.errors import (
    FilingGone,
    InputError,
    ScenarioInvalid,
    ScenarioUnreadable,
    StaleVersion,
    StoreInUse,
    StoreUnusable,
    UnknownFiling,
)
from tansiq.scenario import problems
from tansiq.scenario.model import SeparationRule, Volume
from tansiq.service import parties
from tansiq.service.theater import Theater
from tansiq.store import ConflictRecord, PartyRecord, SqliteStore
from tansiq.store.base import Extent, RulesChangeRecord
from tansiq.store.sqlite import SCHEMA_VERSION

GEOD = Geod(ellps="WGS84")


#: what makes a store of schema 14 one of schema 13
BEFORE_14 = (
    "DROP INDEX open_notice_version_a; DROP INDEX open_notice_version_b;"
    " ALTER TABLE conflict DROP COLUMN notice_version;"
)
#: what makes a store of schema 14 one of schema 12
BEFORE_13 = (
    f"{BEFORE_14} ALTER TABLE conflict DROP COLUMN notice_from;"
    " ALTER TABLE conflict DROP COLUMN shown_at; ALTER TABLE volume DROP COLUMN judged_under;"
)
#: what makes a store of schema 14 one of schema 11
BEFORE_12 = f"{BEFORE_13} ALTER TABLE volume DROP COLUMN notified_at;"
#: what makes a store of schema 14 one of schema 10
BEFORE_11 = f"{BEFORE_12} ALTER TABLE conflict DROP COLUMN rules_change;"
#: what makes a store of schema 14 one of schema 8
BEFORE_9 = (
    f"{BEFORE_11} ALTER TABLE webhook DROP COLUMN token_id; DROP TABLE rules_change;"
)
#: what makes a store of schema 14 one of schema 7 (for the tests of older stores)
BEFORE_8 = (
    f"{BEFORE_9} DROP INDEX open_conflict_by_volume_a; DROP INDEX open_conflict_by_volume_b;"
)


def _upgraded(path: Path, before: str, version: int) -> SqliteStore:
    """The store at ``path`` made one of schema ``version`` by ``before``, then opened
    (and so upgraded) by this Tansiq."""
    import sqlite3

    with sqlite3.connect(path) as raw:
        raw.executescript(f"{before} PRAGMA user_version = {version};")
    store = SqliteStore(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    return store


def disc(fid: str, lon: float, lat: float, radius_m: float = 500.0) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "kind": "patrol",
            "radius_m": radius_m,
            "start": "2017-09-16T06:00:00Z",
            "end": "2017-09-16T18:00:00Z",
        },
    }


def body(*features: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def zone_asking(hours: float) -> str:
    """A zone of 2 km about (40, 35) asking ``hours`` of notice of an operation entering it."""
    feature = disc("area", 40.0, 35.0, 2000.0)
    properties = feature["properties"]
    assert isinstance(properties, dict)
    properties.update(notice_h=hours)
    return body(feature)


def timed(fid: str, lon: float, start: str, end: str) -> str:
    """A filing of one disc at (lon, 35) from ``start`` to ``end`` (HH:MM) on the sample day."""
    feature = disc(fid, lon, 35.0)
    properties = feature["properties"]
    assert isinstance(properties, dict)
    properties.update(start=f"2017-09-16T{start}:00Z", end=f"2017-09-16T{end}:00Z")
    return body(feature)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "tansiq.db")


@pytest.fixture
def red(store: SqliteStore) -> PartyRecord:
    return parties.add_party(store, "red", "Red", "en")[0]


@pytest.fixture
def blue(store: SqliteStore) -> PartyRecord:
    return parties.add_party(store, "blue", "Blue", "ar")[0]


def test_the_second_filing_finds_the_first(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    theater = Theater(store, clock=sample_morning())
    first = theater.file(red, "operation", body(disc("r1", 40.0, 35.0)))
    assert first.conflicts == () and first.filing.version == 1
    second = theater.file(blue, "operation", body(disc("b1", 40.005, 35.0)))
    (conflict,) = second.conflicts
    assert conflict.state == "open"
    assert {conflict.party_a, conflict.party_b} == {"red", "blue"}
    assert conflict.volume_a == f"{second.filing.id}/b1"
    assert conflict.volume_b == f"{first.filing.id}/r1"
    assert conflict.horizontal_distance_m == 0.0  # 455 m apart, 500 m discs
    assert store.conflicts_of_party("red") == store.conflicts_of_party("blue") == [conflict]


def test_the_same_party_never_conflicts_with_itself(store: SqliteStore, red: PartyRecord) -> None:
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("a", 40.0, 35.0)))
    assert theater.file(red, "site", body(disc("b", 40.0, 35.0))).conflicts == ()


def test_simultaneous_filers_always_end_up_in_one_conflict_per_pair(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    theater = Theater(store, clock=sample_morning())
    per_party = 15
    start = threading.Barrier(2 * per_party)

    def file(party: PartyRecord, k: int) -> None:
        start.wait()
        theater.file(party, "operation", body(disc(f"v{k}", 40.0 + k * 1e-4, 35.0)))

    threads = [
        threading.Thread(target=file, args=(party, k))
        for party in (red, blue)
        for k in range(per_party)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = store.conflicts_of_party("red")
    pairs = {frozenset((c.filing_a, c.filing_b)) for c in conflicts}
    assert len(conflicts) == len(pairs) == per_party * per_party


def test_one_key_sent_at_once_from_many_threads_files_once(tmp_path: Path) -> None:
    """A client retrying before its first request was answered: one filing, the same
    answer to all; and the key holds after a restart."""
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    site = body(disc("clinic", 40.0, 35.0))
    start = threading.Barrier(12)
    outcomes = []

    def send() -> None:
        start.wait()
        outcomes.append(theater.file(blue, "site", site, key="clinic-1"))

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({o.filing.id for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 11
    assert {tuple(c.id for c in o.conflicts) for o in outcomes} == {(outcomes[0].conflicts[0].id,)}
    assert len(store.active_filings()) == 2 and len(store.conflicts_of_party("red")) == 1
    theater.close()
    again = Theater(store, clock=sample_morning()).file(blue, "site", site, key="clinic-1")
    assert again.replayed and again.filing.id == outcomes[0].filing.id


def test_a_zone_said_to_have_ended_with_a_new_notice_changes_no_conflict(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """At 12:00 blue says its zone ended at 09:00 and, in the same version, asks 2 h of
    notice instead of 0.5 h. Red's operation (06:00-08:00, filed at 05:00) met it
    while it stood, with the notice then asked: nothing the conflict shows changes,
    so it keeps its version and both acknowledgements, and nobody is told."""
    start = SAMPLE_MORNING_S  # 2017-09-16T00:00Z
    now = [start + 5 * 3600]
    theater = Theater(store, clock=lambda: now[0])
    told: list[str] = []
    theater.subscribe(lambda events: told.extend(e.kind for e in events))

    def area(end: str, notice_h: float) -> str:
        feature = disc("area", 40.0, 35.0, 2000.0)
        feature["properties"] = {
            "kind": "patrol", "radius_m": 2000.0, "start": "2017-09-16T00:00:00Z",
            "end": f"2017-09-16T{end}:00Z", "notice_h": notice_h,
        }  # fmt: skip
        return body(feature)

    zone = theater.file(blue, "zone", area("18:00", 0.5))
    (opened,) = theater.file(red, "operation", timed("op", 40.0, "06:00", "08:00")).conflicts
    theater.acknowledge(red, opened.id, 1)
    theater.acknowledge(blue, opened.id, 1)
    told.clear()
    now[0] = start + 12 * 3600
    theater.replace(blue, zone.filing.id, 1, area("09:00", 2.0))
    after = store.get_conflict(opened.id)
    assert after is not None and after.version == 1 and after.late_notice is False
    assert after.acked_a_at is not None and after.acked_b_at is not None
    assert told == []


def test_a_replay_names_what_its_version_opened_whatever_the_clock(tmp_path: Path) -> None:
    """A clock that stands still (or is coarse): the first version and its replacement
    share a stamp, yet a replay names only what the first version opened, since the
    key is kept with those conflicts' ids (found by their stamp, a replacement's were
    named too: a reviewer)."""
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    theater = Theater(store, clock=lambda: SAMPLE_MORNING_S)
    theater.file(red, "operation", body(disc("strike", 40.0, 35.0), disc("far", 41.0, 35.0)))
    first = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)), key="k")
    both = body(disc("clinic", 40.0, 35.0), disc("annex", 41.0, 35.0))
    second = theater.replace(blue, first.filing.id, 1, both)
    assert first.filing.filed_at == second.filing.filed_at and len(second.conflicts) == 2
    replay = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)), key="k")
    assert [c.id for c in replay.conflicts] == [c.id for c in first.conflicts]
    # a key kept before schema 6 (no ids): found by its version's stamp, as then
    with store.transaction():
        store._db.execute("UPDATE filing_key SET opened = NULL")
    again = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)), key="k")
    assert {c.id for c in again.conflicts} >= {c.id for c in first.conflicts}


def test_a_store_served_live_then_replayed_judges_by_the_replays_clock(tmp_path: Path) -> None:
    """A store first served on the real time (2026), then for an exercise from 16
    September 2017 (`--clock-start`): the exercise's filings are judged at the
    exercise's time, not carried past their windows by the stamps of the live ones (a
    reviewer found a first fix for replays doing so: every conflict missed)."""
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    live = Theater(store, clock=lambda: 1_795_000_000.0)  # 2026
    live.file(red, "site", body(disc("depot", 60.0, 10.0)))
    live.close()
    replay = Theater(store, clock=sample_morning())
    replay.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    outcome = replay.file(blue, "operation", body(disc("patrol", 40.0, 35.0)))
    assert len(outcome.conflicts) == 1
    assert outcome.filing.filed_at < 1_600_000_000.0


def _held_rules(
    theater: Theater, monkeypatch: pytest.MonkeyPatch, then_s: float = 0.0
) -> tuple[threading.Event, threading.Event]:
    """New rules' index brought up to date (the part of their change that holds the
    theater) held open until ``go_on`` is set (``inside`` once it is), and ``then_s``
    more: a large theater's longest hold, on a small one."""
    import time

    inside, go_on = threading.Event(), threading.Event()
    made = theater._index_brought_up_to_date

    def held(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        go_on.wait(30)
        time.sleep(then_s)
        return made(*args, **kwargs)

    monkeypatch.setattr(theater, "_index_brought_up_to_date", held)
    return inside, go_on


def test_a_change_ahead_of_new_rules_is_not_kept_waiting_for_them(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blue's filing finds new rules queued behind it and leaves its COMMIT to them (group
    commit); they commit it before they start judging, so blue is answered, and its
    filing durable, at once, not when the judging ends (a reviewer waited 4 s)."""
    import sqlite3
    import time

    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    inside, go_on = _held_rules(theater, monkeypatch)
    pairs_of = theater._pairs_of

    def slow(*args: Any, **kwargs: Any) -> Any:  # blue's work lasts while the rules queue
        time.sleep(0.3)
        return pairs_of(*args, **kwargs)

    monkeypatch.setattr(theater, "_pairs_of", slow)
    answered: list[str] = []
    filing = threading.Thread(
        target=lambda: answered.append(
            theater.file(blue, "operation", body(disc("b", 41.0, 35.0))).filing.id
        ),
        daemon=True,
    )
    rules = threading.Thread(
        target=theater.set_rules,
        args=(coordinator, [SeparationRule(("*", "*"), horizontal_m=2000.0)]),
        daemon=True,
    )
    filing.start()
    time.sleep(0.1)
    rules.start()
    try:
        assert inside.wait(10)
        filing.join(5)
        assert answered, "blue's filing waited for the judging"
        with sqlite3.connect(store.path) as other:  # durable: another process sees it
            seen = other.execute("SELECT id FROM filing WHERE id = ?", (answered[0],))
            assert seen.fetchone() is not None
    finally:
        go_on.set()
        rules.join(30)


def test_a_change_giving_up_as_new_rules_end_leaves_no_batch_behind(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filing that looked at the rules' change just before it ended, and gives up
    just after: the rules' change must not have left its COMMIT to it (a reviewer's
    forced interleaving left the rules uncommitted and their caller blocked)."""
    import time

    import tansiq.service.theater as theater_module

    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    theater.busy_wait_s = 0.3
    # the filer's last wait ends while the rules still hold the theater; they end
    # while it is held up
    inside, go_on = _held_rules(theater, monkeypatch, then_s=0.4)

    class Preempted:
        """``time``, but the filer is held up just after its last look at the theater,
        as a thread switch would (the rules' change ends meanwhile)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        def monotonic(self) -> float:
            now = time.monotonic()
            if threading.current_thread().name == "filer" and go_on.is_set():
                time.sleep(0.5)
                return time.monotonic()
            return now

    outcome: list[object] = []

    def file() -> None:
        try:
            outcome.append(theater.file(blue, "operation", body(disc("b", 41.0, 35.0))))
        except Exception as exc:
            outcome.append(exc)

    rules = threading.Thread(
        target=theater.set_rules,
        args=(coordinator, [SeparationRule(("*", "*"), horizontal_m=2000.0)]),
        daemon=True,
    )
    rules.start()
    assert inside.wait(10)
    filer = threading.Thread(target=file, name="filer", daemon=True)
    filer.start()
    time.sleep(0.2)  # the filer waits, under the busy rule
    monkeypatch.setattr(theater_module, "time", Preempted())
    go_on.set()
    rules.join(5)
    filer.join(5)
    assert not rules.is_alive(), "the rules' change was left waiting for its COMMIT"
    assert store.pending() is None
    assert theater.rules[0].horizontal_m == 2000.0 and len(outcome) == 1


def test_a_change_already_waiting_when_a_long_one_starts_gives_up_too(
    store: SqliteStore, red: PartyRecord
) -> None:
    """A filing queued behind an ordinary change, which a change of rules then follows
    into the theater, is not left waiting for minutes: it looks again, and gives up
    (nothing filed) once the long change has held the theater for ``busy_wait_s``."""
    import time

    from tansiq.errors import TheaterBusy

    theater = Theater(store, clock=sample_morning())
    theater.busy_wait_s = 0.2
    errors: list[BaseException] = []

    def file() -> None:
        try:
            theater.file(red, "operation", body(disc("late", 40.0, 35.0)))
        except BaseException as exc:
            errors.append(exc)

    theater._lock.acquire()  # an ordinary change holds the theater
    try:
        waiting = threading.Thread(target=file)
        waiting.start()
        time.sleep(0.1)  # the filing is waiting, no long change in sight
        theater._long_change = ("a change of the theater's rules", time.monotonic())
        waiting.join(5)  # the rules' change now holds it: the filing gives up
        assert not waiting.is_alive()
    finally:
        theater._long_change = None
        theater._lock.release()
    assert len(errors) == 1 and isinstance(errors[0], TheaterBusy)
    assert store.active_filings() == []
    assert theater.file(red, "operation", body(disc("late", 40.0, 35.0))).filing.version == 1


def test_a_replacement_keeps_resolves_and_opens(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    theater = Theater(store, clock=sample_morning())
    theirs = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0), disc("camp", 41.0, 35.0)))
    mine = theater.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    (kept,) = mine.conflicts
    # keep "strike" where it was, add one next to the camp
    again = theater.replace(
        red,
        mine.filing.id,
        1,
        body(disc("strike", 40.0, 35.0), disc("second", 41.0, 35.0)),
    )
    assert again.filing.version == 2
    assert kept in again.conflicts and len(again.conflicts) == 2
    # move both away: both conflicts are resolved, none is open
    moved = theater.replace(red, mine.filing.id, 2, body(disc("strike", 44.0, 30.0)))
    assert moved.conflicts == ()
    states = {(c.state, c.version) for c in store.conflicts_of_party("blue")}
    assert states == {("resolved", 2)}  # the kept one showed the same at version 2: still 1
    assert theirs.filing.state == "active"


def _moved(fid: str, lon: float, radius_m: float, start: str) -> dict[str, object]:
    feature = disc(fid, lon, 35.0, radius_m)
    feature["properties"] = {**feature["properties"], "start": start}  # type: ignore[dict-item]
    return feature


def test_a_kept_conflict_shows_its_volumes_as_they_are_now(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """A replacement under which the same two volumes still conflict keeps the conflict
    (same id) but redraws it: window, gaps and regions as the volumes now are; both
    sides are told ``conflict.changed`` and must acknowledge it again."""
    theater = Theater(store, clock=sample_morning())
    told: list[tuple[str, str, int]] = []
    theater.subscribe(
        lambda events: told.extend((e.party_id, e.kind, e.conflict.id) for e in events)
    )
    theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    mine = theater.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    (first,) = mine.conflicts
    assert theater.acknowledge(blue, first.id).version == first.version == 1  # an ack: no change
    told.clear()
    # the strike moves 270 m east, shrinks to 300 m, and starts four hours later
    again = theater.replace(
        red, mine.filing.id, 1, body(_moved("strike", 40.003, 300.0, "2017-09-16T10:00:00Z"))
    )
    (changed,) = again.conflicts
    assert changed.id == first.id and changed.state == "open" and changed.version == 2
    assert changed.window_start == first.window_start + 4 * 3600
    assert changed.region_a != first.region_a and changed.region_b != first.region_b
    assert changed.acked_a_at is None and changed.acked_b_at is None  # blue's ack was of the old
    assert store.get_conflict(first.id) == changed
    assert sorted(told) == [
        ("blue", "conflict.changed", first.id),
        ("red", "conflict.changed", first.id),
    ]
    # what blue is shown of the strike lies within the strike as it is now
    assert changed.region_a is not None
    ring = shapely.get_coordinates(shapely.from_geojson(changed.region_a))
    _, _, apart = GEOD.inv(
        np.full(len(ring), 40.003), np.full(len(ring), 35.0), ring[:, 0], ring[:, 1]
    )
    assert apart.max() <= 300.0 * 1.001
    # the same body again changes nothing: no event, the conflict as it was
    told.clear()
    same = theater.replace(
        red, mine.filing.id, 2, body(_moved("strike", 40.003, 300.0, "2017-09-16T10:00:00Z"))
    )
    assert same.conflicts == (changed,) and told == []


def test_a_kept_conflict_is_redrawn_whichever_side_changes(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The side that changes is side b here (the conflict was opened by the other),
    and the index names the pair the other way round: each region stays with its side
    (with a separation, each side's region is its own footprint's part: they differ)."""
    rules = [SeparationRule(("*", "*"), horizontal_m=1000.0)]
    theater = Theater(store, rules, clock=sample_morning())
    strike = theater.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    (opened,) = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0))).conflicts
    assert opened.party_a == "blue" and opened.party_b == "red"
    again = theater.replace(
        red, strike.filing.id, 1, body(_moved("strike", 40.003, 300.0, "2017-09-16T06:00:00Z"))
    )
    (changed,) = again.conflicts
    assert changed.id == opened.id and changed.party_a == "blue"
    # region_b is what blue is shown of the strike: within the strike as it is now
    assert changed.region_b is not None and changed.region_b != opened.region_b
    assert changed.region_a is not None
    for region, lon, radius in ((changed.region_b, 40.003, 300.0), (changed.region_a, 40.0, 500.0)):
        ring = shapely.get_coordinates(shapely.from_geojson(region))
        _, _, apart = GEOD.inv(
            np.full(len(ring), lon), np.full(len(ring), 35.0), ring[:, 0], ring[:, 1]
        )
        assert apart.max() <= radius * 1.001  # each side's region within its own disc


def test_a_region_stored_by_an_older_version_is_no_change(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Older versions stored regions clockwise (and unrounded): the same region, so a
    replacement that changes nothing tells nothing and keeps the acknowledgements."""
    theater = Theater(store, clock=sample_morning())
    theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    mine = theater.file(red, "operation", body(disc("strike", 40.002, 35.0)))
    (first,) = mine.conflicts
    theater.acknowledge(blue, first.id)
    assert first.region_a is not None
    clockwise = shapely.reverse(shapely.from_geojson(first.region_a))
    stored = store.get_conflict(first.id)
    assert stored is not None
    older = dataclasses.replace(stored, region_a=shapely.to_geojson(clockwise))
    store.update_conflict(older)
    told: list[str] = []
    theater.subscribe(lambda events: told.extend(e.kind for e in events))
    same = theater.replace(red, mine.filing.id, 1, body(disc("strike", 40.002, 35.0)))
    assert told == [] and same.conflicts == (older,)
    assert store.get_conflict(first.id) == older  # blue's acknowledgement stands


def test_a_change_that_moves_no_footprint_draws_no_region(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """A later window on the same disc changes the conflict's window, not its regions:
    they are kept as stored (here, as an older version would have stored them)."""
    theater = Theater(store, clock=sample_morning())
    theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    mine = theater.file(red, "operation", body(disc("strike", 40.002, 35.0)))
    (first,) = mine.conflicts
    assert first.region_a is not None
    clockwise = shapely.to_geojson(shapely.reverse(shapely.from_geojson(first.region_a)))
    store.update_conflict(dataclasses.replace(first, region_a=clockwise))
    later = _moved("strike", 40.002, 500.0, "2017-09-16T10:00:00Z")
    (changed,) = theater.replace(red, mine.filing.id, 1, body(later)).conflicts
    assert changed.window_start == first.window_start + 4 * 3600
    assert changed.region_a == clockwise and changed.region_b == first.region_b


def test_new_rules_redraw_the_conflicts_they_keep(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    (before,) = theater.file(red, "operation", body(disc("strike", 40.004, 35.0))).conflicts
    theater.set_rules(coordinator, [SeparationRule(("*", "*"), horizontal_m=2000.0)])
    (after,) = store.conflicts_of_party("red")
    assert after.id == before.id and after.state == "open"
    # each side's region now reaches 2 km further into the other's footprint
    areas = [shapely.from_geojson(r).area for r in (before.region_a, before.region_b)]
    told: list[str] = []
    theater.subscribe(lambda events: told.extend(e.kind for e in events))
    # a rule for other kinds leaves this pair's separation, and so the conflict, alone
    theater.set_rules(
        coordinator,
        [
            SeparationRule(("*", "*"), horizontal_m=2000.0),
            SeparationRule(("air_strike", "convoy"), horizontal_m=9000.0),
        ],
    )
    assert told == [] and store.conflicts_of_party("red") == [after]
    assert all(
        shapely.from_geojson(r).area > area
        for r, area in zip((after.region_a, after.region_b), areas, strict=True)
    )


def test_changes_need_the_current_version_and_the_owner(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    theater = Theater(store, clock=sample_morning())
    mine = theater.file(red, "operation", body(disc("a", 40.0, 35.0)))
    theater.replace(red, mine.filing.id, 1, body(disc("a", 40.1, 35.0)))
    with pytest.raises(StaleVersion, match="version 2, not 1"):
        theater.replace(red, mine.filing.id, 1, body(disc("a", 40.2, 35.0)))
    for attempt in (
        lambda: theater.replace(blue, mine.filing.id, 2, body(disc("a", 40.2, 35.0))),
        lambda: theater.cancel(blue, mine.filing.id, 2),
        lambda: theater.filing(blue, mine.filing.id),
    ):
        with pytest.raises(UnknownFiling) as caught:
            attempt()
        # another party's filing is answered exactly like a missing one
        missing = pytest.raises(UnknownFiling)
        with missing as absent:
            theater.filing(blue, "operation-000000000000")
        assert type(caught.value) is type(absent.value)


def test_the_store_reads_a_filing_for_its_owner_only(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Asked for a filing (or a conflict) as a party, the store answers another
    party's as missing (compared in SQL, before its body or regions are read: read
    whole and compared after, another party's 2 MB filing was told from a made-up id
    by the time of its 404, bench/unknown_filing.py)."""
    theater = Theater(store, clock=sample_morning())
    mine = theater.file(red, "operation", body(disc("a", 40.0, 35.0))).filing
    theater.replace(red, mine.id, 1, body(disc("a", 40.1, 35.0)))
    for version in (None, 1, 2):
        own = store.get_filing(mine.id, version, party_id="red")
        assert own is not None and own.version == (version or 2)
        assert store.get_filing(mine.id, version, party_id="blue") is None
    assert store.get_filing("operation-000000000000", party_id="red") is None
    (conflict,) = theater.file(blue, "operation", body(disc("b", 40.1, 35.0))).conflicts
    parties.add_party(store, "green", "Green", "en")
    assert store.get_conflict(conflict.id, "red") == conflict
    assert store.get_conflict(conflict.id, "blue") == conflict
    assert store.get_conflict(conflict.id, "green") is None


def test_the_store_gives_a_conflicts_extent_this_changes_own_first(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The extent of a conflict's regions as the store keeps it for box filters: the
    written one, and, inside a change that drew it again, that change's own."""
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("a", 40.0, 35.0)))
    (conflict,) = theater.file(blue, "operation", body(disc("b", 40.005, 35.0))).conflicts
    regions = shapely.from_geojson([conflict.region_a, conflict.region_b])
    west, south, east, north = shapely.total_bounds(regions)
    written = store.conflict_extent(conflict.id)
    assert written is not None
    assert written[0] <= west and written[1] <= south
    assert written[2] >= east and written[3] >= north
    moved: Extent = (41.0, 36.0, 41.1, 36.1)
    with store.transaction():
        store.update_conflict(conflict, moved)
        assert store.conflict_extent(conflict.id) == moved
    assert store.conflict_extent(conflict.id) == moved
    assert store.conflict_extent(conflict.id + 1) is None


def test_cancel_withdraws_and_keeps_history(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    theater = Theater(store, clock=sample_morning())
    theirs = theater.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    mine = theater.file(red, "operation", body(disc("strike", 40.0, 35.0)))
    done = theater.cancel(red, mine.filing.id, 1)
    assert done.filing.state == "cancelled" and done.filing.version == 2
    assert [c.state for c in store.conflicts_of_party("blue")] == ["withdrawn"]
    history = theater.history(red, mine.filing.id)
    assert [(h.version, h.state) for h in history] == [(1, "active"), (2, "cancelled")]
    with pytest.raises(FilingGone):
        theater.replace(red, mine.filing.id, 2, body(disc("strike", 40.0, 35.0)))
    # cancelled volumes no longer count
    assert theater.file(blue, "site", body(disc("camp", 40.0, 35.0))).conflicts == ()
    assert theirs.filing.id != mine.filing.id


def test_a_restart_rebuilds_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ru")[0]
    first = Theater(store, clock=sample_morning())
    first.file(red, "operation", body(disc("r", 40.0, 35.0)))
    first.close()
    store.close()
    reopened = SqliteStore(path)
    outcome = Theater(reopened, clock=sample_morning()).file(
        blue, "operation", body(disc("b", 40.0, 35.0))
    )
    assert len(outcome.conflicts) == 1


def test_bad_bodies_are_refused_and_nothing_is_stored(store: SqliteStore, red: PartyRecord) -> None:
    theater = Theater(store, clock=sample_morning())
    bad = disc("x", 200.0, 35.0)
    with pytest.raises(ScenarioInvalid) as caught:
        theater.file(red, "operation", body(bad))
    assert any("feature 'x'" in p for p in caught.value.problems)
    stolen = disc("y", 40.0, 35.0)
    stolen["properties"]["party"] = "blue"  # type: ignore[index]
    with pytest.raises(InputError, match=r"properties\.party: must be the filing party 'red'"):
        theater.file(red, "operation", body(stolen))
    with pytest.raises(ScenarioUnreadable, match="not valid JSON"):
        theater.file(red, "operation", "{not json")
    with pytest.raises(InputError, match="category"):
        theater.file(red, "plan", body(disc("z", 40.0, 35.0)))  # type: ignore[arg-type]
    assert store.active_filings() == []


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    class FailingStore(SqliteStore):
        fail = False

        def add_conflict(self, conflict: ConflictRecord, extent: Extent | None = None) -> int:
            if self.fail:
                raise OSError("disk full")
            return super().add_conflict(conflict, extent)

    store = FailingStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    green = parties.add_party(store, "green", "Green", "ru")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    store.fail = True
    with pytest.raises(OSError):
        theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    store.fail = False
    assert [f.party_id for f in store.active_filings()] == ["red"]
    # the failed filing is not in the picture either: green meets only red
    outcome = theater.file(green, "operation", body(disc("g", 40.0, 35.0)))
    assert [c.party_b for c in outcome.conflicts] == ["red"]


def shapes() -> list[dict[str, object]]:
    """One feature of every geometry type, one across the antimeridian, one with rules."""
    times = {"start": "2017-09-16T06:00:00Z", "end": "2017-09-16T18:00:00Z"}
    return [
        disc("point", 40.0, 35.0),
        {
            "type": "Feature",
            "id": "route",
            "geometry": {"type": "LineString", "coordinates": [[39.99, 35.0], [40.01, 35.0]]},
            "properties": {"kind": "convoy", "width_m": 200, "altitude_high_m": 3000, **times},
        },
        {
            "type": "Feature",
            "id": "holed",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[39.9, 34.9], [40.1, 34.9], [40.1, 35.1], [39.9, 35.1], [39.9, 34.9]],
                    [[39.95, 34.95], [39.96, 34.95], [39.96, 34.96], [39.95, 34.95]],
                ],
            },
            "properties": {"kind": "patrol", "note": "بلا أهداف", **times},
        },
        {
            "type": "Feature",
            "id": "dateline",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[179.5, -17], [180, -17], [180, -16], [179.5, -16], [179.5, -17]]],
                    [[[-180, -17], [-179.5, -17], [-179.5, -16], [-180, -16], [-180, -17]]],
                ],
            },
            "properties": {"kind": "patrol", **times},
        },
    ]  # fmt: skip


def fields_of(volume: Volume) -> tuple[object, ...]:
    """A volume's fields, its geometry as WKB (volumes compare by identity)."""
    return tuple(
        shapely.to_wkb(getattr(volume, f.name)) if f.name == "geometry" else getattr(volume, f.name)
        for f in dataclasses.fields(volume)
    )


def test_a_restart_restores_every_volume_exactly_without_reparsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ru")[0]
    theater = Theater(store, clock=sample_morning())
    kept = theater.file(red, "operation", body(*shapes())).filing
    moved = theater.file(red, "operation", body(disc("m", 10.0, 10.0))).filing
    theater.replace(red, moved.id, 1, body(disc("m", 40.0, 35.0)))
    gone = theater.file(red, "operation", body(disc("g", 40.0, 35.0))).filing
    theater.cancel(red, gone.id, 1)
    before = [theater._index.get(v) for ids in theater._volume_ids.values() for v in ids]
    probes = body(disc("p", 40.0, 35.0), disc("q", -179.9, -16.5, 100.0))
    expected = [
        (c.volume_b, c.region_a, c.region_b, c.horizontal_distance_m)
        for c in theater.file(blue, "operation", probes).conflicts
    ]
    assert len(expected) == 5  # 3 near Deir ez-Zor, the moved disc, and across the dateline
    theater.close()
    store.close()

    def no_parsing(*args: object) -> None:
        raise AssertionError("a restart re-parsed a filing")

    reopened = SqliteStore(path)
    with monkeypatch.context() as patched:
        patched.setattr(Theater, "volumes", no_parsing)
        restarted = Theater(reopened, clock=sample_morning())
    for volume in before:
        assert fields_of(restarted._index.get(volume.id)) == fields_of(volume)
    assert gone.id not in restarted._volume_ids
    assert len(restarted._volume_ids[kept.id]) == len(shapes())
    green = parties.add_party(reopened, "green", "Green", "en")[0]
    outcome = restarted.file(green, "operation", probes)
    # the same conflicts as blue's probes found before the restart, with the same regions
    found = [
        (c.volume_b, c.region_a, c.region_b, c.horizontal_distance_m)
        for c in outcome.conflicts
        if c.party_b == "red"
    ]
    assert [f[0] for f in found] == [e[0] for e in expected]
    assert [f[3] for f in found] == [e[3] for e in expected]
    for f, e in zip(found, expected, strict=True):
        for drawn, before_restart in ((f[1], e[1]), (f[2], e[2])):
            # the same region, within rounding (drawn from the other side's frame)
            assert shapely.equals_exact(
                shapely.from_geojson(drawn), shapely.from_geojson(before_restart), 1e-9
            )


def test_a_schema_1_store_gets_its_footprints_once(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    parties.add_party(store, "blue", "Blue", "ru")
    first = Theater(store, clock=sample_morning())
    first.file(red, "operation", body(*shapes()))
    first.close()
    store.close()
    with sqlite3.connect(path) as raw:  # as Tansiq 0.x left it: no volume table
        raw.executescript(
            f"{BEFORE_8} DROP TABLE volume;"
            " DELETE FROM setting WHERE name = 'footprints_stored';"
            " ALTER TABLE conflict DROP COLUMN version; DROP TABLE filing_key;"
            " DROP INDEX filing_version_by_party; DROP TABLE conflict_extent;"
            " PRAGMA user_version = 1;"
            # an id filed when a newline was allowed in one (until 2026-12-02): the
            # body is read again, and must still be (a reviewer's store did not open)
            """ UPDATE filing_version SET body = replace(body, '"id": "route"',"""
            """ '"id": "route\\n2"');"""
        )
    migrated = SqliteStore(path)
    theater = Theater(migrated, clock=sample_morning())
    assert len(migrated.volume_footprints()) == 4
    assert any(row[0].endswith("/route\n2") for row in migrated.volume_footprints())
    blue = migrated.get_party("blue")
    assert blue is not None
    outcome = theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    assert len(outcome.conflicts) == 3  # the point, the route and the holed polygon


def test_a_schema_6_store_gets_the_extents_of_its_conflicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Conflicts stored before extents were kept get them from their regions when the
    store is opened (every geometry type, the antimeridian), saying how far it got;
    a migration that fails leaves the store as it was; pages filtered by a box then
    find what the whole read finds."""
    import sqlite3

    import tansiq.store.sqlite as sqlite_module
    from tansiq.store import extents

    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ru")[0]
    first = Theater(store, clock=sample_morning())
    first.file(red, "operation", body(*shapes()))
    first.file(blue, "operation", body(disc("b", 40.0, 35.0), disc("d", -179.9995, -16.5)))
    boxes = [
        (39.0, 34.0, 41.0, 36.0),
        (179.9, -17.0, -179.9, -16.0),  # across the antimeridian
        (170.0, -20.0, 180.0, -10.0),
        (-180.0, -20.0, -170.0, -10.0),
        (40.0, 35.0, 40.0, 35.0),  # a point
        (0.0, 0.0, 10.0, 10.0),
    ]
    expected = [[c.id for c in first.conflicts(red, bbox=box)] for box in boxes]
    assert [len(ids) for ids in expected] == [3, 1, 1, 1, 3, 0]
    first.close()
    store.close()
    with sqlite3.connect(path) as raw:  # as Tansiq left it before extents were kept
        raw.executescript(f"DROP TABLE conflict_extent; {BEFORE_8} PRAGMA user_version = 6;")

    calls = []
    of_regions = extents.of_regions

    def fails_on_the_third(*texts: str | None) -> Extent | None:
        calls.append(texts)
        if len(calls) == 3:
            raise OSError("disk I/O error")
        return of_regions(*texts)

    monkeypatch.setattr(extents, "of_regions", fails_on_the_third)
    with pytest.raises(OSError, match="disk I/O error"):
        SqliteStore(path)
    with sqlite3.connect(path) as raw:  # nothing of it was kept
        assert raw.execute("PRAGMA user_version").fetchone() == (6,)
        tables = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        assert ("conflict_extent",) not in tables
    monkeypatch.setattr(extents, "of_regions", of_regions)
    monkeypatch.setattr(sqlite_module, "MIGRATION_TELL_FROM", 1)
    monkeypatch.setattr(sqlite_module, "MIGRATION_REPORT_S", 0.0)
    monkeypatch.setattr(sqlite_module, "_EXTENTS_AT_ONCE", 2)
    migrated = SqliteStore(path)
    messages = [r.getMessage() for r in caplog.records if r.name == sqlite_module.__name__]
    assert messages[0].endswith("finding the extents of 4 conflicts' regions (once)")
    assert messages[-1].endswith("4 of 4 conflicts' extents found (100 %, about 0 min left)")
    assert_extents_hold_the_regions(migrated.path)
    # a conflict without an extent (one an older server wrote after the upgrade) is
    # checked by its regions, not dropped (found by a review)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM conflict_extent WHERE id = ?", (expected[1][0],))
    theater = Theater(migrated, clock=sample_morning())
    for box, ids in zip(boxes, expected, strict=True):
        found: list[int] = []
        after: int | None = 0
        while after is not None:  # a conflict a page
            page, after = theater.conflicts_page(red, bbox=box, after=after, limit=1)
            found += [c.id for c in page]
        assert found == ids, box


def test_a_store_being_served_is_not_migrated_under_its_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older server holds the store: opening it with this Tansiq (`tansiq party
    list`, say) is refused, naming why, and changes nothing; once it stops, the store
    is migrated. A conflict whose regions cannot be read gets no extent (said in the
    log) and does not stop the migration."""
    import sqlite3

    from tansiq.errors import StoreUnusable
    from tansiq.store.serving_lock import ServingLock

    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ru")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("r", 40.0, 35.0), disc("q", 41.0, 35.0)))
    first, second = theater.file(
        blue, "operation", body(disc("b", 40.0, 35.0), disc("c", 41.0, 35.0))
    ).conflicts
    theater.close()
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE conflict SET region_a = 'null' WHERE id = ?", (second.id,))
        raw.executescript(f"DROP TABLE conflict_extent; {BEFORE_8} PRAGMA user_version = 6;")
    served = ServingLock(str(path))
    served.take()
    refusal = r"another process serves it or is upgrading it \(schema 6\); stop"
    with pytest.raises(StoreUnusable, match=refusal):
        SqliteStore(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (6,)
    served.release()
    with sqlite3.connect(path) as raw:
        SqliteStore(path).close()
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("SELECT id FROM conflict_extent").fetchall() == [(first.id,)]
    assert f"conflict {second.id}: its regions could not be read" in caplog.text


def test_a_conflict_without_regions_is_never_a_box_page_candidate(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """A conflict with no regions has no place: the store does not hand it on for a
    box, even without an extent row (they were read whole and counted against the
    page's checks: a review); one with regions and no extent is handed on."""
    import sqlite3

    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("r", 40.0, 35.0), disc("q", 41.0, 35.0)))
    placeless, unknown = theater.file(
        blue, "operation", body(disc("b", 40.0, 35.0), disc("c", 41.0, 35.0))
    ).conflicts
    with sqlite3.connect(store.path) as raw:
        raw.execute("DELETE FROM conflict_extent")
        raw.execute(
            "UPDATE conflict SET region_a = NULL, region_b = NULL WHERE id = ?", (placeless.id,)
        )
    nowhere = [(0.0, 0.0, 1.0, 1.0)]
    chunk = store.conflicts_of_party_after("red", None, 0, 10, boxes=nowhere)
    assert [c.id for c in chunk.conflicts] == [unknown.id]
    assert chunk.inside == frozenset()


def test_a_store_migrated_by_another_process_meanwhile_is_not_migrated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two commands open a schema-6 store together: the second to take the lock finds
    it migrated and opens it (it tried again and was refused: a review)."""
    import sqlite3

    import tansiq.store.sqlite as sqlite_module
    from tansiq.store.serving_lock import ServingLock

    path = tmp_path / "tansiq.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.executescript(f"DROP TABLE conflict_extent; {BEFORE_8} PRAGMA user_version = 6;")

    class OtherFirst(ServingLock):
        def take(self) -> None:
            monkeypatch.setattr(sqlite_module, "ServingLock", ServingLock)
            SqliteStore(path).close()  # the other process, all of its migration
            super().take()

    monkeypatch.setattr(sqlite_module, "ServingLock", OtherFirst)
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_box_page_checks_only_so_many_regions_and_says_where_it_stopped(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A box in the corner of the regions' common extent meets every extent and no
    region: each page checks at most so many regions (here 2, one at a time), stops
    short with where it stopped, and following it reads them all and finds none;
    a box that meets them finds them all, a page each, each page stopping once full;
    a box that holds their extents finds them without reading their regions."""
    import tansiq.service.theater as theater_module

    theater = Theater(store, clock=sample_morning())
    for k in range(5):
        theater.file(red, "operation", body(disc(f"r{k}", 40.0, 35.0)))
    theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    every = [c.id for c in theater.conflicts(red)]
    assert len(every) == 5
    monkeypatch.setattr(theater_module, "_CHECKED_AT_ONCE", 1)
    theater.regions_checked = 2
    # the discs' common box reaches about 0.0055 degrees of longitude each way
    corner = (40.0052, 35.0042, 40.0056, 35.0046)
    assert theater.conflicts(red, bbox=corner) == []

    def pages(bbox: tuple[float, float, float, float]) -> list[tuple[list[int], int | None]]:
        found, after = [], 0
        while True:
            page, next_after = theater.conflicts_page(red, bbox=bbox, after=after, limit=1)
            found.append(([c.id for c in page], next_after))
            if next_after is None:
                return found
            after = next_after

    assert pages(corner) == [([], every[1]), ([], every[3]), ([], None)]
    centre = (39.999, 34.999, 40.001, 35.001)
    # a full page stops at once; the one after the last finds there is no more
    assert pages(centre) == [([i], i) for i in every] + [([], None)]
    # a box that holds the extents whole needs no look at the regions: none counts
    # against the most a page checks, so one page holds them all
    around = (39.9, 34.9, 40.1, 35.1)
    assert theater.conflicts_page(red, bbox=around, limit=10) == (theater.conflicts(red), None)


def test_rules_saved_before_the_limits_still_open(store: SqliteStore, red: PartyRecord) -> None:
    """The limits refuse new rules; a store whose rules were set before them serves on."""
    wide = '[{"between": ["*", "*"], "horizontal_m": 2000000.0, "vertical_m": 0, "time_s": 0}]'
    store.set_setting("separation", wide)
    theater = Theater(store, clock=sample_morning())
    assert [rule.horizontal_m for rule in theater.rules] == [2_000_000.0]


def test_a_schema_8_store_begins_the_rules_history_with_the_rules_it_holds(
    tmp_path: Path,
) -> None:
    """Rules set before the history was kept are its first change, by no one at no
    time (who set them, and when, was not kept); a store that never had rules begins
    it empty. Changes after the upgrade come after them."""
    import sqlite3

    held, empty = tmp_path / "held.db", tmp_path / "empty.db"
    for path in (held, empty):
        store = SqliteStore(path)
        parties.add_party(store, "un", "UN", "en", "coordinator")
        store.close()
    rules = '[{"between": ["*", "*"], "horizontal_m": 300.0, "vertical_m": 0, "time_s": 0}]'
    with sqlite3.connect(held) as raw:  # as Tansiq left rules before schema 9
        raw.executescript(
            f"{BEFORE_9} PRAGMA user_version = 8;"
            f" INSERT INTO setting VALUES ('separation', '{rules}'), ('lead_time_h', '6.0');"
        )
    with sqlite3.connect(empty) as raw:
        raw.executescript(
            f"{BEFORE_9} PRAGMA user_version = 8;"
            " INSERT INTO webhook VALUES ('un', 'https://example.org/hook', 0);"
        )
    store = SqliteStore(held)
    (first,) = store.rules_changes()
    assert first == RulesChangeRecord(1, rules, 6.0, None, None)
    theater = Theater(store, clock=sample_morning())
    assert theater.committed_rules().change == first
    assert [r.horizontal_m for r in theater.committed_rules().separation] == [300.0]
    coordinator = store.get_party("un")
    assert coordinator is not None
    theater.set_rules(coordinator, [], 2.0)
    assert [(c.id, c.party_id, c.lead_time_h) for c in store.rules_changes()] == [
        (1, None, 6.0), (2, "un", 2.0),
    ]  # fmt: skip
    theater.close()
    store.close()
    never = SqliteStore(empty)
    assert never.rules_changes() == []
    # schema 10: a webhook from before, its token not kept
    assert never.webhook_of("un") == ("https://example.org/hook", 0)
    assert never.webhook_token("un") is None
    unset = Theater(never, clock=sample_morning())
    assert unset.committed_rules().change is None
    unset.close()


def test_a_schema_2_store_gets_what_came_after(tmp_path: Path) -> None:
    """Conflicts stored before versions existed read as version 1, and count on;
    Idempotency-Keys are kept (schema 4); filings are listed by party (schema 5)."""
    import sqlite3

    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ru")[0]
    first = Theater(store, clock=sample_morning())
    mine = first.file(red, "operation", body(disc("r", 40.0, 35.0)))
    (conflict,) = first.file(blue, "operation", body(disc("b", 40.0, 35.0))).conflicts
    first.close()
    store.close()
    with sqlite3.connect(path) as raw:  # as Tansiq left it before conflicts had versions
        raw.executescript(
            "ALTER TABLE conflict DROP COLUMN version; DROP TABLE filing_key;"
            " DROP INDEX filing_version_by_party; DROP TABLE conflict_extent;"
            f" {BEFORE_8} PRAGMA user_version = 2;"
        )
    migrated = SqliteStore(path)
    # (when it took its shape is kept from schema 13 on)
    assert migrated.get_conflict(conflict.id) == dataclasses.replace(conflict, shown_at=None)
    theater = Theater(migrated, clock=sample_morning())
    moved = theater.replace(red, mine.filing.id, 1, body(disc("r", 40.003, 35.0)))
    assert [c.version for c in moved.conflicts] == [2]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    # a party's filings are listed (schema 5's index)
    assert [f.id for f in migrated.filings_of_party("red", "operation")] == [mine.filing.id]
    # and Idempotency-Keys are kept (schema 4)
    keyed = theater.file(blue, "site", body(disc("s", 41.0, 35.0)), key="k")
    assert theater.file(blue, "site", body(disc("s", 41.0, 35.0)), key="k").replayed
    assert not keyed.replayed


def test_expired_operations_stop_counting_once_their_time_separation_has_passed(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """An operation ended at 18:00 with a 30-minute time separation: at 18:20 a
    filing just after it still conflicts; at 18:31 the same filing meets nothing."""
    from tansiq.scenario.model import SeparationRule

    evening = 1505584800.0  # 2017-09-16T18:00:00Z, when red's disc ends
    now = [evening - 3600.0]
    theater = Theater(store, [SeparationRule(("*", "*"), 0.0, 0.0, 1800.0)], lambda: now[0])
    theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    after = disc("b", 40.0, 35.0)
    after["properties"].update(start="2017-09-16T18:10:00Z", end="2017-09-16T19:00:00Z")  # type: ignore[attr-defined]
    now[0] = evening + 20 * 60
    assert len(theater.file(blue, "operation", body(after)).conflicts) == 1
    now[0] = evening + 31 * 60
    assert theater.file(blue, "operation", body(after)).conflicts == ()
    # expired, not resolved: the conflict found while it counted stays as it was
    assert [c.state for c in store.conflicts_of_party("red")] == ["open"]


@pytest.mark.parametrize("lat", [89.99, -89.99])
def test_operations_round_a_pole_conflict_with_a_valid_region(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, lat: float
) -> None:
    """Two patrols whose discs hold the pole: the second filing finds the first, and
    each side is shown a valid GeoJSON region round the pole (the change failed when
    GEOS refused the region's self-crossing ring)."""
    theater = Theater(store, clock=sample_morning())
    theater.file(red, "operation", body(disc("r1", 0.0, lat, 5000.0)))
    second = theater.file(blue, "operation", body(disc("b1", 90.0, lat, 3000.0)))
    (conflict,) = second.conflicts
    for text in (conflict.region_a, conflict.region_b):
        region = shapely.from_geojson(text)
        assert region.is_valid and not region.is_empty
        assert region.bounds[0] == -180.0 and region.bounds[2] == 180.0


def test_after_a_restart_a_replacement_still_judges_the_conflicts_it_keeps(
    tmp_path: Path, store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """A restarted theater makes each stored volume from its row when first asked; the
    version being replaced must be read before its row is replaced, or the new version
    is compared with itself and a changed conflict is kept as it was."""
    first = Theater(store, clock=sample_morning())
    first.file(blue, "site", body(disc("clinic", 40.0, 35.0)))
    first.close()
    second = Theater(store, clock=sample_morning())
    mine = second.file(red, "operation", body(disc("strike", 40.004, 35.0)))
    second.close()
    (before,) = mine.conflicts
    restarted = Theater(SqliteStore(tmp_path / "tansiq.db"), clock=sample_morning())
    moved = disc("strike", 40.005, 35.0)
    moved["properties"] = {**moved["properties"], "kind": "air_strike"}  # type: ignore[dict-item]
    (after,) = restarted.replace(red, mine.filing.id, 1, body(moved)).conflicts
    assert after.id == before.id
    assert after.kind_a == "air_strike" and after.region_a != before.region_a


def test_a_rule_that_moves_the_expiry_horizon_judges_every_pair_again(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The horizon of expiry is the rules' longest time separation: a rule for kinds
    nobody filed can make over operations count again, and their pairs, of kinds whose
    minimums did not change, must be judged (found by a second review: a rule for
    convoys left two overlapping patrols without their conflict)."""
    noon = 1505563200.0  # 2017-09-16T12:00:00Z

    def patrol(lon: float) -> str:
        feature = disc("f", lon, 35.0)
        feature["properties"] = {
            "kind": "patrol", "radius_m": 500.0,
            "start": "2017-09-16T10:00:00Z", "end": "2017-09-16T11:30:00Z",
        }  # fmt: skip
        return body(feature)

    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=lambda: noon)
    base = [SeparationRule(("*", "*"), horizontal_m=100.0)]
    theater.set_rules(coordinator, base)
    theater.file(red, "operation", patrol(40.0))
    theater.file(blue, "operation", patrol(40.005))
    assert store.open_conflicts() == []  # both over at 11:30: they no longer count
    # convoys kept apart an hour after: what ended at 11:30 counts until 12:30
    convoys = SeparationRule(("convoy", "convoy"), time_s=3600.0)
    done = theater.set_rules(coordinator, [*base, convoys])
    assert done.opened == 1 and done.kinds == (("patrol", "patrol"),)
    (opened,) = store.open_conflicts()
    assert {opened.party_a, opened.party_b} == {"red", "blue"}
    # and back: they stop counting again, the conflict stays in the record as it was
    theater.set_rules(coordinator, base)
    assert [c.id for c in store.open_conflicts()] == [opened.id]


def test_each_conflict_names_the_change_of_rules_it_was_judged_under(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Which agreed minimums judged a conflict: its opening time cannot tell while a
    catch-up runs (pairs filed before new rules are judged under the old ones until
    their turn), so each conflict records the change in force when it took the form it
    shows: opened, redrawn or closed (schema 11)."""
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    # ~456 m apart (discs of 500 m): a conflict under any rules; ~1,003 m: only under a
    # horizontal minimum of some metres
    theater.file(red, "operation", body(disc("a", 40.0, 35.0)))
    (overlap,) = theater.file(blue, "operation", body(disc("b", 40.005, 35.0))).conflicts
    assert overlap.rules_change is None  # the server's defaults: no change was made
    theater.file(red, "operation", body(disc("c", 40.02, 35.0)))
    assert theater.file(blue, "operation", body(disc("d", 40.031, 35.0))).conflicts == ()

    theater.set_rules(coordinator, [SeparationRule(("*", "*"), horizontal_m=100.0)])
    first = theater.committed_rules().change
    assert first is not None
    by_id = {c.id: c for c in store.open_conflicts()}
    assert by_id[overlap.id].rules_change == first.id  # redrawn under the new minimum
    (gap,) = [c for c in by_id.values() if c.id != overlap.id]  # opened by it
    assert gap.rules_change == first.id

    theater.set_rules(coordinator, [])
    second = theater.committed_rules().change
    assert second is not None and second.id == first.id + 1
    closed = store.get_conflict(gap.id)
    assert closed is not None and closed.state == "resolved"
    assert closed.rules_change == second.id  # the rules that resolved it
    kept = store.get_conflict(overlap.id)
    assert kept is not None and kept.rules_change == second.id
    (late,) = theater.file(blue, "operation", body(disc("e", 40.0, 35.0))).conflicts
    assert late.rules_change == second.id
    reread = store.get_conflict(late.id)
    assert reread is not None and reread.rules_change == second.id


def test_a_schema_10_store_keeps_its_conflicts_without_their_rules(
    tmp_path: Path,
) -> None:
    """Conflicts written before schema 11 name no change of rules (not kept then); the
    upgrade writes no row, and conflicts written after it name theirs."""
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    theater.set_rules(coordinator, [SeparationRule(("*", "*"), horizontal_m=100.0)])
    theater.file(red, "operation", body(disc("a", 40.0, 35.0)))
    (before,) = theater.file(blue, "operation", body(disc("b", 40.005, 35.0))).conflicts
    assert before.rules_change == 1
    theater.close()
    store.close()
    store = _upgraded(path, BEFORE_11, 10)
    kept = store.get_conflict(before.id)
    assert kept is not None and kept.rules_change is None
    theater = Theater(store, clock=sample_morning())
    (after,) = theater.file(red, "operation", body(disc("c", 40.005, 35.0))).conflicts
    assert after.rules_change == 1


def test_a_second_theater_over_the_same_store_is_refused(tmp_path: Path) -> None:
    """It would see only its own filings: two overlapping operations filed through the
    two would both be accepted with no conflict between them."""
    path = tmp_path / "tansiq.db"
    first = Theater(SqliteStore(path), clock=sample_morning())
    with pytest.raises(StoreInUse, match="already served by another process"):
        Theater(SqliteStore(path), clock=sample_morning())
    first.close()
    red = parties.add_party(SqliteStore(path), "red", "Red", "en")[0]
    with pytest.raises(RuntimeError, match="closed"):  # closed, it changes nothing more
        first.file(red, "operation", body(disc("r1", 40.0, 35.0)))
    Theater(SqliteStore(path), clock=sample_morning()).close()  # once closed, it may open


def test_a_link_to_the_store_is_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "tansiq.db"
    first = Theater(SqliteStore(path), clock=sample_morning())
    link = tmp_path / "link.db"
    link.symlink_to(path)
    with pytest.raises(StoreInUse):
        Theater(SqliteStore(link), clock=sample_morning())
    first.close()


def test_a_theater_that_fails_to_open_leaves_the_store_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freed by the theater itself, not by the collector: a theater that has read volumes
    is in a reference cycle, and would hold the store until the cycle collector ran
    (disabled here, so that only an explicit release can pass)."""
    path = tmp_path / "tansiq.db"
    red = parties.add_party(SqliteStore(path), "red", "Red", "en")[0]
    first = Theater(SqliteStore(path), clock=sample_morning())
    first.file(red, "operation", body(disc("r1", 40.0, 35.0)))  # a volume to read
    first.close()

    def broken(*args: object) -> None:
        raise OSError("the kernels could not be loaded")

    gc.disable()
    try:
        with monkeypatch.context() as patched:
            patched.setattr("tansiq.service.theater.warm_up", broken)
            with pytest.raises(OSError, match="kernels"):
                Theater(SqliteStore(path), clock=sample_morning())
        Theater(SqliteStore(path), clock=sample_morning()).close()
    finally:
        gc.enable()


def test_closing_commits_a_batch_left_for_a_change_that_never_comes(tmp_path: Path) -> None:
    """A change whose writes wait in the open batch for a change queued behind it (group
    commit) is committed by ``close``, before the store is free, and answered."""
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    theater = Theater(store, clock=sample_morning())
    theater._queued = 1  # as if another change were queued behind the next one
    answered: list[str] = []
    change = threading.Thread(
        target=lambda: answered.append(
            theater.file(red, "operation", body(disc("r1", 40.0, 35.0))).filing.id
        ),
        daemon=True,  # if close() failed to commit, it would wait for ever
    )
    change.start()
    for _ in range(500):  # until its writes wait in the open batch
        if store.pending() is not None:
            break
        change.join(timeout=0.01)
    assert store.pending() is not None and not answered
    theater.close()
    change.join(timeout=10)
    assert len(answered) == 1  # answered, once durable
    reopened = Theater(SqliteStore(path), clock=sample_morning())
    assert reopened.active_volumes == 1  # and the next theater finds it
    reopened.close()


def test_two_operations_replaced_in_turn_hundreds_of_times_stay_checked(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The index packs its newest 256 volumes together; here all but one of them were
    replaced by then, and packing one volume failed (found while speeding up restarts)."""
    theater = Theater(store, clock=sample_morning())
    held = {
        party.id: theater.file(party, "operation", body(disc("op", 40.0 + k * 0.004, 35.0)))
        for k, party in enumerate((red, blue))
    }
    for turn in range(300):
        party = (red, blue)[turn % 2]
        was = held[party.id].filing
        lon = 40.0 + (turn % 2) * 0.004 + (turn % 3) * 1e-4
        held[party.id] = theater.replace(party, was.id, was.version, body(disc("op", lon, 35.0)))
        (conflict,) = held[party.id].conflicts  # the two discs always overlap
        assert conflict.state == "open"
    assert len(store.conflicts_of_party("red", state="open")) == 1


def test_an_operation_ended_early_resolves_the_conflicts_ahead_of_it(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's 06:00-18:00 operation met blue's 13:00-15:00; at 12:45 red says it ended at
    12:30. The conflict lay ahead and red will not be there: resolved, and both told
    (a second reviewer found it left open for ever, as if it had been over)."""
    now = [SAMPLE_MORNING_S + 12 * 3600]
    theater = Theater(store, clock=lambda: now[0])

    mine = theater.file(red, "operation", timed("a", 40.0, "06:00", "18:00"))
    (conflict,) = theater.file(blue, "operation", timed("b", 40.005, "13:00", "15:00")).conflicts
    now[0] += 45 * 60
    ended = theater.replace(red, mine.filing.id, 1, timed("a", 40.0, "06:00", "12:30"))
    assert ended.conflicts == ()
    assert store.get_conflict(conflict.id).state == "resolved"  # type: ignore[union-attr]
    assert [e.kind for e in store.events_after("blue", 0)] == [
        "conflict.opened",
        "conflict.resolved",
    ]


@pytest.mark.parametrize("expired", ["the other side", "the replaced side"])
def test_a_replacement_leaves_a_conflict_with_an_expired_side_as_it_was(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, expired: str
) -> None:
    """Red corrects a note of its operation at 10:00. Blue's (06:00-08:00), or red's own
    (06:00-07:00: an after-action note), has expired by then; the conflict found while
    both counted stays open, as the rules' change leaves it, and nobody is told it was
    resolved (found by a second reviewer: it was resolved)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    red_end, blue_end = ("18", "08") if expired == "the other side" else ("07", "18")

    def op(fid: str, lon: float, end_h: str, note: str = "") -> str:
        feature = disc(fid, lon, 35.0)
        feature["properties"].update(end=f"2017-09-16T{end_h}:00:00Z", note=note)  # type: ignore[attr-defined]
        return body(feature)

    mine = theater.file(red, "operation", op("a", 40.0, red_end))
    (conflict,) = theater.file(blue, "operation", op("b", 40.005, blue_end)).conflicts
    now[0] = SAMPLE_MORNING_S + 10 * 3600
    again = theater.replace(red, mine.filing.id, 1, op("a", 40.0, red_end, "refuel at 12"))
    assert store.get_conflict(conflict.id) == conflict
    assert again.conflicts == (conflict,)
    assert [e.kind for e in store.events_after("blue", 0)] == ["conflict.opened"]
    # a feature dropped from the filing is no longer there to conflict: resolved
    theater.replace(red, mine.filing.id, 2, op("other", 44.0, red_end))
    assert store.get_conflict(conflict.id).state == "resolved"  # type: ignore[union-attr]


def test_after_a_restart_a_conflict_over_before_a_replacement_stays_as_it_was(
    tmp_path: Path,
) -> None:
    """Red's 06:00-07:00 operation had expired when, at 10:00 and after a restart (its
    volumes restored without being made), red moved it away and into the afternoon:
    the conflict it had was over, and stays as it was."""
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    early = disc("a", 40.0, 35.0)
    early["properties"].update(end="2017-09-16T07:00:00Z")  # type: ignore[attr-defined]
    mine = theater.file(red, "operation", body(early))
    (conflict,) = theater.file(blue, "operation", body(disc("b", 40.005, 35.0))).conflicts
    theater.close()
    now[0] = SAMPLE_MORNING_S + 10 * 3600
    theater = Theater(store, clock=lambda: now[0])
    later = disc("a", 44.0, 30.0)
    later["properties"].update(start="2017-09-16T13:00:00Z")  # type: ignore[attr-defined]
    theater.replace(red, mine.filing.id, 1, body(later))
    assert store.get_conflict(conflict.id) == conflict


def test_a_new_kind_with_another_separation_draws_the_regions_again(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's patrol (no separation from a partner's position) becomes a strike (5 km)
    over the same ground: blue must be shown what lies within 5 km of its position,
    as a fresh conflict would show it, not the patrol's narrow overlap (found by a
    second reviewer: a kind's change moved no footprint, so nothing was drawn again)."""
    from tansiq.scenario.model import SeparationRule

    rules = [
        SeparationRule(("strike", "position"), horizontal_m=5000.0),
        SeparationRule(("patrol", "position"), horizontal_m=0.0),
    ]
    theater = Theater(store, rules, sample_morning())

    def square(fid: str, kind: str, west: float, east: float) -> str:
        feature = disc(fid, 0.0, 0.0)
        feature["geometry"] = shapely.geometry.mapping(shapely.box(west, 35.28, east, 35.32))
        feature["properties"] = {**feature["properties"], "kind": kind}  # type: ignore[dict-item]
        del feature["properties"]["radius_m"]  # type: ignore[attr-defined]
        return body(feature)

    mine = theater.file(red, "operation", square("s", "patrol", 40.10, 40.20))
    position = square("hq", "position", 40.19, 40.25)
    (narrow,) = theater.file(blue, "site", position).conflicts
    (wide,) = theater.replace(red, mine.filing.id, 1, square("s", "strike", 40.10, 40.20)).conflicts
    green = parties.add_party(store, "green", "Green", "ru")[0]
    (fresh,) = [c for c in theater.file(green, "site", position).conflicts if c.party_b == "red"]
    shown = shapely.from_geojson(wide.region_a if wide.party_a == "red" else wide.region_b)
    expected = shapely.from_geojson(fresh.region_b)
    assert shapely.equals_exact(shown, expected, 1e-9)
    assert shown.area > 5 * shapely.from_geojson(
        narrow.region_b if narrow.party_b == "red" else narrow.region_a
    ).area


def test_with_no_lead_time_asked_nothing_is_late_by_it(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The default lead time is 0: two permanent sites (no window), and an operation
    whose window began before it was filed, are not late notices (every such conflict
    was flagged: found by a reviewer). With a lead time asked, both are."""
    theater = Theater(store, clock=sample_morning())  # 00:00; the discs run 06:00-18:00

    def permanent(fid: str, lon: float) -> str:
        feature = disc(fid, lon, 35.0)
        properties = feature["properties"]
        assert isinstance(properties, dict)
        del properties["start"], properties["end"]
        return body(feature)

    theater.file(red, "site", permanent("camp", 40.0))
    (sites,) = theater.file(blue, "site", permanent("clinic", 40.004)).conflicts
    theater.file(red, "operation", body(disc("patrol", 41.0, 35.0)))
    begun = disc("late", 41.004, 35.0)
    begun["properties"].update(start="2017-09-15T23:00:00Z")  # type: ignore[attr-defined]
    (operations,) = theater.file(blue, "operation", body(begun)).conflicts
    assert (sites.late_notice, operations.late_notice) == (False, False)
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater.set_rules(coordinator, [], lead_time_h=1.0)
    assert theater.file(red, "site", permanent("camp-2", 40.002)).conflicts[0].late_notice


def test_a_zones_new_notice_judges_its_open_conflicts_again(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's patrol (filed at 00:00, starting 06:00) is in blue's zone. The zone comes to
    ask 24 hours' notice: the conflict is now a late notice, and both sides are told;
    asked none again, it is not (a zone's new notice left the flag as it was: found by
    a reviewer)."""
    theater = Theater(store, clock=sample_morning())
    zone = theater.file(blue, "zone", body(disc("area", 40.0, 35.0, 2000.0)))
    (conflict,) = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0))).conflicts
    assert conflict.late_notice is False

    def asking(version: int, hours: float) -> ConflictRecord:
        (kept,) = theater.replace(blue, zone.filing.id, version, zone_asking(hours)).conflicts
        return kept

    assert asking(1, 24.0).late_notice is True
    assert asking(2, 0.0).late_notice is False
    kinds = [e.kind for e in store.events_after("red", 0)]
    assert kinds == ["conflict.opened", "conflict.changed", "conflict.changed"]
    assert asking(3, 0.0).late_notice is False  # the same rule again: no change, no event
    assert len(store.events_after("red", 0)) == 3


def test_an_operation_ended_early_keeps_what_did_happen(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's 04:00-10:00 met blue's 06:00-08:00; at 07:00 red says it ended at 06:30.
    They did share the ground from 06:00 to 06:30: the conflict stays, its window that
    half hour, both told it changed (a reviewer found it resolved, as if it had not
    happened), and, told six hours ahead under a lead time of one, not a late notice
    (judged again from 07:00 it read as one: a later reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater.set_rules(coordinator, [], lead_time_h=1.0)

    mine = theater.file(red, "operation", timed("a", 40.0, "04:00", "10:00"))
    (conflict,) = theater.file(blue, "operation", timed("b", 40.005, "06:00", "08:00")).conflicts
    now[0] = SAMPLE_MORNING_S + 7 * 3600
    (kept,) = theater.replace(red, mine.filing.id, 1, timed("a", 40.0, "04:00", "06:30")).conflicts
    assert (kept.id, kept.state) == (conflict.id, "open")
    assert (kept.window_start, kept.window_end) == (
        SAMPLE_MORNING_S + 6 * 3600,
        SAMPLE_MORNING_S + 6.5 * 3600,
    )
    assert store.get_conflict(conflict.id) == kept
    assert conflict.late_notice is False and kept.late_notice is False
    kinds = [e.kind for e in store.events_after("blue", 0)]
    assert kinds == ["conflict.opened", "conflict.changed"]


def test_a_zones_new_notice_keeps_the_lead_time_judged_from_the_opening(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """With a theater lead time of 6 hours, a patrol filed 6 hours ahead (00:00 for
    06:00) into a zone asking 1 hour's notice is not late. At 03:00 the zone asks 2
    hours: still met; judged from 03:00 the lead time would have flagged it (a
    reviewer). At 3.30 the zone asks 8 hours: late."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater.set_rules(coordinator, [], lead_time_h=6.0)

    zone = theater.file(blue, "zone", zone_asking(1.0))
    (conflict,) = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0))).conflicts
    assert conflict.late_notice is False
    now[0] += 3 * 3600
    (same,) = theater.replace(blue, zone.filing.id, 1, zone_asking(2.0)).conflicts
    assert same == conflict
    now[0] += 1800
    (late,) = theater.replace(blue, zone.filing.id, 2, zone_asking(8.0)).conflicts
    assert late.late_notice is True
    kinds = [e.kind for e in store.events_after("red", 0)]
    assert kinds == ["conflict.opened", "conflict.changed"]


def test_an_operation_that_never_met_an_ended_one_resolves_their_conflict(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's 04:00-10:00 met blue's 06:00-08:00 as filed; at 09:00, blue over, red says
    it ended at 05:00: they never met, so the conflict is resolved (a reviewer found it
    kept, as if over, because blue had ended)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])

    mine = theater.file(red, "operation", timed("a", 40.0, "04:00", "10:00"))
    (conflict,) = theater.file(blue, "operation", timed("b", 40.005, "06:00", "08:00")).conflicts
    now[0] = SAMPLE_MORNING_S + 9 * 3600
    ended = theater.replace(red, mine.filing.id, 1, timed("a", 40.0, "04:00", "05:00"))
    assert ended.conflicts == ()
    assert store.get_conflict(conflict.id).state == "resolved"  # type: ignore[union-attr]


def test_a_zones_new_notice_leaves_the_lead_time_as_it_was_at_the_opening(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Opened with no lead time asked, not late; the coordinator then asks 8 hours
    (which judges no conflict again); the zone's notice goes from 1 to 2 hours, still
    met: the conflict stays as it was (judged with today's lead time, it was flagged
    and its acknowledgement cleared: a reviewer)."""
    theater = Theater(store, clock=sample_morning())
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]

    zone = theater.file(blue, "zone", zone_asking(1.0))
    (conflict,) = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0))).conflicts
    acked = theater.acknowledge(red, conflict.id)
    theater.set_rules(coordinator, [], lead_time_h=8.0)
    (same,) = theater.replace(blue, zone.filing.id, 1, zone_asking(2.0)).conflicts
    assert same == acked and same.late_notice is False


def test_a_note_on_an_ended_operation_leaves_what_new_rules_left(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Both over at 10:00, the rules narrow (the conflict, over, is left as it was);
    red then adds a note to its ended operation: still left as it was (judged again
    under the new rules it was resolved: a reviewer)."""
    from tansiq.scenario.model import SeparationRule

    now = [SAMPLE_MORNING_S]
    wide = [SeparationRule(("patrol", "patrol"), horizontal_m=1000.0)]
    theater = Theater(store, wide, clock=lambda: now[0])
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    mine = theater.file(red, "operation", timed("a", 40.0, "06:00", "07:00"))
    (conflict,) = theater.file(blue, "operation", timed("b", 40.015, "06:00", "08:00")).conflicts
    now[0] = SAMPLE_MORNING_S + 10 * 3600
    theater.set_rules(coordinator, [SeparationRule(("patrol", "patrol"), horizontal_m=100.0)])
    noted = json.loads(timed("a", 40.0, "06:00", "07:00"))
    noted["features"][0]["properties"]["note"] = "after-action"
    again = theater.replace(red, mine.filing.id, 1, json.dumps(noted))
    assert again.conflicts == (conflict,) and store.get_conflict(conflict.id) == conflict
    assert [e.kind for e in store.events_after("blue", 0)] == ["conflict.opened"]


def test_a_zone_relaxing_its_notice_leaves_a_timely_notice_as_it_was(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Filed at 00:00 for 06:00 into a zone asking 4 hours: on time, acknowledged. A
    note at 03:00 changes nothing shown; the lead time becomes 8 hours; the zone then
    asks 1 hour: still on time, still acknowledged (it was flagged and the
    acknowledgement cleared: a reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    zone = theater.file(blue, "zone", zone_asking(4.0))
    filed = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0)))
    acked = theater.acknowledge(red, filed.conflicts[0].id)
    now[0] += 3 * 3600
    noted = disc("patrol", 40.0, 35.0)
    noted["properties"] = {**noted["properties"], "note": "callsign X"}  # type: ignore[dict-item]
    (kept,) = theater.replace(red, filed.filing.id, 1, body(noted)).conflicts
    assert kept == acked
    theater.set_rules(coordinator, [], lead_time_h=8.0)
    now[0] += 1800
    (after,) = theater.replace(blue, zone.filing.id, 1, zone_asking(1.0)).conflicts
    assert after == acked


def test_an_entrys_notice_runs_from_when_it_took_its_present_form(tmp_path: Path) -> None:
    """Red files at 00:00 a patrol from 06:00 in blue's zone; at 03:00 it changes only
    its notes. The notice of the entry counts from 00:00: asked 4 hours, then 5, the
    zone is not late. Measured from red's latest version (03:00), it was, so blue,
    replacing its zone with one notice after another, read from the flag when red last
    changed its operation, though nothing it was shown had changed (a reviewer found
    the time to 4 ms in 22 replacements). A moved patrol is notified anew; the time is
    kept with the volume in the store, so a restart judges alike."""
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    zone = theater.file(blue, "zone", body(disc("area", 40.0, 35.0, 2000.0)))
    filed = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0)))
    now[0] += 3 * 3600
    noted = disc("patrol", 40.0, 35.0)
    noted["properties"] = {**noted["properties"], "note": "callsign X"}  # type: ignore[dict-item]
    (kept,) = theater.replace(red, filed.filing.id, 1, body(noted)).conflicts
    assert kept.version == 1  # nothing it shows changed: blue is told nothing
    now[0] += 60
    for version, hours in ((1, 4.0), (2, 5.0)):
        (judged,) = theater.replace(blue, zone.filing.id, version, zone_asking(hours)).conflicts
        assert judged.late_notice is False, hours  # 6 hours' notice of the entry as it is
    assert len(store.events_after("red", 0)) == 1  # the opening: nothing else to tell
    theater.close()
    store.close()
    store = SqliteStore(path)
    theater = Theater(store, clock=lambda: now[0])
    (judged,) = theater.replace(blue, zone.filing.id, 3, zone_asking(5.5)).conflicts
    assert judged.late_notice is False  # after a restart too
    # moved at 03:01, the entry is notified anew, 2 h 59 min ahead: late for 5.5 hours
    moved = body(disc("patrol", 40.001, 35.0))
    (changed,) = theater.replace(red, filed.filing.id, 2, moved).conflicts
    assert changed.late_notice is True
    (judged,) = theater.replace(blue, zone.filing.id, 4, zone_asking(3.0)).conflicts
    assert judged.late_notice is True  # and judged from 03:01 on the zone's next notices
    (judged,) = theater.replace(blue, zone.filing.id, 5, zone_asking(2.5)).conflicts
    assert judged.late_notice is False


def test_a_schema_11_store_measures_its_volumes_notice_as_before(tmp_path: Path) -> None:
    """Volumes stored before schema 12 do not say when they took their present form:
    the upgrade writes no row, and their notice runs from their filing's latest version
    as before, until a version changes or keeps them."""
    path = tmp_path / "tansiq.db"
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    filed = theater.file(red, "operation", body(disc("patrol", 40.0, 35.0)))
    volume_id = f"{filed.filing.id}/patrol"
    assert store.notified_at(volume_id) == SAMPLE_MORNING_S
    theater.close()
    store.close()
    store = _upgraded(path, BEFORE_12, 11)
    assert store.notified_at(volume_id) is None
    theater = Theater(store, clock=lambda: now[0])
    now[0] += 3 * 3600
    noted = disc("patrol", 40.0, 35.0)
    noted["properties"] = {**noted["properties"], "note": "callsign X"}  # type: ignore[dict-item]
    theater.replace(red, filed.filing.id, 1, body(noted))
    assert store.notified_at(volume_id) == SAMPLE_MORNING_S  # its version's, kept


@pytest.mark.parametrize("who_moved", ["red", "blue"])
def test_a_conflict_kept_while_over_is_drawn_as_found_when_it_meets_again(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, who_moved: str
) -> None:
    """Red's 06:00-07:00 met blue's 06:00-18:00. At 08:00, red's over, one of them moves
    apart (red 180 m west, blue 370 m east): the conflict stays as it was. Then red
    moves its window to 09:00: the pair meets again, and the conflict, told to both
    sides, kept the regions of the footprint before the move, drawn where that side no
    longer is (a reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    mine = theater.file(red, "operation", timed("a", 40.0, "06:00", "07:00"))
    (opened,) = theater.file(blue, "operation", timed("b", 40.005, "06:00", "18:00")).conflicts
    now[0] += 8 * 3600
    red_version, red_lon, blue_lon = 1, 40.0, 40.005
    if who_moved == "red":
        red_version, red_lon = 2, 39.998
        moved_away = timed("a", red_lon, "06:00", "07:00")
        (kept,) = theater.replace(red, mine.filing.id, 1, moved_away).conflicts
    else:
        theirs = store.filings_of_party("blue", "operation")[0]
        blue_lon = 40.009
        moved_away = timed("b", blue_lon, "06:00", "18:00")
        (kept,) = theater.replace(blue, theirs.id, 1, moved_away).conflicts
    assert kept == opened  # over: as it was
    moved = timed("a", red_lon, "09:00", "10:00")
    (again,) = theater.replace(red, mine.filing.id, red_version, moved).conflicts
    assert again.id == opened.id and again.version == 2
    for volume, region in ((again.volume_a, again.region_a), (again.volume_b, again.region_b)):
        lon = red_lon if volume.startswith(mine.filing.id) else blue_lon
        ring = shapely.get_coordinates(shapely.from_geojson(region))
        far = GEOD.inv(np.full(len(ring), lon), np.full(len(ring), 35.0), ring[:, 0], ring[:, 1])[2]
        assert far.max() <= 500.5, (volume, far.max())  # within its footprint as it is now


def test_an_operation_ended_early_beside_one_over_keeps_an_older_region_as_no_change(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Blue's 06:00-07:00 met red's 06:00-18:00, its regions stored as an older version
    stored them (clockwise), both acknowledged. At 10:00, blue's over, red says it
    ended at 07:00: nothing the conflict shows changes. Drawn again because a side
    was over, the older region read as a change: a new version, the acknowledgements
    cleared, both told (a second reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    mine = theater.file(red, "operation", timed("a", 40.0, "06:00", "18:00"))
    (opened,) = theater.file(blue, "operation", timed("b", 40.005, "06:00", "07:00")).conflicts
    assert opened.region_a is not None
    clockwise = shapely.to_geojson(shapely.reverse(shapely.from_geojson(opened.region_a)))
    store.update_conflict(dataclasses.replace(opened, region_a=clockwise))
    theater.acknowledge(blue, opened.id)
    acked = theater.acknowledge(red, opened.id)
    now[0] += 10 * 3600
    (kept,) = theater.replace(red, mine.filing.id, 1, timed("a", 40.0, "06:00", "07:00")).conflicts
    assert kept == acked and store.get_conflict(opened.id) == acked
    assert [e.kind for e in store.events_after("blue", 0)] == ["conflict.opened"]


def _zone_feature(hours: float, radius_m: float = 2000.0) -> str:
    """A zone about (40, 35), 06:00-18:00, up to 3,000 m, asking ``hours`` of notice."""
    feature = disc("area", 40.0, 35.0, radius_m)
    properties = feature["properties"]
    assert isinstance(properties, dict)
    properties.update(notice_h=hours, altitude_m=[0.0, 3000.0])
    return body(feature)


def _patrol_feature(**changes: Any) -> str:
    """Red's patrol of 500 m about (40, 35), 06:00-18:00, up to 1,000 m, with ``changes``."""
    feature = disc("patrol", 40.0, 35.0)
    properties = feature["properties"]
    assert isinstance(properties, dict)
    properties.update({"altitude_m": [0.0, 1000.0], **changes})
    return body(feature)


#: changes of red's patrol that its conflict with the zone does not show
_HIDDEN: dict[str, dict[str, Any]] = {
    "end moved past the zone's": {"end": "2017-09-16T20:00:00Z"},
    "start moved before the zone's": {"start": "2017-09-16T04:00:00Z"},
    "ceiling raised above the zone's": {"altitude_m": [0.0, 5000.0]},
}


@pytest.mark.parametrize("hidden", list(_HIDDEN))
def test_a_change_the_zones_owner_is_not_shown_gives_it_no_new_notice(
    tmp_path: Path, hidden: str
) -> None:
    """Red files at 00:00 a patrol in blue's zone from 06:00; at 03:00 it changes what
    the conflict does not show. The entry shown was notified at 00:00, six hours ahead:
    asked 4 hours, then 5, by a zone of the same shape or a smaller one (which redraws
    the conflict), it is not late; asked 7, it is. Measured from the volume's new form
    (03:00), or from its start, blue, replacing its zone with one notice after another,
    read from the flag when red changed what it is not shown, and to what (a second
    reviewer: `notice_h` 4 read the change where 2.5 did not). So too after a restart."""
    path = tmp_path / "tansiq.db"
    store, red, blue = _red_and_blue(path)
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    zone = theater.file(blue, "zone", _zone_feature(1.0))
    filed = theater.file(red, "operation", _patrol_feature())
    (opened,) = filed.conflicts
    assert opened.late_notice is False
    now[0] += 3 * 3600
    (kept,) = theater.replace(red, filed.filing.id, 1, _patrol_feature(**_HIDDEN[hidden])).conflicts
    assert kept == opened  # nothing it shows changed: blue is told nothing
    version = 1
    for restarted in (False, True):
        if restarted:
            theater.close()
            store.close()
            store = SqliteStore(path)
            theater = Theater(store, clock=lambda: now[0])
        for hours, radius_m in ((4.0, 2000.0), (5.0, 2000.0), (5.0, 300.0)):
            now[0] += 60
            zoned = _zone_feature(hours, radius_m)
            (judged,) = theater.replace(blue, zone.filing.id, version, zoned).conflicts
            version += 1
            assert judged.late_notice is False, (hours, radius_m, restarted)
        assert judged.region_a != opened.region_a or judged.region_b != opened.region_b
    (judged,) = theater.replace(blue, zone.filing.id, version, _zone_feature(7.0)).conflicts
    assert judged.late_notice is True
    theater.close()


def test_a_schema_12_store_measures_its_conflicts_notice_as_before(tmp_path: Path) -> None:
    """Conflicts stored before schema 13 do not say when the entry they show was
    notified: the upgrade writes no row, and their notice runs from when the entering
    volume took its present form, as before; a conflict opened after says it."""
    path = tmp_path / "tansiq.db"
    store, red, blue = _red_and_blue(path)
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    zone = theater.file(blue, "zone", _zone_feature(1.0))
    (opened,) = theater.file(red, "operation", _patrol_feature()).conflicts
    assert opened.notice_from == SAMPLE_MORNING_S
    theater.close()
    store.close()
    store = _upgraded(path, BEFORE_13, 12)
    stored = store.get_conflict(opened.id)
    assert stored is not None
    assert (stored.notice_from, stored.shown_at, stored.notice_version) == (None, None, None)
    kept = dataclasses.replace(
        stored,
        notice_from=opened.notice_from,
        shown_at=opened.shown_at,
        notice_version=opened.notice_version,
    )
    assert kept == opened
    theater = Theater(store, clock=lambda: now[0])
    now[0] += 3 * 3600
    filing = store.filings_of_party("red", "operation")[0]
    theater.replace(red, filing.id, 1, _patrol_feature(end="2017-09-16T20:00:00Z"))
    (judged,) = theater.replace(blue, zone.filing.id, 1, _zone_feature(4.0)).conflicts
    assert judged.late_notice is True  # from the volume's new form, 03:00, as before
    assert judged.notice_from == SAMPLE_MORNING_S + 3 * 3600  # and kept from now on
    theater.close()


@pytest.mark.parametrize("sliced", [False, True], ids=["rules at once", "rules caught up"])
def test_a_change_not_shown_during_a_catch_up_gives_no_new_notice(
    tmp_path: Path, sliced: bool
) -> None:
    """The entry notified at 00:00 for 06:00 into a zone asking 4 hours; at 02:00 the
    minimum goes from 100 m to 300 m; at 03:00 red raises its ceiling, which the
    conflict does not show. A catch-up that has not reached the pair draws it again
    under the new rules with that change: its regions moved, and the change was taken
    for a new entry, flagged late (a reviewer). Judged at once, it is not."""
    store = SqliteStore(tmp_path / "t.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    un = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.set_rules(un, [SeparationRule(("*", "*"), horizontal_m=100.0)])
    for k in range(3):  # judged first, so that a slice leaves the zone's pair
        theater.file(red, "operation", body(disc(f"x{k}", 41.0 + 0.05 * k, 35.0)))
        theater.file(blue, "operation", body(disc(f"y{k}", 41.0 + 0.05 * k, 35.0)))
    theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", _patrol_feature())
    now[0] += 2 * 3600
    if sliced:
        theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    wider = [SeparationRule(("*", "*"), horizontal_m=300.0)]
    theater.set_rules(un, wider, wait_s=0.0 if sliced else math.inf)
    now[0] += 3600
    raised = _patrol_feature(**_HIDDEN["ceiling raised above the zone's"])
    (kept,) = theater.replace(red, filed.filing.id, 1, raised).conflicts
    assert theater.catch_up().done
    after = store.get_conflict(kept.id)
    assert after is not None
    assert (after.late_notice, after.notice_from) == (False, SAMPLE_MORNING_S)
    theater.close()


def test_a_zone_changed_at_the_instant_of_a_change_not_shown_gives_no_new_notice(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red moves its end past the zone's at 03:00; blue makes its zone smaller at the
    same instant (a clock that stands still, or a coarse one), which draws the
    conflict again: told apart by the clock, the zone's change was taken for red's
    new entry, flagged late (a reviewer). A millisecond later, it was not."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    zone = theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", _patrol_feature())
    now[0] += 3 * 3600
    ended = _patrol_feature(**_HIDDEN["end moved past the zone's"])
    theater.replace(red, filed.filing.id, 1, ended)
    (changed,) = theater.replace(blue, zone.filing.id, 1, _zone_feature(4.0, 300.0)).conflicts
    assert changed.version == 2 and changed.late_notice is False


def test_a_zones_notice_lifted_leaves_the_lead_time_measured_from_the_shape_shown(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The theater asks 2 hours' lead. At 05:00 red moves its start into the zone's
    window, to 06:30: the shape shown was told 1.5 hours ahead, late. At 05:01 the zone
    asks 1 hour instead of 4: its own flag lifted, the lead time was read from the
    conflict's opening (00:00), and the flag cleared (a reviewer). It stays."""
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.set_rules(coordinator, [], lead_time_h=2.0)
    zone = theater.file(blue, "zone", _zone_feature(4.0))
    (opened,) = theater.file(red, "operation", _patrol_feature()).conflicts
    assert opened.late_notice is False
    now[0] += 5 * 3600
    later = _patrol_feature(start="2017-09-16T06:30:00Z")
    filing = store.filings_of_party("red", "operation")[0]
    (moved,) = theater.replace(red, filing.id, 1, later).conflicts
    assert moved.late_notice is True and moved.shown_at == now[0]
    now[0] += 60
    (lifted,) = theater.replace(blue, zone.filing.id, 1, _zone_feature(1.0)).conflicts
    assert lifted.late_notice is True and lifted.shown_at == moved.shown_at


def test_a_route_changed_far_beyond_a_zone_gives_no_new_notice(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's 200 m route crosses blue's zone (asking 4 hours) from 06:00, filed at
    00:00; at 03:00 red moves only its far end, 50 km beyond the zone. The regions
    drawn move by 0.12 m (the drawing's frame follows the whole footprint): compared
    as texts, that read as a new entry, flagged late, and told the zone's owner when
    red changed what it is not shown (a reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", _route_east_to(40.07))
    now[0] += 3 * 3600
    (kept,) = theater.replace(red, filed.filing.id, 1, _route_east_to(40.6)).conflicts
    assert (kept.late_notice, kept.notice_from) == (False, SAMPLE_MORNING_S)


def test_a_route_changed_far_beyond_a_zone_leaves_its_conflict_as_acknowledged(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """The same route's far end moved 50 km beyond blue's zone, after blue
    acknowledged their conflict: nothing blue is shown changed (its regions moved by
    drawing noise, 0.12 m), so blue is told nothing, keeps its acknowledgement and
    cannot learn that red changed what it is not shown. Stored as a change, it was
    told to both and the acknowledgement cleared."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", _route_east_to(40.07))
    (opened,) = filed.conflicts
    theater.acknowledge(blue, opened.id)
    told: list[str] = []
    theater.subscribe(lambda events: told.extend(e.kind for e in events))
    now[0] += 3 * 3600
    (kept,) = theater.replace(red, filed.filing.id, 1, _route_east_to(40.6)).conflicts
    assert told == []
    assert kept.version == opened.version and kept.acked_b_at is not None
    assert (kept.region_a, kept.region_b) == (opened.region_a, opened.region_b)
    assert_extents_hold_the_regions(str(store.path))  # the stored regions' extent stays
    # its start moved 0.9 km, into the zone, its regions do change: told, acks cleared
    (moved,) = theater.replace(red, filed.filing.id, 2, _route_east_to(40.6, 39.98)).conflicts
    assert told == ["conflict.changed"] * 2
    assert moved.version == opened.version + 1 and moved.acked_b_at is None


@pytest.mark.parametrize("steps", [1, 2, "2, restarted between"])
def test_a_route_moved_in_steps_each_within_noise_is_a_new_entry_as_one_move(
    tmp_path: Path, steps: int | str
) -> None:
    """Red's route starts inside blue's zone (asking 4 hours); at 03:00 red moves its
    start 1.8e-5° east, at once or in two steps of half that, each within drawing
    noise (the server restarted between them, or not). Either way the conflict ends
    showing the same regions, beyond the noise of those first shown: a new entry,
    notified at the last step, 3 hours before the window, late. Compared with the
    version before, each step read as no new entry and two steps left the flag off
    where one move set it (a reviewer)."""
    store, red, blue = _red_and_blue(tmp_path / "tansiq.db")
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", _route_east_to(40.07, 39.98))
    (opened,) = filed.conflicts
    now[0] += 3 * 3600
    count = steps if isinstance(steps, int) else 2
    for step in range(1, count + 1):
        west = 39.98 + 1.8e-5 * step / count
        changed = theater.replace(red, filed.filing.id, step, _route_east_to(40.07, west))
        (moved,) = changed.conflicts
        if isinstance(steps, str):  # the form notified is read from the store after
            theater.close()
            store.close()
            store = SqliteStore(tmp_path / "tansiq.db")
            theater = Theater(store, clock=lambda: now[0])
    assert moved.version == opened.version + 1
    assert (moved.late_notice, moved.notice_from) == (True, now[0])


@pytest.mark.parametrize("lead_time_h", [0.0, 4.0])
@pytest.mark.parametrize("drift", ["zone's far end", "separation 0.8 m less"])
def test_a_drift_kept_within_noise_is_not_blamed_on_the_operations_next_change(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, drift: str, lead_time_h: float
) -> None:
    """Blue's zone is a 2 km wide corridor running north across red's route (asking
    4 hours, 1,000 m apart). At 03:00 blue lengthens its corridor to 42° N, or the
    coordinator takes the separation to 999.2 m: the regions drawn again move
    within drawing noise, kept as they were. Then red adds a leg far north of the
    zone, which moves the drawing by noise again: its entry into the zone is as it
    notified it at 00:00, not a late one at 03:01. Compared with the stored regions,
    the two drifts together passed the noise and red was flagged late (a reviewer);
    so too, with a theater lead time of 4 hours, by that lead time judged from the
    change (another)."""
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    rules = [SeparationRule(("*", "*"), horizontal_m=1000.0)]
    theater.set_rules(coordinator, rules, lead_time_h=lead_time_h)
    zone = theater.file(blue, "zone", _corridor_zone(35.01))
    filed = theater.file(red, "operation", _route_east_to(40.07))
    (opened,) = filed.conflicts
    now[0] += 3 * 3600
    if drift == "zone's far end":
        theater.replace(blue, zone.filing.id, 1, _corridor_zone(42.0))
    else:
        rules = [SeparationRule(("*", "*"), horizontal_m=999.2)]
        theater.set_rules(coordinator, rules, lead_time_h=lead_time_h)
        theater.catch_up()
    kept = store.get_conflict(opened.id)
    assert kept is not None and kept.version == opened.version
    now[0] += 60
    (after,) = theater.replace(red, filed.filing.id, 1, _route_east_to(40.07, north=38.0)).conflicts
    assert (after.late_notice, after.notice_from) == (False, SAMPLE_MORNING_S)


def test_an_operation_filed_with_what_is_refused_now_still_moves_into_a_zone(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red filed, as a server before 2026-12-02 took it, a second feature whose id is
    refused now. Red drops it and moves its route's start 1 km within blue's zone
    (asking 4 hours) at 03:00: a new entry, late. The version it notified was read
    again as a new filing is, refused, and red's change failed over a feature it no
    longer sends (a reviewer)."""
    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    document = json.loads(_route_east_to(40.07, 39.98))
    document["features"].append(disc("far\x07", 45.0, 35.0))
    with monkeypatch.context() as then:
        then.setattr(problems, "name_problem", lambda value: None)
        filed = theater.file(red, "operation", json.dumps(document))
    now[0] += 3 * 3600
    (moved,) = theater.replace(red, filed.filing.id, 1, _route_east_to(40.07, 39.99)).conflicts
    assert (moved.late_notice, moved.notice_from) == (True, now[0])


def test_a_move_after_the_clock_was_set_back_is_a_new_entry(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's route enters blue's zone (asking 4 hours), filed at 02:30: late. The
    clock is set back to 01:30 (a restart with an earlier --clock-start) and red moves
    its route's start 1 km within the zone: a new entry, notified 4.5 hours ahead,
    not late. Found by the clock in the filing's history, the form notified was the
    version being filed, compared with itself (a reviewer)."""
    now = [SAMPLE_MORNING_S + 2.5 * 3600]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    (opened,) = theater.file(red, "operation", _route_east_to(40.07, 39.98)).conflicts
    assert (opened.late_notice, opened.notice_from) == (True, now[0])
    now[0] -= 3600
    filing = store.filings_of_party("red", "operation")[0]
    (moved,) = theater.replace(red, filing.id, 1, _route_east_to(40.07, 39.99)).conflicts
    assert (moved.region_a, moved.region_b) != (opened.region_a, opened.region_b)
    assert (moved.late_notice, moved.notice_from) == (False, now[0])


def test_a_route_put_back_where_it_was_notified_after_an_early_end_is_no_new_entry(
    store: SqliteStore, red: PartyRecord, blue: PartyRecord
) -> None:
    """Red's route enters blue's zone (asking 4 hours), filed at 00:00 for 06:00-18:00.
    At 10:00 red says it ended at 09:00 and moved its start 1 km (no notice is given
    again: the flag and its time stay). The clock is set back to 08:00 and red puts
    its start back where it notified it at 00:00: the entry shown is the one notified
    then, six hours ahead, not late. The early end had moved the form notified to its
    own version, never notified, and the move back read as a late entry (a reviewer)."""

    def route(west: float, end: str) -> str:
        document = json.loads(_route_east_to(40.07, west))
        document["features"][0]["properties"]["end"] = f"2017-09-16T{end}:00Z"
        return json.dumps(document)

    now = [SAMPLE_MORNING_S]
    theater = Theater(store, clock=lambda: now[0])
    theater.file(blue, "zone", _zone_feature(4.0))
    filed = theater.file(red, "operation", route(39.98, "18:00"))
    (opened,) = filed.conflicts
    assert not opened.late_notice
    now[0] = SAMPLE_MORNING_S + 10 * 3600
    (ended,) = theater.replace(red, filed.filing.id, 1, route(39.99, "09:00")).conflicts
    assert (ended.notice_from, ended.notice_version) == (opened.notice_from, 1)
    now[0] = SAMPLE_MORNING_S + 8 * 3600
    (back,) = theater.replace(red, filed.filing.id, 2, route(39.98, "09:00")).conflicts
    assert (back.late_notice, back.notice_from) == (False, SAMPLE_MORNING_S)


def _routes_through_zones(
    path: Path, zones: int, routes: int
) -> tuple[SqliteStore, Theater, PartyRecord, PartyRecord, Callable[..., str]]:
    """Blue's ``zones`` zones about (40, 35) (asking 4 hours) and red's operation of
    ``routes`` routes crossing them all, from 39.98 + the shift given (with a note, if
    given)."""
    store, red, blue = _red_and_blue(path)
    theater = Theater(store, clock=lambda: SAMPLE_MORNING_S)
    for k in range(zones):
        theater.file(blue, "zone", _zone_feature(4.0).replace('"area"', f'"area{k}"'))

    def operation(shift: float, note: str = "") -> str:
        features = []
        for k in range(routes):
            feature = json.loads(_route_east_to(40.07, 39.98 + shift))["features"][0]
            lat = 35.0 + (k - routes / 2) * 0.0008
            feature["id"] = f"r{k}"
            feature["geometry"]["coordinates"] = [[39.98 + shift, lat], [40.07, lat]]
            if note:
                feature["properties"]["note"] = note
            features.append(feature)
        return json.dumps({"type": "FeatureCollection", "features": features})

    return store, theater, red, blue, operation


def _stored_bodies_read(theater: Theater, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each stored body the theater reads again (as stored: names unchecked)."""
    read: list[str] = []
    parse = theater.volumes

    def counted(party_id: str, filing_id: str, body: str, *, names_checked: bool = True) -> Any:
        if not names_checked:
            read.append(filing_id)
        return parse(party_id, filing_id, body, names_checked=names_checked)

    monkeypatch.setattr(theater, "volumes", counted)
    return read


def test_a_change_reads_each_version_notified_once_and_a_stale_one_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red's four routes cross blue's three zones: twelve conflicts, all notified with
    version 2 of red's operation; version 3 adds a note. A change that moves every
    route reads version 2 again once, even when the read before the lock found
    nothing (a conflict written between it and the lock): read for each conflict
    under the lock, a reviewer's race held it 6.4 s. A change with a stale If-Match
    reads none: read first, it cost seconds of parsing before its 412 (a reviewer)."""
    _, theater, red, _, operation = _routes_through_zones(tmp_path / "t.db", 3, 4)
    filing_id = theater.file(red, "operation", operation(0.0)).filing.id
    moved = theater.replace(red, filing_id, 1, operation(1e-3)).conflicts
    assert {c.notice_version for c in moved} == {2} and len(moved) == 12
    noted = theater.replace(red, filing_id, 2, operation(1e-3, note="callsign X")).conflicts
    assert {c.notice_version for c in noted} == {2}
    read = _stored_bodies_read(theater, monkeypatch)
    monkeypatch.setattr(theater, "_forms_notified", lambda *args: {})  # as if raced
    theater.replace(red, filing_id, 3, operation(2e-3))
    assert read == [filing_id]
    monkeypatch.undo()
    read = _stored_bodies_read(theater, monkeypatch)
    with pytest.raises(StaleVersion):
        theater.replace(red, filing_id, 3, operation(3e-3))
    assert read == []


def test_a_change_sent_before_the_last_was_answered_reads_its_versions_before_the_lock(
    tmp_path: Path,
) -> None:
    """Red's conflicts with blue's zone were notified with version 2; red sends a
    change naming version 4 while its change to version 4 is on its way (version 3
    committed): the versions notified are read before the lock all the same, but for
    the one it replaces (in the index then). Read only at the version committed, such
    a change held the lock 3.7 s parsing them (a reviewer). One naming a version two
    ahead, or behind, is refused: nothing is read for it."""
    _, theater, red, _, operation = _routes_through_zones(tmp_path / "t.db", 1, 2)
    filing_id = theater.file(red, "operation", operation(0.0)).filing.id
    theater.replace(red, filing_id, 1, operation(1e-3))
    assert theater._forms_notified(red, filing_id, 2) == {}  # the one replaced: indexed
    theater.replace(red, filing_id, 2, operation(1e-3, note="callsign X"))
    assert set(theater._forms_notified(red, filing_id, 3)) == {2}
    assert set(theater._forms_notified(red, filing_id, 4)) == {2}
    assert theater._forms_notified(red, filing_id, 5) == {}
    assert theater._forms_notified(red, filing_id, 2) == {}


@pytest.mark.parametrize("restarted", [False, True])
def test_another_partys_filing_is_not_read_for_what_entered_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarted: bool
) -> None:
    """Blue changing red's operation that enters its zone, red changing blue's zone:
    nothing is read for the forms notified, as for a filing nothing enters, so the
    time of the refusal does not tell which is which (a reviewer: a store query more
    for those with such conflicts, and the zones counted among them after a
    restart)."""
    store, theater, red, blue, operation = _routes_through_zones(tmp_path / "t.db", 1, 1)
    entered = theater.file(red, "operation", operation(0.0)).filing.id
    zone = store.filings_of_party("blue", "zone")[0].id
    if restarted:
        theater.close()
        theater = Theater(store, clock=lambda: SAMPLE_MORNING_S)
    asked: list[str] = []
    read = store.notice_versions_of
    def counted(filing_id: str, party_id: str) -> list[int]:
        asked.append(filing_id)
        return read(filing_id, party_id)

    monkeypatch.setattr(store, "notice_versions_of", counted)
    for party, filing_id in ((blue, entered), (red, zone)):
        with pytest.raises(UnknownFiling):
            theater.replace(party, filing_id, 1, operation(1e-3))
    assert asked == []
    theater.replace(red, entered, 1, operation(1e-3))
    assert asked == [entered]


def test_a_schema_14_store_without_its_indexes_is_refused_by_name(tmp_path: Path) -> None:
    """A store of schema 14 as a development build of 2026-12-03 wrote it, without the
    indexes of notified versions: refused with the reason, not a raw SQLite error."""
    import sqlite3

    SqliteStore(tmp_path / "t.db").close()
    with sqlite3.connect(tmp_path / "t.db") as raw:
        raw.executescript("DROP INDEX open_notice_version_a; DROP INDEX open_notice_version_b;")
    with pytest.raises(StoreUnusable, match="indexes of notified versions"):
        SqliteStore(tmp_path / "t.db")


def _corridor_zone(north: float) -> str:
    """Blue's zone: a corridor 2 km wide along 40° E from 34.99° N to ``north``,
    06:00-18:00, up to 3,000 m, asking 4 hours of notice."""
    feature = disc("area", 40.0, 34.99)
    feature["geometry"] = {"type": "LineString", "coordinates": [[40.0, 34.99], [40.0, north]]}
    properties = feature["properties"]
    assert isinstance(properties, dict)
    del properties["radius_m"]
    properties.update(kind="patrol", width_m=2000.0, notice_h=4.0, altitude_m=[0.0, 3000.0])
    return body(feature)


def _route_east_to(east: float, west: float = 39.97, north: float | None = None) -> str:
    """Red's 200 m convoy route along 35° N from ``west`` to ``east`` (then north to
    ``north``, if given)."""
    feature = disc("route", west, 35.0)
    line = [[west, 35.0], [east, 35.0]] + ([[east, north]] if north is not None else [])
    feature["geometry"] = {"type": "LineString", "coordinates": line}
    properties = feature["properties"]
    assert isinstance(properties, dict)
    del properties["radius_m"]
    properties.update(kind="convoy", width_m=200.0, altitude_m=[0.0, 1000.0])
    return body(feature)


def _red_and_blue(path: Path) -> tuple[SqliteStore, PartyRecord, PartyRecord]:
    """A store at ``path`` with the parties red and blue."""
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    return store, red, blue
