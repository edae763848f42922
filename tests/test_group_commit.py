"""Group commit: many changes, one COMMIT; an answer only once durable; nothing seen early."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from samples import sample_morning
from stored import assert_extents_hold_the_regions
from tansiq.errors import StaleVersion
from tansiq.service import parties
from tansiq.service.outcomes import LiveEvent
from tansiq.service.theater import Theater
from tansiq.store import FilingRecord, PartyRecord, SqliteStore
from test_theater import body, disc


class CountingConnection:
    """The store's writing connection, counting COMMITs (and failing one on demand)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.commits = 0
        self.fail_next_commit = False

    def execute(self, sql: str, args: Any = ()) -> sqlite3.Cursor:
        if sql == "COMMIT":
            if self.fail_next_commit:
                self.fail_next_commit = False
                raise sqlite3.OperationalError("disk I/O error")
            self.commits += 1
        return self._db.execute(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "tansiq.db")


def committed_filing(path: str, filing_id: str) -> bool:
    """Whether another connection (another process would see the same) finds the filing."""
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT 1 FROM filing WHERE id = ?", (filing_id,)).fetchone()
    return row is not None


def run_threads(target: Callable[..., None], args: list[tuple[Any, ...]]) -> None:
    """One thread per argument tuple, all started, then all joined."""
    threads = [threading.Thread(target=target, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def listening_theater(
    store: SqliteStore,
) -> tuple[PartyRecord, PartyRecord, Theater, list[LiveEvent]]:
    """Red, blue, a theater, and the list its listener is handed events in."""
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    theater = Theater(store, clock=sample_morning())
    handed: list[LiveEvent] = []
    theater.subscribe(handed.extend)
    return red, blue, theater, handed


def blue_on_the_spot(
    store: SqliteStore,
) -> tuple[PartyRecord, PartyRecord, Theater, list[LiveEvent]]:
    """:func:`listening_theater` with green too, and blue's operation at (40, 35)."""
    red, blue, theater, handed = listening_theater(store)
    green = parties.add_party(store, "green", "Green", "ru")[0]
    theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    return red, green, theater, handed


def index_full(*args: object) -> None:
    """An index update that fails (standing in for any failure after a change's writes)."""
    raise RuntimeError("index full")


def test_every_answer_is_already_durable_and_changes_share_commits(store: SqliteStore) -> None:
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    theater = Theater(store, clock=sample_morning())
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    filers = 24
    start = threading.Barrier(filers)
    not_yet_durable: list[str] = []

    def file(party: PartyRecord, k: int) -> None:
        start.wait()
        outcome = theater.file(party, "operation", body(disc(f"v{k}", 40.0 + k * 1e-4, 35.0)))
        if not committed_filing(store.path, outcome.filing.id):
            not_yet_durable.append(outcome.filing.id)

    run_threads(file, [((red, blue)[k % 2], k) for k in range(filers)])
    assert not_yet_durable == []
    assert len(store.active_filings()) == filers
    assert len(store.conflicts_of_party("red")) == (filers // 2) ** 2
    # fewer COMMITs (fsyncs) than changes: the queue was committed together
    assert counting.commits < filers


def test_nothing_is_seen_outside_a_change_before_its_commit(store: SqliteStore) -> None:
    red = parties.add_party(store, "red", "Red", "en")[0]
    record = FilingRecord("operation-1", red.id, "operation", 1, "active", "{}", 0.0)
    seen: list[FilingRecord | None] = []

    def look() -> None:
        seen.append(store.get_filing("operation-1"))

    with store.transaction(defer_commit=True):
        store.add_filing_version(record)
    assert store.pending() is not None
    reader = threading.Thread(target=look)  # another request's thread
    reader.start()
    reader.join()
    store.commit()
    look()
    assert seen == [None, record]


def test_a_failed_commit_fails_its_changes_and_the_theater_reads_the_store_again(
    store: SqliteStore,
) -> None:
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    green = parties.add_party(store, "green", "Green", "ru")[0]
    theater = Theater(store, clock=sample_morning())
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    counting.fail_next_commit = True
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    assert [f.party_id for f in store.active_filings()] == ["red"]
    assert store.conflicts_of_party("blue") == []
    # the failed filing is gone from memory too: green meets red alone
    outcome = theater.file(green, "operation", body(disc("g", 40.0, 35.0)))
    assert [c.party_b for c in outcome.conflicts] == ["red"]


def test_a_refusal_resting_on_writes_not_yet_durable_waits_for_their_commit(
    store: SqliteStore,
) -> None:
    """Blue files with a key; its batch waits for a change queued behind it. Blue's
    retry with another body would be refused (the key is taken) before that batch is
    durable; the COMMIT then fails, and the key was never taken: the retry must get
    the failure, not a 422 (found by a reviewer)."""
    from tansiq.errors import KeyReused

    red, blue, theater, _ = listening_theater(store)
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    outcomes: dict[str, BaseException | None] = {}

    def send(name: str, text: str) -> None:
        try:
            theater.file(blue, "site", text, key="k")
            outcomes[name] = None
        except BaseException as exc:
            outcomes[name] = exc

    def batch_waits() -> None:  # a change's work done, its batch left for another
        for _ in range(500):
            if store.pending() is not None and not theater._lock.locked():
                return
            time.sleep(0.01)
        raise AssertionError("the batch was not left open")

    with theater._queue_lock:
        theater._queued += 1  # a change queued behind: the batch is left for it
    # daemons: were the retry answered at once (the bug), the first would wait for ever
    first = threading.Thread(target=send, args=("first", body(disc("s", 40.0, 35.0))), daemon=True)
    first.start()
    batch_waits()
    retry = threading.Thread(target=send, args=("retry", body(disc("s", 41.0, 35.0))), daemon=True)
    retry.start()
    time.sleep(0.3)  # the retry's work is done: refused, on the uncommitted key
    assert "retry" not in outcomes or not isinstance(outcomes["retry"], KeyReused)
    counting.fail_next_commit = True
    with theater._queue_lock:
        theater._queued -= 1  # the queued change comes: it commits the batch, which fails
    with pytest.raises(sqlite3.OperationalError):
        theater.file(red, "operation", body(disc("r", 50.0, 35.0)))
    first.join(10)
    retry.join(10)
    assert isinstance(outcomes["first"], sqlite3.OperationalError)
    assert isinstance(outcomes["retry"], sqlite3.OperationalError)
    assert store.active_filings() == [] and store.filing_of_key("blue", "k") is None


def test_new_rules_that_cannot_commit_the_batch_before_them_leave_a_true_picture(
    store: SqliteStore,
) -> None:
    """New rules commit the batch of the changes before them first; if that COMMIT fails,
    those changes are lost, and the picture must not show them (nor their rules), not
    even until a later change reads the store again (found by a reviewer)."""
    from tansiq.scenario.model import SeparationRule

    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    failed: list[BaseException] = []

    def first_rules() -> None:
        try:
            theater.set_rules(coordinator, [SeparationRule(("*", "*"), horizontal_m=2000.0)], 6.0)
        except BaseException as exc:
            failed.append(exc)

    with theater._queue_lock:
        theater._queued += 1  # a change queued behind: the first rules' batch is left open
    left = threading.Thread(target=first_rules, daemon=True)
    left.start()
    for _ in range(500):
        if store.pending() is not None and not theater._lock.locked():
            break
        time.sleep(0.01)
    with theater._queue_lock:
        theater._queued -= 1
    counting.fail_next_commit = True
    with pytest.raises(sqlite3.OperationalError):
        theater.set_rules(coordinator, [SeparationRule(("*", "*"), horizontal_m=3000.0)], 1.0)
    left.join(5)
    assert len(failed) == 1 and isinstance(failed[0], sqlite3.OperationalError)
    assert (theater.rules, theater.lead_time_h) == ((), 0.0)  # as the store holds them
    assert store.get_setting("lead_time_h") is None


def test_listeners_get_each_committed_event_once_in_order_as_the_store_has_them(
    store: SqliteStore,
) -> None:
    red, blue, theater, handed = listening_theater(store)
    filers = 16
    start = threading.Barrier(filers)

    def file(party: PartyRecord, k: int) -> None:
        start.wait()
        theater.file(party, "operation", body(disc(f"v{k}", 40.0 + k * 1e-4, 35.0)))

    run_threads(file, [((red, blue)[k % 2], k) for k in range(filers)])
    for party in ("red", "blue"):
        stored = store.events_with_conflicts(party, 0)
        live = [e for e in handed if e.party_id == party]
        assert [(e.id, e.kind, e.conflict) for e in live] == [
            (event.id, event.kind, conflict) for event, conflict in stored
        ]
    assert len(handed) == 2 * (filers // 2) ** 2
    assert [e.id for e in handed] == sorted(e.id for e in handed)


def test_no_event_is_handed_on_for_a_failed_change_or_a_failed_commit(
    store: SqliteStore,
) -> None:
    red, blue, theater, handed = listening_theater(store)
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    mine = theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    counting.fail_next_commit = True
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    with pytest.raises(StaleVersion):
        theater.replace(red, mine.filing.id, 7, body(disc("r", 40.0, 35.0)))
    assert handed == []
    opened = theater.file(blue, "operation", body(disc("b", 40.0, 35.0))).conflicts
    assert [(e.party_id, e.kind, e.conflict) for e in handed] == [
        ("blue", "conflict.opened", opened[0]),  # the filer is side a
        ("red", "conflict.opened", opened[0]),
    ]
    closed = theater.cancel(red, mine.filing.id, 1)
    assert closed.filing.state == "cancelled"
    withdrawn = [e.conflict for e in handed[2:]]
    assert [(c.id, c.state) for c in withdrawn] == [(opened[0].id, "withdrawn")] * 2
    assert withdrawn[0] == store.get_conflict(opened[0].id)


def test_notes_are_handed_on_by_whichever_write_commits_their_batch(store: SqliteStore) -> None:
    handed: list[list[object]] = []
    store.on_commit(handed.append)
    with store.transaction(defer_commit=True):
        store.note("kept")
    with pytest.raises(RuntimeError), store.transaction(defer_commit=True):
        store.note("rolled back")
        raise RuntimeError
    assert handed == []  # not committed yet
    store.set_setting("x", "1")  # another writer's transaction commits the open batch
    assert handed == [["kept"]]
    counting = CountingConnection(store._db)
    store._db = counting  # type: ignore[assignment]
    with store.transaction(defer_commit=True):
        store.note("lost with its COMMIT")
    counting.fail_next_commit = True
    with pytest.raises(sqlite3.OperationalError):
        store.commit()
    store.set_setting("y", "2")
    assert handed == [["kept"]]


def test_a_change_that_fails_after_its_writes_joined_the_batch_leaves_a_true_picture(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    red, green, theater, handed = blue_on_the_spot(store)

    monkeypatch.setattr(theater._index, "add_many", index_full)
    with pytest.raises(RuntimeError, match="index full"):
        theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    monkeypatch.undo()
    # its writes were committed: its events were handed on, and the picture shows it
    assert sorted(f.party_id for f in store.active_filings()) == ["blue", "red"]
    assert sorted(e.party_id for e in handed) == ["blue", "red"]
    met = theater.file(green, "operation", body(disc("g", 40.0, 35.0))).conflicts
    assert sorted(c.party_b for c in met) == ["blue", "red"]


def test_every_stored_event_is_handed_on_once_while_other_writers_commit_batches(
    store: SqliteStore,
) -> None:
    red, blue, theater, handed = listening_theater(store)
    stop = threading.Event()

    def other_writer() -> None:  # as the webhook sender's mark_delivered does
        k = 0
        while not stop.is_set():
            store.set_setting("elsewhere", str(k))
            k += 1

    def file(party: PartyRecord, k: int) -> None:
        for j in range(10):
            lon = 40.0 + (k * 10 + j) * 1e-4
            theater.file(party, "operation", body(disc(f"v{k}_{j}", lon, 35.0)))

    writer = threading.Thread(target=other_writer)
    writer.start()
    run_threads(file, [((red, blue)[k % 2], k) for k in range(8)])
    stop.set()
    writer.join()
    stored = [e.id for p in ("red", "blue") for e, _ in store.events_with_conflicts(p, 0, 10**6)]
    assert sorted(e.id for e in handed) == sorted(stored) and len(stored) > 100


def test_events_are_handed_on_when_another_writer_commits_between_work_and_commit(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    red, blue, theater, handed = listening_theater(store)
    theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    real_pending = store.pending

    def other_writer_first() -> Any:  # the webhook sender takes the store's lock here
        store.set_setting("elsewhere", "1")  # and its transaction commits the open batch
        return real_pending()

    monkeypatch.setattr(store, "pending", other_writer_first)
    opened = theater.file(blue, "operation", body(disc("b", 40.0, 35.0))).conflicts
    monkeypatch.undo()
    assert [(e.party_id, e.conflict.id) for e in handed] == [
        ("blue", opened[0].id),
        ("red", opened[0].id),
    ]


def test_a_full_disk_that_rolls_a_whole_batch_back_fails_all_of_it_and_nothing_else(
    store: SqliteStore,
) -> None:
    red, green, theater, handed = blue_on_the_spot(store)
    handed.clear()
    outcomes: dict[str, object] = {}

    def file(name: str, party: PartyRecord, text: str) -> None:
        try:
            outcomes[name] = theater.file(party, "operation", text)
        except Exception as exc:
            outcomes[name] = exc

    theater._queued += 1  # a change waits behind A, so A leaves its COMMIT to the batch
    first = threading.Thread(target=file, args=("A", red, body(disc("a", 41.0, 35.0))))
    first.start()
    while store.pending() is None:
        time.sleep(0.005)
    (pages,) = store._db.execute("PRAGMA page_count").fetchone()
    store._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # the disk is full
    many = body(*[disc(f"v{k}", 40.0 + k * 1e-5, 35.0) for k in range(200)])
    file("B", red, many)  # SQLite rolls back the whole batch, A's writes with it
    store._db.execute("PRAGMA max_page_count = 1073741823")
    theater._queued -= 1
    file("C", green, body(disc("c", 40.0, 35.0)))
    first.join(10)
    assert isinstance(outcomes["A"], sqlite3.OperationalError)  # told: its filing is lost
    assert isinstance(outcomes["B"], sqlite3.OperationalError)
    assert sorted(f.party_id for f in store.active_filings()) == ["blue", "green"]
    stored = [e.id for p in ("blue", "green") for e in store.events_after(p, 0)]
    assert sorted(e.id for e in handed) == sorted(stored) and stored
    # the picture is the store's: red's lost filing is not in it
    met = theater.file(red, "operation", body(disc("r", 40.0, 35.0))).conflicts
    assert sorted(c.party_b for c in met) == ["blue", "green"]


def test_a_picture_that_failed_to_load_is_read_again_before_the_next_change(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    red, green, theater, _ = blue_on_the_spot(store)

    def unreadable() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(theater._index, "add_many", index_full)
    monkeypatch.setattr(store, "volume_footprints", unreadable)
    with pytest.raises(RuntimeError, match="index full"):
        theater.file(red, "operation", body(disc("r", 40.0, 35.0)))  # written, then reload fails
    monkeypatch.undo()
    met = theater.file(green, "operation", body(disc("g", 40.0, 35.0))).conflicts
    assert sorted(c.party_b for c in met) == ["blue", "red"]


def test_a_change_that_fails_after_telling_writes_none_of_its_events(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change's events (and its conflicts' extents) wait for the end of its
    transaction, their ids given at once: one that fails between two conflicts writes
    none of them, and the ids of the next change's events are the store's own, as
    handed on."""
    red, blue, theater, handed = listening_theater(store)
    theater.file(red, "operation", body(disc("r1", 40.0, 35.0), disc("r2", 41.0, 35.0)))
    real_add_conflict = store.add_conflict
    calls = []

    def second_fails(record: Any, extent: Any = None) -> int:
        calls.append(record)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real_add_conflict(record, extent)

    monkeypatch.setattr(store, "add_conflict", second_fails)
    two = body(disc("b1", 40.0, 35.0), disc("b2", 41.0, 35.0))
    with pytest.raises(sqlite3.OperationalError):
        theater.file(blue, "operation", two)
    monkeypatch.setattr(store, "add_conflict", real_add_conflict)
    assert len(calls) == 2 and handed == []
    assert store.events_with_conflicts("red", 0) == []
    # nor its conflicts' extents, though the first was drawn: the next change (one
    # that meets nothing) commits no extent of a conflict that is not there
    assert theater.file(blue, "site", body(disc("far", 10.0, 10.0))).conflicts == ()
    assert_extents_hold_the_regions(store.path)
    opened = theater.file(blue, "operation", two).conflicts
    assert len(opened) == 2
    for party in ("red", "blue"):
        stored = store.events_with_conflicts(party, 0)
        live = [e for e in handed if e.party_id == party]
        assert [(e.id, e.kind, e.conflict) for e in live] == [
            (event.id, event.kind, conflict) for event, conflict in stored
        ]
    assert sorted(e.id for e in handed) == list(range(1, 5))
