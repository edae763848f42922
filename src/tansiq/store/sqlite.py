"""The embedded store: one SQLite file in WAL mode, the default for ``tansiq serve``.

WAL lets readers work while one writer commits; ``synchronous=FULL`` makes a
commit durable once it returns (a filing acknowledged with 2xx survives a kill
of the process or of the machine). The schema is versioned with SQLite's
``user_version``; opening an older file migrates it, a newer one is refused.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from tansiq.errors import PartyExists, StoreInUse, StoreUnusable
from tansiq.store import extents
from tansiq.store.base import (
    Category,
    ConflictChunk,
    ConflictRecord,
    ConflictSides,
    ConflictState,
    EventRecord,
    Extent,
    FilingRecord,
    FilingState,
    FootprintRow,
    PartyRecord,
    Role,
    RulesChangeRecord,
    TokenRecord,
    VolumeForm,
    VolumeRecord,
)
from tansiq.store.serving_lock import ServingLock

SCHEMA_VERSION = 14


_log = logging.getLogger(__name__)


class Batch:
    """Changes in one open transaction, made durable together by one COMMIT."""

    def __init__(self) -> None:
        self.changes = 0
        #: what the batch's changes asked to hand on once it is durable (see note())
        self.notes: list[Any] = []
        self._done = threading.Event()
        self._error: BaseException | None = None

    def finish(self, error: BaseException | None) -> None:
        self._error = error
        self._done.set()

    def wait(self) -> None:
        """Return once the batch is committed; raise what its COMMIT raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error

_SCHEMA = """
CREATE TABLE party (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('party', 'coordinator')),
    created_at  REAL NOT NULL,
    contact     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE token (
    id          TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL REFERENCES party (id),
    salt        BLOB NOT NULL,
    digest      BLOB NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
) STRICT;
CREATE INDEX token_by_party ON token (party_id);
CREATE TABLE filing_version (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    party_id    TEXT NOT NULL REFERENCES party (id),
    category    TEXT NOT NULL CHECK (category IN ('operation', 'site', 'zone')),
    state       TEXT NOT NULL CHECK (state IN ('active', 'cancelled')),
    body        TEXT NOT NULL,
    filed_at    REAL NOT NULL,
    ends_at     REAL NOT NULL,
    PRIMARY KEY (id, version)
) STRICT;
CREATE TABLE filing (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    FOREIGN KEY (id, version) REFERENCES filing_version (id, version)
) STRICT;
CREATE INDEX filing_by_state ON filing (state);
CREATE TABLE conflict (
    id          INTEGER PRIMARY KEY,
    volume_a    TEXT NOT NULL,
    volume_b    TEXT NOT NULL,
    filing_a    TEXT NOT NULL REFERENCES filing (id),
    filing_b    TEXT NOT NULL REFERENCES filing (id),
    party_a     TEXT NOT NULL REFERENCES party (id),
    party_b     TEXT NOT NULL REFERENCES party (id),
    kind_a      TEXT NOT NULL,
    kind_b      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'withdrawn')),
    horizontal_distance_m REAL NOT NULL,
    vertical_gap_m        REAL NOT NULL,
    time_gap_s            REAL NOT NULL,
    window_start REAL NOT NULL,
    window_end   REAL NOT NULL,
    opened_at   REAL NOT NULL,
    closed_at   REAL,
    acked_a_at  REAL,
    acked_b_at  REAL,
    region_a    TEXT,
    region_b    TEXT,
    late_notice INTEGER NOT NULL DEFAULT 0,
    no_entry    INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX conflict_by_filing_a ON conflict (filing_a, state);
CREATE INDEX conflict_by_filing_b ON conflict (filing_b, state);
CREATE INDEX conflict_by_party_a ON conflict (party_a, state);
CREATE INDEX conflict_by_party_b ON conflict (party_b, state);
CREATE TABLE share (
    filing_id   TEXT NOT NULL REFERENCES filing (id),
    party_id    TEXT NOT NULL,
    PRIMARY KEY (filing_id, party_id)
) STRICT;
CREATE INDEX share_by_party ON share (party_id);
CREATE TABLE webhook (
    party_id    TEXT PRIMARY KEY REFERENCES party (id),
    url         TEXT NOT NULL,
    delivered   INTEGER NOT NULL
) STRICT;
CREATE TABLE setting (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
) STRICT;
CREATE TABLE event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    party_id    TEXT NOT NULL REFERENCES party (id),
    kind        TEXT NOT NULL,
    conflict_id INTEGER NOT NULL REFERENCES conflict (id),
    at          REAL NOT NULL
) STRICT;
CREATE INDEX event_by_party ON event (party_id, id);
"""

#: schema 4: the Idempotency-Key a party sent with a new filing, and a digest of what it
#: sent (its category and body): the same request again is answered, not filed again
_FILING_KEY_TABLE = """
CREATE TABLE filing_key (
    party_id    TEXT NOT NULL REFERENCES party (id),
    key         TEXT NOT NULL,
    filing_id   TEXT NOT NULL REFERENCES filing (id),
    digest      BLOB NOT NULL,
    PRIMARY KEY (party_id, key)
) STRICT;
"""
#: schema 6: the conflicts the keyed filing opened (JSON ids): a replay names exactly
#: them (found by their stamp before, two changes read at one clock instant were one)
_FILING_KEY_OPENED = "ALTER TABLE filing_key ADD COLUMN opened TEXT;"

#: schema 5: a party's filings of a category, in id order (GET /v1/operations and so on)
_FILING_BY_PARTY = (
    "CREATE INDEX filing_version_by_party ON filing_version (party_id, category, id);"
)

#: schema 7: the envelope of each conflict's two regions (tansiq.store.extents), for
#: pages filtered by a box: four numbers a conflict read instead of two regions parsed.
#: A conflict whose regions have a position has a row here, but for those an older
#: server wrote after the upgrade or whose regions could not be read: a box filter
#: checks the regions of a conflict without one.
_EXTENT_TABLE = """
CREATE TABLE conflict_extent (
    id          INTEGER PRIMARY KEY,
    west        REAL NOT NULL,
    south       REAL NOT NULL,
    east        REAL NOT NULL,
    north       REAL NOT NULL
) STRICT;
"""

#: schema 8: a volume's open conflicts, from either side. The catch-up after new rules
#: reads them a volume at a time (Theater.catch_up); through the index by filing it read
#: the rows of every conflict of the filing's 200 volumes each time (half its time at
#: 1M). Partial: only open conflicts are kept in it, and a conflict closed leaves it
_OPEN_BY_VOLUME = """
CREATE INDEX open_conflict_by_volume_a ON conflict (volume_a) WHERE state = 'open';
CREATE INDEX open_conflict_by_volume_b ON conflict (volume_b) WHERE state = 'open';
"""

#: schema 9: every change of the theater's rules, by whom and when (the rules in force are
#: also kept as settings, which the theater reads at one instant with its catch-up's)
_RULES_CHANGE_TABLE = """
CREATE TABLE rules_change (
    id          INTEGER PRIMARY KEY,
    separation  TEXT NOT NULL,
    lead_time_h REAL NOT NULL,
    party_id    TEXT REFERENCES party (id),
    at          REAL
) STRICT;
"""
#: a store upgraded to schema 9 begins the history with the rules it holds (the
#: service's settings ``separation`` and ``lead_time_h``), by no one at no time: who set
#: them, and when, was not kept; the setting ``rules_change`` names the change in force.
#: A store that holds none begins it empty (no rules were ever set: none are in force)
_RULES_HELD_BEFORE = """
INSERT INTO rules_change (separation, lead_time_h, party_id, at)
SELECT coalesce((SELECT value FROM setting WHERE name = 'separation'), '[]'),
       coalesce((SELECT CAST(value AS REAL) FROM setting WHERE name = 'lead_time_h'), 0.0),
       NULL, NULL
WHERE EXISTS (SELECT 1 FROM setting WHERE name IN ('separation', 'lead_time_h'));
INSERT INTO setting (name, value)
SELECT 'rules_change', CAST(max(id) AS TEXT) FROM rules_change HAVING count(*) > 0;
"""

#: schema 10: the token that set each webhook: revoking it (a stolen one, say) removes the
#: webhook, which otherwise kept receiving the party's conflicts (a reviewer). Null for a
#: webhook set before: any revocation of the party's tokens removes such a one
_WEBHOOK_TOKEN = "ALTER TABLE webhook ADD COLUMN token_id TEXT;"

#: schema 11: the change of the theater's rules (``rules_change.id``) in force when each
#: conflict took the form it shows (opened, changed or closed): which agreed minimums it
#: was judged by, which its opening time alone cannot tell while a catch-up runs. Null:
#: no change of rules had been made (the server's defaults were in force), or the
#: conflict was last written before schema 11. A plain integer: the history is never
#: deleted, and a foreign key would cost every conflict written a lookup
_CONFLICT_RULES_CHANGE = "ALTER TABLE conflict ADD COLUMN rules_change INTEGER;"

#: schema 12: when each active volume took its present form (footprint, band, window and
#: kind): the filing time of the earliest version since which it is unchanged, from
#: which its notice of entering a zone is measured. Null: stored before schema 12 (the
#: filing's latest version then stands in, as it did for every volume before)
_VOLUME_NOTIFIED = "ALTER TABLE volume ADD COLUMN notified_at REAL;"

#: schema 13: of a conflict between a zone and an operation entering it, when the entry
#: it shows was notified, from which the zone's notice is measured: a change of the
#: operation that the conflict does not show (its end moved past the zone's, its ceiling
#: raised above it) gives no new notice. Null: another pair, or written before schema 13
#: (the operation's volume's time, schema 12, then stands in)
_CONFLICT_NOTICE = (
    "ALTER TABLE conflict ADD COLUMN notice_from REAL;"
    # when each conflict took the shape it shows, from which the theater's lead time is
    # measured (a zone's notice lifted read it from the opening: a reviewer). Null:
    # written before schema 13 (the opening stands in)
    " ALTER TABLE conflict ADD COLUMN shown_at REAL;"
)

#: schema 13: the change of the theater's rules (``rules_change.id``) in force when each
#: active volume's present form was judged against the theater (its id added to its
#: filing, or its form changed while it counted; kept by versions that keep its form or
#: end it): a change of rules' catch-up opens no pair with a volume judged under it,
#: which its own change judged under the new rules (a count, not a time: a clock
#: started again at an earlier instant, as ``--clock-start`` does, made live volumes
#: read as filed after; a reviewer). Null: no change of rules had been made then, or
#: stored before schema 13
_VOLUME_JUDGED = "ALTER TABLE volume ADD COLUMN judged_under INTEGER;"

#: schema 14: of a conflict between a zone and an operation entering it, a version of
#: the operation's filing that holds the form whose entry it shows: a change of the
#: operation is a new entry if it draws, against the zone as it is, other regions than
#: that form does. Found by the clock from the filing's history instead, a clock set
#: back took the version being filed for it, and a long history was read whole under
#: the theater's lock (a reviewer). Null: another pair, or written before schema 14
_CONFLICT_NOTICE_VERSION = (
    "ALTER TABLE conflict ADD COLUMN notice_version INTEGER;"
    # an operation's change reads them before the theater's lock: from these, not from
    # the rows, where the column comes after the regions (read through their overflow
    # pages, 0.16 ms a change at 10k). Partial: a pair of operations writes no entry
    " CREATE INDEX open_notice_version_a ON conflict (filing_a, party_a, notice_version)"
    " WHERE state = 'open' AND notice_version IS NOT NULL;"
    " CREATE INDEX open_notice_version_b ON conflict (filing_b, party_b, notice_version)"
    " WHERE state = 'open' AND notice_version IS NOT NULL;"
)

#: schema 2: the footprints of active volumes, so that a restart does not re-parse filings
_VOLUME_TABLE = """
CREATE TABLE volume (
    id          TEXT PRIMARY KEY,
    filing_id   TEXT NOT NULL REFERENCES filing (id),
    party_id    TEXT NOT NULL REFERENCES party (id),
    kind        TEXT NOT NULL,
    geometry    BLOB NOT NULL,
    properties  TEXT NOT NULL,
    num         BLOB NOT NULL,
    xy          BLOB NOT NULL,
    parts       BLOB NOT NULL
) STRICT;
CREATE INDEX volume_by_filing ON volume (filing_id);
"""

#: the setting that counts revocations of tokens (see :meth:`SqliteStore.revocations`)
_REVOCATIONS = "tokens_revoked"
_RULES_CHANGE_COLUMNS = "id, separation, lead_time_h, party_id, at"
_FILING_COLUMNS = "id, party_id, category, version, state, body, filed_at, ends_at"
_CONFLICT_COLUMNS = (
    "id, volume_a, volume_b, filing_a, filing_b, party_a, party_b, kind_a, kind_b, state,"
    " horizontal_distance_m, vertical_gap_m, time_gap_s, window_start, window_end,"
    " opened_at, closed_at, acked_a_at, acked_b_at, region_a, region_b, late_notice, no_entry,"
    " version, rules_change, notice_from, shown_at, notice_version"
)

_PUT_EXTENT = (
    "INSERT OR REPLACE INTO conflict_extent (id, west, south, east, north) VALUES (?, ?, ?, ?, ?)"
)

#: a migration filling this many rows or more says so, every MIGRATION_REPORT_S seconds
MIGRATION_TELL_FROM = 50_000
MIGRATION_REPORT_S = 5.0
#: conflicts read at a time by the migration that finds their extents
_EXTENTS_AT_ONCE = 2_000

_CONFLICT_JOINED = ", ".join(f"c.{name.strip()}" for name in _CONFLICT_COLUMNS.split(","))


class SqliteStore:
    """A :class:`tansiq.store.Store` in one SQLite file (``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()  # the writing connection and the batch
        self._depth = 0
        self._batch: Batch | None = None
        self._notes: list[Any] = []  # of the outermost transaction in progress
        self._events: list[tuple[int, str, str, int, float]] = []  # of it, to be written
        self._extents: list[tuple[int, float, float, float, float]] = []  # of it, likewise
        self._on_commit: list[Callable[[list[Any]], None]] = []
        #: outermost transactions whose writes joined a batch (ever): see Theater._change
        self.released = 0
        #: batches lost (a failed COMMIT, or SQLite rolling a whole batch back): whoever
        #: keeps a picture of the store in memory must read it again
        self.lost = 0
        self._writing = threading.local()
        self._per_thread = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._parties: dict[str, PartyRecord] = {}
        self._separate_readers = False
        connected: sqlite3.Connection | None = None
        _refuse_other_names(self.path)
        try:
            self._db = connected = self._connect()
            self._refuse_another_applications()  # before WAL: that would change its file
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
            # reads outside a change see only what is committed: each thread reads on a
            # connection of its own (WAL readers never wait for the writer nor for one
            # another). ":memory:" has one connection, shared.
            self._separate_readers = self.path != ":memory:"
        except BaseException as exc:
            if connected is not None:  # (a refused store's connection was left open)
                connected.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreUnusable(self.path, str(exc)) from exc
            raise

    def _refuse_another_applications(self) -> None:
        """A SQLite database with tables and no Tansiq schema is another application's:
        refused as it is found. Made a store (schema written beside its tables, switched
        to WAL) it was changed for good, by a command that was only to read it
        (`tansiq party list --db other.db`; a reviewer). An empty file, or a database
        without tables, becomes a new store."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        (tables,) = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if version == 0 and tables:
            raise StoreUnusable(
                self.path,
                "it is a SQLite database of another application (it has tables, and no"
                " Tansiq schema); name a new file or a Tansiq store",
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )

    @contextmanager
    def transaction(self, defer_commit: bool = False) -> Iterator[None]:
        """Writes that land together or not at all (a SAVEPOINT in the open batch).

        The outermost one commits the batch when it ends (durably, before it
        returns), unless ``defer_commit``: then its writes wait in the open batch
        for :meth:`commit`, and :meth:`pending` tells whom to wait for. Committing
        several changes with one COMMIT (one fsync) is what lets many concurrent
        filers through; see :class:`tansiq.service.theater.Theater`.
        """
        with self.writing():
            outermost = self._depth == 0
            if outermost:
                if self._batch is None:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._batch = Batch()
                self._db.execute("SAVEPOINT change")
            self._depth += 1
            try:
                yield
                if outermost:
                    self._write_events()
            except BaseException as exc:
                self._depth -= 1
                if outermost:
                    self._notes = []
                    self._events = []
                    self._extents = []
                    self._undo_change(exc)
                raise
            self._depth -= 1
            if outermost:
                self._db.execute("RELEASE change")
                assert self._batch is not None
                self._batch.changes += 1
                self._batch.notes.extend(self._notes)
                self._notes = []
                self.released += 1
                if not defer_commit:
                    self.commit()

    def _undo_change(self, error: BaseException) -> None:
        """Roll back the failed change's savepoint; the batch before it stays open."""
        if not self._db.in_transaction:
            # SQLite rolled the whole batch back (a full disk, say): every change in it
            # is lost, and whoever waits for it is told so
            batch, self._batch = self._batch, None
            self._lose(batch, error)
            return
        self._db.execute("ROLLBACK TO change")
        self._db.execute("RELEASE change")
        if self._batch is not None and not self._batch.changes:
            batch, self._batch = self._batch, None
            try:
                self._db.execute("ROLLBACK")
            finally:
                batch.finish(None)  # it held nothing: nobody can be waiting on it

    def _lose(self, batch: Batch | None, error: BaseException) -> None:
        self.lost += 1
        if batch is not None:
            batch.finish(error)

    def note(self, item: Any) -> None:
        """Hand ``item`` to the :meth:`on_commit` hooks once the writes of the transaction
        in progress are committed; never, if they are rolled back or their COMMIT fails.
        Whoever commits the batch (another thread's write included) hands it on."""
        assert self._depth > 0, "note() belongs inside a transaction"
        self._notes.append(item)

    def on_commit(self, hook: Callable[[list[Any]], None]) -> None:
        """Call ``hook(notes)`` after every COMMIT whose batch carries notes, in commit
        order (from the committing thread, holding the writing connection: keep it short;
        what it raises is logged, not raised: the batch is durable)."""
        self._on_commit.append(hook)

    def pending(self) -> Batch | None:
        """The open batch: changes written and not yet committed."""
        return self._batch

    def commit(self) -> None:
        """Commit the open batch, if any, and tell its waiters (raising on failure)."""
        with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            try:
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._lose(batch, exc)  # its waiters are told before anything else can fail
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            batch.finish(None)
            if batch.notes:
                for hook in self._on_commit:
                    try:
                        hook(batch.notes)
                    except Exception:
                        _log.exception("a commit hook failed (the batch is committed)")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writing connection: reads inside see this batch's uncommitted writes.

        Outside, reads go to a second connection and see only what is committed (a
        change not yet durable is never shown, nor its events pushed).
        """
        with self._lock:
            before = getattr(self._writing, "on", False)
            self._writing.on = True
            try:
                yield
            finally:
                self._writing.on = before

    def add_party(self, party: PartyRecord) -> None:
        with self.transaction():
            try:
                self._db.execute(
                    "INSERT INTO party (id, name, lang, role, created_at, contact)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (party.id, party.name, party.lang, party.role, party.created_at, party.contact),
                )
            except sqlite3.IntegrityError as exc:
                raise PartyExists(party.id) from exc

    def get_party(self, party_id: str) -> PartyRecord | None:
        # parties never change once made: every conflict shown names one, so keep them
        known = self._parties.get(party_id)
        if known is not None:
            return known
        row = self._fetchone(
            "SELECT id, name, lang, role, created_at, contact FROM party WHERE id = ?", (party_id,)
        )
        if row is None:
            return None
        self._parties[party_id] = record = _party(row)
        return record

    def list_parties(self, after: str = "", limit: int | None = None) -> list[PartyRecord]:
        rows = self._fetchall(
            "SELECT id, name, lang, role, created_at, contact FROM party WHERE id > ?"
            " ORDER BY id LIMIT ?",
            (after, -1 if limit is None else limit),
        )
        return [_party(row) for row in rows]

    def add_token(self, token: TokenRecord) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO token (id, party_id, salt, digest, created_at, revoked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.party_id,
                    token.salt,
                    token.digest,
                    token.created_at,
                    token.revoked_at,
                ),
            )

    def get_token(self, token_id: str) -> TokenRecord | None:
        row = self._fetchone(
            "SELECT id, party_id, salt, digest, created_at, revoked_at FROM token WHERE id = ?",
            (token_id,),
        )
        return TokenRecord(*row) if row else None

    def list_tokens(self, party_id: str) -> list[TokenRecord]:
        rows = self._fetchall(
            "SELECT id, party_id, salt, digest, created_at, revoked_at FROM token"
            " WHERE party_id = ? ORDER BY created_at, id",
            (party_id,),
        )
        return [TokenRecord(*row) for row in rows]

    def revoke_tokens(self, party_id: str, token_id: str | None, at: float) -> int:
        with self.transaction():
            if token_id is None:
                cursor = self._db.execute(
                    "UPDATE token SET revoked_at = ? WHERE party_id = ? AND revoked_at IS NULL",
                    (at, party_id),
                )
            else:
                cursor = self._db.execute(
                    "UPDATE token SET revoked_at = ?"
                    " WHERE party_id = ? AND id = ? AND revoked_at IS NULL",
                    (at, party_id, token_id),
                )
            if cursor.rowcount:
                self._db.execute(
                    "INSERT INTO setting (name, value) VALUES (?, '1') ON CONFLICT (name)"
                    " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                    (_REVOCATIONS,),
                )
            return cursor.rowcount

    def revocations(self) -> int:
        row = self._fetchone("SELECT value FROM setting WHERE name = ?", (_REVOCATIONS,))
        return int(row[0]) if row else 0

    def add_filing_version(self, filing: FilingRecord) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT INTO filing_version ({_FILING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    filing.id,
                    filing.party_id,
                    filing.category,
                    filing.version,
                    filing.state,
                    filing.body,
                    filing.filed_at,
                    filing.ends_at,
                ),
            )
            self._db.execute(
                "INSERT INTO filing (id, version, state) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE"
                " SET version = excluded.version, state = excluded.state",
                (filing.id, filing.version, filing.state),
            )

    def get_filing(
        self, filing_id: str, version: int | None = None, party_id: str | None = None
    ) -> FilingRecord | None:
        # the party is compared in SQL, before the body (stored after party_id, in
        # overflow pages when large) is read: read first and compared in Python, another
        # party's 1.9 MB filing was told from a made-up id by 0.25 ms (a reviewer)
        owner = "" if party_id is None else " AND v.party_id = ?"
        if version is None:
            query = (
                f"SELECT {_qualified('v', _FILING_COLUMNS)} FROM filing f"
                " JOIN filing_version v ON v.id = f.id AND v.version = f.version"
                f" WHERE f.id = ?{owner}"
            )
            params: tuple[object, ...] = (filing_id,)
        else:
            query = (
                f"SELECT {_FILING_COLUMNS} FROM filing_version v"
                f" WHERE v.id = ? AND v.version = ?{owner}"
            )
            params = (filing_id, version)
        row = self._fetchone(query, params if party_id is None else (*params, party_id))
        return FilingRecord(*row) if row else None

    def filing_history(
        self, filing_id: str, after: int = 0, limit: int | None = None
    ) -> list[FilingRecord]:
        rows = self._fetchall(
            f"SELECT {_FILING_COLUMNS} FROM filing_version WHERE id = ? AND version > ?"
            " ORDER BY version LIMIT ?",
            (filing_id, after, -1 if limit is None else limit),
        )
        return [FilingRecord(*row) for row in rows]

    def filings_of_party(
        self,
        party_id: str,
        category: Category,
        state: FilingState | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[FilingRecord]:
        # the index walks the party's versions of the category in id order; the join
        # keeps each filing's latest
        query = (
            f"SELECT {_qualified('v', _FILING_COLUMNS)} FROM filing_version v"
            " JOIN filing f ON f.id = v.id AND f.version = v.version"
            " WHERE v.party_id = ? AND v.category = ? AND v.id > ?"
        )
        args: tuple[object, ...] = (party_id, category, after)
        if state is not None:
            query += " AND f.state = ?"
            args += (state,)
        rows = self._fetchall(query + " ORDER BY v.id LIMIT ?", (*args, limit))
        return [FilingRecord(*row) for row in rows]

    def active_filings(self) -> list[FilingRecord]:
        rows = self._fetchall(
            f"SELECT {_qualified('v', _FILING_COLUMNS)} FROM filing f"
            " JOIN filing_version v ON v.id = f.id AND v.version = f.version"
            " WHERE f.state = 'active' ORDER BY f.id"
        )
        return [FilingRecord(*row) for row in rows]

    def put_volumes(self, volumes: Sequence[VolumeRecord]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO volume (id, filing_id, party_id, kind, geometry, properties,"
                " num, xy, parts, notified_at, judged_under)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        v.id, v.filing_id, v.party_id, v.kind, v.geometry, v.properties,
                        v.num, v.xy, v.parts, v.notified_at, v.judged_under,
                    )
                    for v in volumes
                ],
            )  # fmt: skip

    def drop_volumes(self, filing_id: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM volume WHERE filing_id = ?", (filing_id,))

    def get_volume(self, volume_id: str) -> VolumeRecord | None:
        row = self._fetchone(
            "SELECT id, filing_id, party_id, kind, geometry, properties, num, xy, parts,"
            " notified_at, judged_under FROM volume WHERE id = ?",
            (volume_id,),
        )
        return VolumeRecord(*row) if row else None

    def notified_at(self, volume_id: str) -> float | None:
        row = self._fetchone("SELECT notified_at FROM volume WHERE id = ?", (volume_id,))
        return None if row is None else row[0]

    def forms_of(self, filing_id: str) -> dict[str, VolumeForm]:
        rows = self._fetchall(
            "SELECT id, notified_at, judged_under FROM volume WHERE filing_id = ?", (filing_id,)
        )
        return {volume_id: VolumeForm(at, under) for volume_id, at, under in rows}

    def judged_under(self, volume_id: str) -> int | None:
        row = self._fetchone("SELECT judged_under FROM volume WHERE id = ?", (volume_id,))
        return None if row is None else row[0]

    def volume_footprints(self) -> list[FootprintRow]:
        return self._fetchall(
            "SELECT id, party_id, kind, num, xy, parts FROM volume ORDER BY rowid"
        )

    def add_conflict(self, conflict: ConflictRecord, extent: Extent | None = None) -> int:
        with self.transaction():
            cursor = self._db.execute(
                f"INSERT INTO conflict ({_CONFLICT_COLUMNS})"
                f" VALUES (NULL{', ?' * (len(fields(ConflictRecord)) - 1)})",
                astuple_without_id(conflict),
            )
            assert cursor.lastrowid is not None
            if extent is None and (conflict.region_a or conflict.region_b):
                extent = extents.of_regions(conflict.region_a, conflict.region_b)
            if extent is not None:
                self._extents.append((cursor.lastrowid, *extent))
            return cursor.lastrowid

    def get_conflict(
        self, conflict_id: int, party_id: str | None = None
    ) -> ConflictRecord | None:
        if party_id is None:
            row = self._fetchone(
                f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE id = ?", (conflict_id,)
            )
        else:  # the sides compared before the regions (stored after them) are read
            row = self._fetchone(
                f"SELECT {_CONFLICT_COLUMNS} FROM conflict"
                " WHERE id = ? AND (party_a = ? OR party_b = ?)",
                (conflict_id, party_id, party_id),
            )
        return _conflict(row) if row else None

    def notice_versions_of(self, filing_id: str, party_id: str) -> list[int]:
        # by the partial indexes (schema 14), as the planner chooses them; by the index
        # of the party's conflicts, which it chose before they existed, it walked all
        # of a party's open conflicts: 0.8 ms a change at 10k (bench/profile_filing.py)
        rows = self._fetchall(
            "SELECT notice_version FROM conflict"
            " WHERE filing_a = ? AND party_a = ? AND state = 'open'"
            " AND notice_version IS NOT NULL UNION"
            " SELECT notice_version FROM conflict"
            " WHERE filing_b = ? AND party_b = ? AND state = 'open'"
            " AND notice_version IS NOT NULL ORDER BY 1",
            (filing_id, party_id, filing_id, party_id),
        )
        return [int(row[0]) for row in rows]

    def filings_with_notice_versions(self) -> list[tuple[str, str]]:
        # named: the planner chose to scan every open conflict, reading each row to its
        # end, past the regions (a restart at 1M must not)
        rows = self._fetchall(
            "SELECT filing_a, party_a FROM conflict INDEXED BY open_notice_version_a"
            " WHERE state = 'open' AND notice_version IS NOT NULL UNION"
            " SELECT filing_b, party_b FROM conflict INDEXED BY open_notice_version_b"
            " WHERE state = 'open' AND notice_version IS NOT NULL"
        )
        return [(row[0], row[1]) for row in rows]

    def filing_version(self, filing_id: str) -> int | None:
        row = self._fetchone("SELECT version FROM filing WHERE id = ?", (filing_id,))
        return None if row is None else int(row[0])

    def conflict_extent(self, conflict_id: int) -> Extent | None:
        for pending in reversed(self._extents):  # this change's, not yet written
            if pending[0] == conflict_id:
                return pending[1:]
        row = self._fetchone(
            "SELECT west, south, east, north FROM conflict_extent WHERE id = ?", (conflict_id,)
        )
        return None if row is None else (row[0], row[1], row[2], row[3])

    def open_conflicts_of(self, filing_id: str) -> list[ConflictRecord]:
        rows = self._fetchall(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE state = 'open'"
            " AND (filing_a = ? OR filing_b = ?) ORDER BY id",
            (filing_id, filing_id),
        )
        return [_conflict(row) for row in rows]

    def open_conflict_sides_of_volume(self, volume_id: str) -> list[ConflictSides]:
        # from the part of each row stored with it, the regions (kilobytes, in overflow
        # pages) not read: a protected site of a 40 km footprint had 1,405 open
        # conflicts, 6 MB of regions, which took 0.34 s to read from the disk where the
        # catch-up needed 260 of them (timed as bench/catch_up_rate.py --parts times
        # it, docs/benchmarks.md); the catch-up reads whole only those it judges
        rows = self._fetchall(
            "SELECT id, volume_a, volume_b, kind_a, kind_b FROM conflict"
            " WHERE volume_a = ? AND state = 'open' UNION ALL"
            " SELECT id, volume_a, volume_b, kind_a, kind_b FROM conflict"
            " WHERE volume_b = ? AND state = 'open'",
            (volume_id, volume_id),
        )
        return [ConflictSides(*row) for row in rows]

    def get_conflicts(self, conflict_ids: Sequence[int]) -> list[ConflictRecord]:
        if not conflict_ids:
            return []
        rows = self._fetchall(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE id IN"
            " (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps([int(i) for i in conflict_ids]),),
        )
        return [_conflict(row) for row in rows]

    def update_conflict(self, conflict: ConflictRecord, extent: Extent | None = None) -> None:
        with self.transaction():
            if extent is not None:
                self._extents.append((conflict.id, *extent))
            self._db.execute(
                "UPDATE conflict SET kind_a = ?, kind_b = ?, horizontal_distance_m = ?,"
                " vertical_gap_m = ?, time_gap_s = ?, window_start = ?, window_end = ?,"
                " region_a = ?, region_b = ?, late_notice = ?, no_entry = ?,"
                " acked_a_at = ?, acked_b_at = ?, version = ?, rules_change = ?,"
                " notice_from = ?, shown_at = ?, notice_version = ?"
                " WHERE id = ? AND state = 'open'",
                (
                    conflict.kind_a, conflict.kind_b, conflict.horizontal_distance_m,
                    conflict.vertical_gap_m, conflict.time_gap_s, conflict.window_start,
                    conflict.window_end, conflict.region_a, conflict.region_b,
                    conflict.late_notice, conflict.no_entry, conflict.acked_a_at,
                    conflict.acked_b_at, conflict.version, conflict.rules_change,
                    conflict.notice_from, conflict.shown_at, conflict.notice_version,
                    conflict.id,
                ),
            )  # fmt: skip

    def close_conflict(
        self, conflict_id: int, state: ConflictState, at: float, rules_change: int | None = None
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE conflict SET state = ?, closed_at = ?, version = version + 1,"
                " rules_change = ? WHERE id = ? AND state = 'open'",
                (state, at, rules_change, conflict_id),
            )

    def acknowledge_conflict(self, conflict_id: int, side: Literal["a", "b"], at: float) -> None:
        column = "acked_a_at" if side == "a" else "acked_b_at"
        with self.transaction():
            self._db.execute(
                f"UPDATE conflict SET {column} = ? WHERE id = ? AND {column} IS NULL",
                (at, conflict_id),
            )

    def conflicts_of_party(
        self,
        party_id: str,
        state: ConflictState | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[ConflictRecord]:
        query = (
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE (party_a = ? OR party_b = ?)"
        )
        args: tuple[object, ...] = (party_id, party_id)
        if state is not None:
            query += " AND state = ?"
            args += (state,)
        if start is not None:  # the window [window_start, window_end] overlaps [start, end]
            query += " AND window_end >= ?"
            args += (start,)
        if end is not None:
            query += " AND window_start <= ?"
            args += (end,)
        rows = self._fetchall(query + " ORDER BY id", args)
        return [_conflict(row) for row in rows]

    def conflicts_of_party_after(
        self,
        party_id: str,
        state: ConflictState | None,
        after: int,
        limit: int,
        start: float | None = None,
        end: float | None = None,
        boxes: Sequence[Extent] = (),
    ) -> ConflictChunk:
        # one branch per side and state, each a range of its index (party, state, then
        # rowid) that stops at ``limit``: an OR of the two sides read every conflict of
        # the party (millions at 1M) before it could order and cut them. The branches
        # read ids only (from the index); the rows kept are read after, by id (read
        # whole in the branches, six times as many rows were read as kept: a reviewer)
        states = (state,) if state is not None else ("open", "resolved", "withdrawn")
        branch = (
            "SELECT * FROM (SELECT id FROM conflict WHERE {side} = ?"
            " AND state = ? AND id > ? ORDER BY id LIMIT ?)"
        )
        branches, args = [], []
        for side in ("party_a", "party_b"):
            for one in states:
                branches.append(branch.format(side=side))
                args += [party_id, one, after, limit]
        ids = self._fetchall(" UNION ALL ".join(branches) + " ORDER BY id LIMIT ?", (*args, limit))
        kept = [i for (i,) in ids]
        inside: frozenset[int] = frozenset()
        if boxes and kept:
            # the box first, on the extents alone (a small table, read in id order): a
            # conflict row is a page or more of the file, and reading each one's took
            # 0.6-1.3 s for 100,000 ids at 1M against 0.4 s (bench/conflict_pages.py,
            # docs/benchmarks.md). A conflict with no extent (one an older server wrote
            # after the upgrade, or whose regions could not be read) is kept, for the
            # caller's check of its regions (a review found such conflicts dropped)
            meets = "(e.east >= ? AND e.west <= ? AND e.north >= ? AND e.south <= ?)"
            within = "(e.west >= ? AND e.east <= ? AND e.south >= ? AND e.north <= ?)"
            near: list[object] = []
            for west, south, east, north in boxes:
                near += [west, east, south, north]
            near += [json.dumps(kept), *near]
            found = self._fetchall(
                f"SELECT j.value, coalesce({' OR '.join([within] * len(boxes))}, 0)"
                " FROM json_each(?) j LEFT JOIN conflict_extent e ON e.id = j.value"
                " WHERE (e.id IS NULL AND EXISTS (SELECT 1 FROM conflict c WHERE c.id = j.value"
                " AND (c.region_a IS NOT NULL OR c.region_b IS NOT NULL)))"
                " OR " + " OR ".join([meets] * len(boxes)),
                near,
            )
            kept = [i for i, _ in found]
            inside = frozenset(i for i, surely in found if surely)
        # then the window, on each row's leading columns, so that only the rows kept
        # are read whole (their regions are most of a row); and the state again: a
        # conflict closed between the reads is not listed as open
        query = (
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE id IN"
            " (SELECT value FROM json_each(?))"
            f" AND state IN ({', '.join('?' * len(states))})"
        )
        filters: list[object] = [json.dumps(kept), *states]
        if start is not None:  # the window [window_start, window_end] meets [start, end]
            query += " AND window_end >= ?"
            filters.append(start)
        if end is not None:
            query += " AND window_start <= ?"
            filters.append(end)
        rows = self._fetchall(query + " ORDER BY id", filters)
        last = ids[-1][0] if len(ids) == limit else None
        return ConflictChunk([_conflict(row) for row in rows], last, inside)

    def _conflicts_opened_by(self, filing_id: str, at: float) -> list[ConflictRecord]:
        # the change that files a version opens its conflicts with its volumes as side a,
        # stamped with the version's filed_at
        rows = self._fetchall(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE filing_a = ? AND opened_at = ?"
            " ORDER BY id",
            (filing_id, at),
        )
        return [_conflict(row) for row in rows]

    def add_filing_key(
        self, party_id: str, key: str, filing_id: str, digest: bytes, opened: Sequence[int]
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO filing_key (party_id, key, filing_id, digest, opened)"
                " VALUES (?, ?, ?, ?, ?)",
                (party_id, key, filing_id, digest, json.dumps(list(opened))),
            )

    def conflicts_opened_with_key(self, party_id: str, key: str) -> list[ConflictRecord]:
        row = self._fetchone(
            "SELECT k.filing_id, k.opened, v.filed_at FROM filing_key k"
            " JOIN filing_version v ON v.id = k.filing_id AND v.version = 1"
            " WHERE k.party_id = ? AND k.key = ?",
            (party_id, key),
        )
        if row is None:
            return []
        filing_id, opened, filed_at = row
        if opened is None:  # a key kept before schema 6: its version's stamp names them
            return self._conflicts_opened_by(filing_id, filed_at)
        return self.get_conflicts(json.loads(opened))

    def filing_of_key(self, party_id: str, key: str) -> tuple[str, bytes] | None:
        row = self._fetchone(
            "SELECT filing_id, digest FROM filing_key WHERE party_id = ? AND key = ?",
            (party_id, key),
        )
        return (row[0], row[1]) if row else None

    def set_share(self, filing_id: str, party_ids: Sequence[str]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM share WHERE filing_id = ?", (filing_id,))
            self._db.executemany(
                "INSERT INTO share (filing_id, party_id) VALUES (?, ?)",
                [(filing_id, p) for p in party_ids],
            )

    def shared_with(
        self, party_id: str, after: str = "", limit: int | None = None
    ) -> list[FilingRecord]:
        # the shares in filing id order from ``after`` (the primary key's index), the
        # party's or all's kept as they come, until the page is full: SQLite's own plan
        # read every active filing and sorted them (21-36 ms a page with 5,000 shared,
        # 0.3 ms this way: bench/shared_pages.py). The unary + keeps it off the party index
        rows = self._fetchall(
            f"SELECT {_qualified('v', _FILING_COLUMNS)} FROM share s"
            " CROSS JOIN filing f ON f.id = s.filing_id"
            " CROSS JOIN filing_version v ON v.id = f.id AND v.version = f.version"
            " WHERE s.filing_id > ? AND +s.party_id IN (?, '*') AND f.state = 'active'"
            " AND v.party_id != ? GROUP BY s.filing_id ORDER BY s.filing_id LIMIT ?",
            (after, party_id, party_id, -1 if limit is None else limit),
        )
        return [FilingRecord(*row) for row in rows]

    def set_webhook(
        self, party_id: str, url: str | None, delivered: int = 0, token_id: str | None = None
    ) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM webhook WHERE party_id = ?", (party_id,))
            if url is not None:
                self._db.execute(
                    "INSERT INTO webhook (party_id, url, delivered, token_id)"
                    " VALUES (?, ?, ?, ?)",
                    (party_id, url, delivered, token_id),
                )

    def webhook_token(self, party_id: str) -> str | None:
        row = self._fetchone("SELECT token_id FROM webhook WHERE party_id = ?", (party_id,))
        return None if row is None or row[0] is None else str(row[0])

    def webhooks(self) -> list[tuple[str, str, int]]:
        """(party, url, last event id delivered) of every party with a webhook."""
        rows = self._fetchall("SELECT party_id, url, delivered FROM webhook ORDER BY party_id")
        return [(str(p), str(u), int(d)) for p, u, d in rows]

    def webhook_of(self, party_id: str) -> tuple[str, int] | None:
        """(url, last event id delivered) of the party's webhook, if it has one."""
        row = self._fetchone("SELECT url, delivered FROM webhook WHERE party_id = ?", (party_id,))
        return (str(row[0]), int(row[1])) if row else None

    def mark_delivered(self, party_id: str, event_id: int, url: str) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE webhook SET delivered = max(delivered, ?) WHERE party_id = ? AND url = ?",
                (event_id, party_id, url),
            )

    def last_event_of(self, party_id: str) -> int:
        row = self._fetchone(
            "SELECT coalesce(max(id), 0) FROM event WHERE party_id = ?", (party_id,)
        )
        return int(row[0])

    def get_setting(self, name: str) -> str | None:
        row = self._fetchone("SELECT value FROM setting WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def get_settings(self, names: Collection[str]) -> dict[str, str]:
        listed = sorted(names)
        marks = ", ".join("?" * len(listed))
        rows = self._fetchall(f"SELECT name, value FROM setting WHERE name IN ({marks})", listed)
        return {str(name): str(value) for name, value in rows}

    def set_setting(self, name: str, value: str) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO setting (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def setting_once(self, name: str, value: str) -> str:
        with self.transaction():
            self._db.execute(
                "INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, value),
            )
            (stored,) = self._db.execute(
                "SELECT value FROM setting WHERE name = ?", (name,)
            ).fetchone()
        return str(stored)

    def open_conflicts(self, kinds: Collection[str] | None = None) -> list[ConflictRecord]:
        if kinds is None:
            rows = self._fetchall(
                f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE state = 'open' ORDER BY id"
            )
        else:
            listed = sorted(kinds)
            marks = ", ".join("?" * len(listed))
            rows = self._fetchall(
                f"SELECT {_CONFLICT_COLUMNS} FROM conflict WHERE state = 'open'"
                f" AND kind_a IN ({marks}) AND kind_b IN ({marks}) ORDER BY id",
                (*listed, *listed),
            )
        return [_conflict(row) for row in rows]

    def add_rules_change(
        self, separation: str, lead_time_h: float, party_id: str, at: float
    ) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO rules_change (separation, lead_time_h, party_id, at)"
                " VALUES (?, ?, ?, ?)",
                (separation, lead_time_h, party_id, at),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def rules_changes(
        self, after: int = 0, limit: int | None = None
    ) -> list[RulesChangeRecord]:
        rows = self._fetchall(
            f"SELECT {_RULES_CHANGE_COLUMNS} FROM rules_change WHERE id > ? ORDER BY id LIMIT ?",
            (after, -1 if limit is None else limit),
        )
        return [RulesChangeRecord(*row) for row in rows]

    def get_rules_change(self, change_id: int) -> RulesChangeRecord | None:
        row = self._fetchone(
            f"SELECT {_RULES_CHANGE_COLUMNS} FROM rules_change WHERE id = ?", (change_id,)
        )
        return RulesChangeRecord(*row) if row else None

    def add_event(self, party_id: str, kind: str, conflict_id: int, at: float) -> int:
        """Written with the rest of the transaction's events, in one statement, when
        the outermost transaction ends (a contested change at 1M makes some 25: one
        INSERT each was a tenth of the change). The id is known at once: the writer
        holds the write lock, so the next id is the table's AUTOINCREMENT counter
        (read once a transaction) plus the events queued before this one."""
        with self.transaction():
            if not self._events:
                (last,) = self._db.execute(
                    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'event'), 0)"
                ).fetchone()
                event_id = int(last) + 1
            else:
                event_id = self._events[-1][0] + 1
            self._events.append((event_id, party_id, kind, conflict_id, at))
            return event_id

    def _write_events(self) -> None:
        """The change's events and extents, each kind in one statement when it ends: one
        each was some 20 µs of the change's time a statement (bench/sql_statements.py)."""
        if self._events:
            events, self._events = self._events, []
            self._db.executemany(
                "INSERT INTO event (id, party_id, kind, conflict_id, at) VALUES (?, ?, ?, ?, ?)",
                events,
            )
        if self._extents:
            extents_, self._extents = self._extents, []
            self._db.executemany(_PUT_EXTENT, extents_)

    def get_event(self, event_id: int) -> EventRecord | None:
        row = self._fetchone(
            "SELECT id, party_id, kind, conflict_id, at FROM event WHERE id = ?", (event_id,)
        )
        return EventRecord(*row) if row else None

    def events_after(self, party_id: str, after: int, limit: int = 1000) -> list[EventRecord]:
        rows = self._fetchall(
            "SELECT id, party_id, kind, conflict_id, at FROM event"
            " WHERE party_id = ? AND id > ? ORDER BY id LIMIT ?",
            (party_id, after, limit),
        )
        return [EventRecord(*row) for row in rows]

    def events_with_conflicts(
        self, party_id: str, after: int, limit: int = 1000
    ) -> list[tuple[EventRecord, ConflictRecord]]:
        rows = self._fetchall(
            f"SELECT e.id, e.party_id, e.kind, e.conflict_id, e.at, {_CONFLICT_JOINED}"
            " FROM event e JOIN conflict c ON c.id = e.conflict_id"
            " WHERE e.party_id = ? AND e.id > ? ORDER BY e.id LIMIT ?",
            (party_id, after, limit),
        )
        return [(EventRecord(*row[:5]), _conflict(row[5:])) for row in rows]

    def release_reader(self) -> None:
        """Close the calling thread's reading connection, if it has one: for a thread
        that is about to end (each would otherwise keep a connection and its files)."""
        reader: sqlite3.Connection | None = getattr(self._per_thread, "reader", None)
        if reader is None:
            return
        self._per_thread.reader = None
        with self._readers_lock:
            self._readers.remove(reader)
        reader.close()

    def close(self) -> None:
        self.commit()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self._db.close()

    def _fetchone(self, sql: str, args: Sequence[object] = ()) -> Any:
        """One row: inside :meth:`writing` or a transaction, from the writing connection
        (this batch's rows included); otherwise from the reading one (committed rows)."""
        with self._reading() as db:
            return db.execute(sql, args).fetchone()

    def _fetchall(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        with self._reading() as db:
            return db.execute(sql, args).fetchall()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if not self._separate_readers or getattr(self._writing, "on", False):
            with self._lock:
                yield self._db
            return
        reader: sqlite3.Connection | None = getattr(self._per_thread, "reader", None)
        if reader is None:
            reader = self._per_thread.reader = self._connect()
            with self._readers_lock:
                self._readers.append(reader)
        yield reader

    def _migrate(self) -> None:
        (version,) = self._fetchone("PRAGMA user_version")
        if version > SCHEMA_VERSION:
            raise StoreUnusable(
                self.path,
                f"written by a newer Tansiq (schema {version}; this one knows {SCHEMA_VERSION})",
            )
        if version == 0:
            self._db.executescript(
                f"BEGIN; {_SCHEMA} {_VOLUME_TABLE} {_FILING_KEY_TABLE} {_FILING_KEY_OPENED}"
                f" {_FILING_BY_PARTY} {_EXTENT_TABLE} {_OPEN_BY_VOLUME} {_RULES_CHANGE_TABLE}"
                f" {_WEBHOOK_TOKEN} {_CONFLICT_RULES_CHANGE} {_VOLUME_NOTIFIED}"
                f" {_CONFLICT_NOTICE} {_VOLUME_JUDGED} {_CONFLICT_NOTICE_VERSION}"
                f" PRAGMA user_version = {SCHEMA_VERSION};"
                " COMMIT;"
            )
            return
        if version == SCHEMA_VERSION:
            if self._fetchone(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                " AND name IN ('open_notice_version_a', 'open_notice_version_b')"
            ) != (2,):
                raise StoreUnusable(
                    self.path,
                    "schema 14 without its indexes of notified versions (as a development"
                    " build of 2026-12-03 wrote it); make a new store and file again",
                )
            return
        # a store being served is not migrated under its server (an older Tansiq, which
        # would write on as before and be kept waiting for the whole migration: minutes
        # on a large store; found by a review). Held until the migration ends
        guard = ServingLock(self.path)
        try:
            guard.take()
        except StoreInUse:
            raise StoreUnusable(
                self.path,
                f"another process serves it or is upgrading it (schema {version}); stop"
                " that server or let the upgrade end, then open it again (this Tansiq"
                f" upgrades it to schema {SCHEMA_VERSION})",
            ) from None
        try:
            # another process may have migrated it between the first look and the lock
            (version,) = self._fetchone("PRAGMA user_version")
            if version < SCHEMA_VERSION:
                self._upgrade(version)
        finally:
            guard.release()

    def _upgrade(self, version: int) -> None:
        steps = []
        if version < 2:
            # the table starts empty; the service fills it from the active filings (once)
            steps.append(_VOLUME_TABLE)
        if version < 3:
            # a constant default: SQLite writes no row (instant on a million conflicts)
            steps.append("ALTER TABLE conflict ADD COLUMN version INTEGER NOT NULL DEFAULT 1;")
        if version < 4:
            steps.append(_FILING_KEY_TABLE)
        if version < 5:
            steps.append(_FILING_BY_PARTY)  # a pass over every version, once
        if version < 6:
            steps.append(_FILING_KEY_OPENED)
        if version < 7:
            steps.append(_EXTENT_TABLE)
        if version < 8:
            steps.append(_OPEN_BY_VOLUME)  # a pass over every conflict, once
        if version < 9:
            steps.append(_RULES_CHANGE_TABLE)
            steps.append(_RULES_HELD_BEFORE)
        if version < 10:
            steps.append(_WEBHOOK_TOKEN)
        if version < 11:
            steps.append(_CONFLICT_RULES_CHANGE)  # no row written (a null default)
        if version < 12:
            steps.append(_VOLUME_NOTIFIED)  # likewise
        if version < 13:
            steps.append(_CONFLICT_NOTICE)  # likewise
            steps.append(_VOLUME_JUDGED)  # likewise
        if version < 14:
            # no row written; its two partial indexes are a pass over the table each
            # (1.6 s for 300,000 conflicts, 1.3 GB, a reviewer)
            steps.append(_CONFLICT_NOTICE_VERSION)
        self._db.execute("BEGIN")
        try:
            for step in steps:
                for statement in step.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            if version < 7:
                self._fill_extents()
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # (SQLite may have rolled it back itself)
                self._db.execute("ROLLBACK")  # the store stays as it was, to migrate again
            raise

    def _fill_extents(self) -> None:
        """The extents of the conflicts stored before schema 7, from their regions (70 to
        90 µs of CPU a conflict with its reading, bench/migrate_extents.py: 13 minutes
        for the 5.7 million of the 1M benchmark store, once; progress is logged every
        :data:`MIGRATION_REPORT_S` seconds)."""
        (total,) = self._db.execute(
            "SELECT count(*) FROM conflict WHERE region_a IS NOT NULL OR region_b IS NOT NULL"
        ).fetchone()
        if total >= MIGRATION_TELL_FROM:
            _log.warning(
                "%s: finding the extents of %d conflicts' regions (once)", self.path, total
            )
        after, done = 0, 0
        began = told = time.monotonic()
        while True:
            rows = self._db.execute(
                "SELECT id, region_a, region_b FROM conflict WHERE id > ?"
                " AND (region_a IS NOT NULL OR region_b IS NOT NULL) ORDER BY id LIMIT ?",
                (after, _EXTENTS_AT_ONCE),
            ).fetchall()
            if not rows:
                break
            found = [(i, _extent_or_none(i, a, b)) for i, a, b in rows]
            self._db.executemany(
                _PUT_EXTENT, [(i, *extent) for i, extent in found if extent is not None]
            )
            after, done = rows[-1][0], done + len(rows)
            if total >= MIGRATION_TELL_FROM and (
                time.monotonic() - told >= MIGRATION_REPORT_S or done == total
            ):
                left = (time.monotonic() - began) / done * (total - done)
                _log.warning(
                    "%s: %d of %d conflicts' extents found (%d %%, about %d min left)",
                    self.path, done, total, 100 * done // total, math.ceil(left / 60),
                )  # fmt: skip
                told = time.monotonic()


def _extent_or_none(conflict_id: int, region_a: str | None, region_b: str | None) -> Extent | None:
    """The extent of stored regions; None, said in the log, if they cannot be read (the
    conflict is then checked by its regions, as before schema 7)."""
    try:
        return extents.of_regions(region_a, region_b)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        _log.warning("conflict %d: its regions could not be read (%s)", conflict_id, exc)
        return None


def _refuse_other_names(path: str) -> None:
    """A store file with more than one name (hard links) is refused: SQLite keeps its
    journal and the lock of a server (:class:`ServingLock`) beside the name it is opened
    by, so two servers, or a server and a command, through two names would each miss
    the other's changes (two overlapping strikes accepted with no conflict; a reviewer)
    and could corrupt it. A symbolic link is one name: it is followed."""
    if path == ":memory:":
        return
    try:
        names = os.stat(path).st_nlink
    except OSError:
        return  # none yet (made on connecting), or unreadable: connecting says why
    if names > 1:
        raise StoreUnusable(
            path,
            f"the file has {names} names (hard links), and a store must have one: a"
            " server or a command using another name would not see this one's changes;"
            " copy it to a file of its own (a symbolic link to it is fine)",
        )


def _party(row: tuple[str, str, str, Role, float, str]) -> PartyRecord:
    return PartyRecord(*row)


def _conflict(row: tuple[Any, ...]) -> ConflictRecord:
    """A conflict row; SQLite keeps the two flags (before the version and the change of
    rules) as integers."""
    # positional, as the columns come (mypy cannot count a starred row's columns)
    make: Any = ConflictRecord
    record: ConflictRecord = make(*row[:-7], bool(row[-7]), bool(row[-6]), *row[-5:])
    return record


def _qualified(table: str, columns: str) -> str:
    return ", ".join(f"{table}.{c.strip()}" for c in columns.split(","))


_CONFLICT_FIELDS = tuple(f.name for f in fields(ConflictRecord) if f.name != "id")


def astuple_without_id(conflict: ConflictRecord) -> tuple[object, ...]:
    return tuple(getattr(conflict, name) for name in _CONFLICT_FIELDS)
