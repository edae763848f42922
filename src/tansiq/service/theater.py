"""Filing, replacing and cancelling, each checked against everything filed, atomically.

A :class:`Theater` holds the store (the truth) and a :class:`ConflictIndex` of
the volumes of every active filing (its mirror in memory, restored from the
stored footprints when the theater opens). Every change runs under one lock:
the volumes are checked, and the filing and the conflicts it opens or closes
are written in one savepoint of the store's open transaction. Two parties
filing overlapping operations at the same instant are therefore serialised:
whichever is second finds the first, and the conflict is recorded once, every
time. Changes queued behind one another are committed together (group commit,
see :meth:`Theater._change`); none is answered before its COMMIT has returned.

A filing's volumes are named ``<filing id>/<feature id>`` in the index, so a
replacement that keeps a feature's id keeps its open conflicts.

A change of the theater's rules, and the catch-up that judges pairs again under
them, are in :mod:`tansiq.service.rules_change` (a mixin of the theater's); what
the calls hand back is in :mod:`tansiq.service.outcomes`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import shapely

from tansiq.engine.conflict import Conflict
from tansiq.engine.footprints import Footprints
from tansiq.engine.index import ConflictIndex
from tansiq.engine.kernel import ALT_HIGH, ALT_LOW, BUFFER, END, START
from tansiq.engine.lens import rings_bounds
from tansiq.engine.packed import pack
from tansiq.engine.region import RegionDrawer
from tansiq.engine.warmup import warm_up
from tansiq.errors import (
    FilingGone,
    InputError,
    InputProblems,
    KeyedFilingCancelled,
    KeyReused,
    StaleConflict,
    StaleVersion,
    TheaterBusy,
    UnknownConflict,
    UnknownFiling,
    UnknownVolume,
)
from tansiq.scenario.model import SeparationRule, Volume
from tansiq.scenario.problems import is_text
from tansiq.scenario.reader import parse_scenario
from tansiq.service.catch_up import SETTING as CATCH_UP_SETTING
from tansiq.service.catch_up import CatchUp, kind_pair
from tansiq.service.collector import collector_paused
from tansiq.service.geojson_text import region_geojson, ring_geojson
from tansiq.service.outcomes import LiveEvent, Outcome
from tansiq.service.rules import (
    CHANGE_SETTING,
    LEAD_TIME_SETTING,
    SETTING,
    expiry_horizon,
    parse_rules,
)
from tansiq.service.rules_change import LOOK_AGAIN_S, RulesChanges
from tansiq.service.same_drawing import alike, extents_alike
from tansiq.service.zone_rules import check_zone_rules, zone_rules
from tansiq.store import ConflictRecord, FilingRecord, PartyRecord, SqliteStore, extents
from tansiq.store.base import (
    Category,
    ConflictState,
    Extent,
    FilingState,
    VolumeForm,
    VolumeRecord,
)
from tansiq.store.serving_lock import ServingLock

_log = logging.getLogger(__name__)
Clock = Callable[[], float]
CATEGORIES: tuple[Category, ...] = ("operation", "site", "zone")
#: set once the store holds the footprint of every active volume
FOOTPRINTS_SETTING = "footprints_stored"
#: at most this many changes wait for one COMMIT (bounds the wait under heavy load)
MAX_BATCH = 64
#: how long a change waits for the theater while a long change holds it, at most
BUSY_WAIT_S = 10.0
#: a page of a party's conflicts reads their ids this many at a time, at most
#: CONFLICTS_SCANNED ids a page, and checks at most REGIONS_CHECKED conflicts' regions
#: against a box (those whose extent meets it: docs/service.md, "Filtering conflicts")
_CHUNK = 5_000
CONFLICTS_SCANNED = 100_000
REGIONS_CHECKED = 5_000
#: a box's regions are checked this many conflicts at a time, so that a page that fills
#: early checks no more than it shows
_CHECKED_AT_ONCE = 200
#: a slice of the catch-up after new rules holds the theater about this long, seconds;
#: while others change the theater, it then leaves it to them as long
CATCH_UP_SLICE_S = 0.02
T = TypeVar("T")
#: what a conflict discloses that a change of either side (or of the rules) may alter
_DISCLOSED = (
    "kind_a",
    "kind_b",
    "horizontal_distance_m",
    "vertical_gap_m",
    "time_gap_s",
    "window_start",
    "window_end",
    "region_a",
    "region_b",
    "no_entry",
)
#: what it discloses besides its regions
_DISCLOSED_BESIDES = tuple(name for name in _DISCLOSED if not name.startswith("region_"))


class Theater(RulesChanges):
    def __init__(
        self,
        store: SqliteStore,
        separation: Sequence[SeparationRule] = (),
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._default_separation = tuple(separation)
        self._clock = clock
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued = 0
        #: what holds the lock for long (new rules at 1M: minutes), and since when
        self._long_change: tuple[str, float] | None = None
        self.busy_wait_s = BUSY_WAIT_S
        self.conflicts_scanned = CONFLICTS_SCANNED
        self.regions_checked = REGIONS_CHECKED
        self._closed = False
        self._changes_made = 0  # changes that took the lock (the catch-up's, to yield)
        #: the thread going on with the catch-up after new rules, if one was started
        self._catching_up: threading.Thread | None = None
        self.catch_up_slice_s = CATCH_UP_SLICE_S
        #: False: what a change of rules leaves is judged again only by :meth:`catch_up`
        self.catch_up_in_background = True
        # one theater per store file: a second would miss this one's filings
        self._serving = ServingLock(store.path)
        self._serving.take()
        try:
            self._load()
            # the engine's compiled kernels loaded now, not by the first filing
            warm_up(self._separation)
        except BaseException:
            self._serving.release()
            raise
        if self._catch_up is not None and not self._catch_up.done:
            self._catch_up_in_background()  # stopped by a restart: it goes on

    def close(self) -> None:
        """Let another theater open the store (the store itself stays open); this one
        makes no more changes (they would not be checked against the other's).

        A batch left open for a change queued behind it is committed first: that
        change may never run now (the lock is not first come, first served), and the
        next theater must find the batch's writes (a reviewer's probe found a change
        left waiting, its writes uncommitted, and the store already free)."""
        with self._lock:
            self._closed = True
            try:
                with self._store.writing():
                    self._store.commit()
            finally:
                self._serving.release()
        catching_up = self._catching_up
        if catching_up is not None and catching_up is not threading.current_thread():
            catching_up.join(timeout=10.0)  # it ends at its next slice: the theater is closed

    def _load(self) -> None:
        """The in-memory picture (rules, index, each filing's volumes) from the store.

        Until it has finished, the picture is marked stale: a change finding it so
        (this load failed) reads it again first, or fails if it cannot.
        """
        self._stale = True
        self._lost_seen = self._store.lost
        saved = self._store.get_setting(SETTING)
        self._separation = (
            parse_rules(f'{{"separation": {saved}}}') if saved else self._default_separation
        )
        self._lead_time_h = float(self._store.get_setting(LEAD_TIME_SETTING) or 0.0)
        change = self._store.get_setting(CHANGE_SETTING)
        #: the change of rules in force, which each conflict written records
        self._rules_change = None if change is None else int(change)
        saved_catch_up = self._store.get_setting(CATCH_UP_SETTING)
        self._catch_up = CatchUp.from_json(saved_catch_up) if saved_catch_up else None
        if self._catch_up is not None and self._catch_up.change is None:
            # saved before schema 13: the change in force stands in (a later one that
            # set only a lead time keeps its separation; a reviewer saw one without
            # it open a past conflict again)
            self._catch_up = dataclasses.replace(self._catch_up, change=self._rules_change)
        #: the turns of the volumes it has still to judge, once read, and whether the
        #: catch-up's count of volumes has yet to be set from them
        self._pending: list[tuple[float, str]] | None = None
        self._pending_counted = False
        self._index = ConflictIndex(self._separation)  # _store_footprints codes with it
        self._drawer = RegionDrawer()
        if self._store.get_setting(FOOTPRINTS_SETTING) is None:
            self._store_footprints()
        with collector_paused():  # a million rows made, none of them garbage
            self._index, ids = self._index_from_store(self._separation)
            self._volume_ids = _by_filing(ids)
        #: operations' filings (with their parties) that may have open conflicts with
        #: zones keeping the version their entry was notified with: only theirs are
        #: read for it before a change (a superset: added to as such conflicts are
        #: written, emptied only here; a read of the store for each replacement cost
        #: 0.1 ms), and only by their own party (another's id asked for is answered
        #: alike whether it has such conflicts or not)
        self._notifying = {
            filing_id: party_id
            for filing_id, party_id in self._store.filings_with_notice_versions()
            if filing_id.startswith("operation-")  # (not the zones: a reviewer)
        }
        self._stale = False

    def _index_from_store(
        self, rules: Sequence[SeparationRule]
    ) -> tuple[ConflictIndex, Sequence[str]]:
        """An index under ``rules`` of the active volumes the store holds, from their
        stored footprints (bytes, not GeoJSON; a volume is made again only when a check
        needs it), and their ids."""
        index = ConflictIndex(rules)
        rows = self._store.volume_footprints()
        ids, party_ids, kinds, nums, xys, parts = zip(*rows, strict=True) if rows else ((),) * 6
        index.restore(ids, kinds, party_ids, (nums, xys, parts), self._volume_from_store)
        return index, ids

    def _reload(self) -> None:
        """:meth:`_load` after a failure; if it fails too, the next change tries again."""
        try:
            self._load()
        except Exception:
            _log.exception("reading the theater's picture again failed; the next change retries")

    def _change(self, work: Callable[[float], T]) -> T:
        """Run one change (``work(now)``) under the lock, its writes in the open batch.

        Group commit: a change that finds others queued behind it leaves its writes
        for the last one in line to commit, with theirs, in one COMMIT (one fsync);
        every change returns only once its batch is durable. Its events go with its
        writes (:meth:`SqliteStore.note`): whoever commits the batch hands them to
        the listeners, in commit order. Changes stay serialised (each sees all before
        it, committed or not, and the first of two overlapping filings is always
        found by the second). If the COMMIT fails, every change of the batch fails,
        none of its events is handed on, and the in-memory picture is read again
        from the store; so it is when a change fails after its writes joined the
        batch (they are committed: the picture must show them).
        """
        with self._queue_lock:
            self._queued += 1
        self._take_lock()
        try:
            with self._queue_lock:
                self._queued -= 1
            if self._closed:
                raise RuntimeError("the theater is closed: it makes no more changes")
            self._changes_made += 1
            if self._stale or self._store.lost != self._lost_seen:
                self._load()  # a batch was lost, or the last reading failed
            error: BaseException | None = None
            now = self._clock()
            # the store's lock is held from the work to the COMMIT: no other writer can
            # commit or open a batch in between, so this is the batch the work joined
            with self._store.writing():
                released = self._store.released
                try:
                    result = work(now)
                except BaseException as exc:
                    error = exc
                wrote = self._store.released != released  # its writes joined the batch
                batch = self._store.pending()
                last = self._queued == 0 or (batch is not None and batch.changes >= MAX_BATCH)
                if batch is not None and (last or (error is not None and wrote)):
                    try:
                        self._store.commit()
                    except BaseException:
                        self._reload()
                        raise
            if error is not None and wrote:
                self._reload()  # committed: the picture must show its writes
                raise error
        finally:
            self._lock.release()
        if batch is not None:
            # a refusal too: it may rest on writes of this batch not yet durable (the
            # key of a filing queued just before it, say); if their COMMIT fails, that
            # is the answer (a reviewer found a 422 for a key whose filing was lost)
            batch.wait()
        if error is not None:
            raise error
        return result

    def _take_lock(self) -> None:
        """Wait for the theater; while a long change holds it, not longer than
        :attr:`busy_wait_s` (then :class:`TheaterBusy`, nothing done): a filing kept
        waiting for minutes would leave its sender unsure whether it was made, and
        hold one of the server's worker threads that reads also need."""
        noticed: float | None = None  # when this change found a long one holding it
        while True:
            long = self._long_change
            if long is None:
                noticed = None
                # looked at again now and then: one may start while this change waits
                if self._lock.acquire(timeout=LOOK_AGAIN_S):
                    return
                continue
            now = time.monotonic()
            noticed = now if noticed is None else noticed
            left = self.busy_wait_s - (now - noticed)
            if left > 0 and self._lock.acquire(timeout=min(left, LOOK_AGAIN_S)):
                return
            if left <= 0:
                with self._queue_lock:
                    # given up only while the long change still holds the theater: had
                    # it ended meanwhile, it may have counted this change as queued and
                    # left its batch for it to commit (a reviewer's forced interleaving)
                    if self._long_change is not long:
                        continue
                    self._queued -= 1
                what, since = long
                held_s = now - since
                retry_s = max(1, math.ceil(max(held_s, self.busy_wait_s)))
                raise TheaterBusy(what, held_s, retry_s)

    def _store_footprints(self) -> None:
        """Store the footprints of every active filing's volumes, once: on a new store
        (none) or one written before footprints were stored (schema 1)."""
        with self._store.transaction():
            for filing in self._store.active_filings():
                # (bodies filed before ids and kinds were held to names stay readable)
                volumes = self.volumes(
                    filing.party_id, filing.id, filing.body, names_checked=False
                )
                self._store.put_volumes(self._volume_records(volumes))
            self._store.set_setting(FOOTPRINTS_SETTING, "1")

    def _volume_records(
        self,
        volumes: Sequence[Volume],
        fp: Footprints | None = None,
        forms: Mapping[str, VolumeForm] | None = None,
    ) -> list[VolumeRecord]:
        """The rows of ``volumes``; ``forms``: when each took its present form and the
        change of rules in force when it was added (None: not known, as for a store
        written before they were kept)."""
        fp = self._index.footprints_of(volumes) if fp is None else fp
        unknown = VolumeForm(None, None)
        return [
            VolumeRecord(
                v.id, _filing_of(v), v.party, v.kind, shapely.to_wkb(v.geometry),
                json.dumps(dict(v.properties)), p.num, p.xy, p.parts,
                *(unknown if forms is None else forms.get(v.id, unknown)),
            )
            for v, p in zip(volumes, pack(fp), strict=True)
        ]  # fmt: skip

    def _forms(
        self,
        current: FilingRecord,
        volumes: Sequence[Volume],
        earlier: Mapping[str, Volume],
        now: float,
        horizon: float,
    ) -> dict[str, VolumeForm]:
        """When each volume of a new version of ``current`` took its present form: as
        before where its footprint, band, window and kind are those of its version in
        ``earlier`` (its notes, say, changed), now where not; and the change of rules
        its form was judged under: the one in force now where it is new to the filing,
        or changed and still counts (ended before ``horizon``, it is checked against
        nothing, and a version it ended is judged on what it had: as before). Read
        before the rows of the version it replaces are dropped."""
        stored = self._store.forms_of(current.id)
        forms = {}
        for volume in volumes:
            before = earlier.get(volume.id)
            was = stored.get(volume.id, VolumeForm(None, None))
            if before is None:
                forms[volume.id] = VolumeForm(now, self._rules_change)
            elif _same_entry(before, volume):
                at = current.filed_at if was.notified_at is None else was.notified_at
                forms[volume.id] = VolumeForm(at, was.judged_under)
            else:
                # over, it is checked against nothing: the catch-up may judge it only
                # where it does no more than the form before did (ended early, say); a
                # form moved into the past got a conflict that never was (a reviewer)
                within = (
                    _same_footprint(before, volume)
                    and (before.kind, before.altitude_low, before.altitude_high)
                    == (volume.kind, volume.altitude_low, volume.altitude_high)
                    and before.start <= volume.start
                    and volume.end <= before.end
                )
                over_within = volume.end < horizon and within
                judged = was.judged_under if over_within else self._rules_change
                forms[volume.id] = VolumeForm(now, judged)
        return forms

    def _volume_from_store(self, volume_id: str) -> Volume:
        """A stored volume made again from its row (a restored index asks for one only
        when a check finds it in conflict)."""
        record = self._store.get_volume(volume_id)
        if record is None:
            raise UnknownVolume(volume_id)
        num = np.frombuffer(record.num, dtype=np.float64)
        return Volume(
            record.id, record.party_id, record.kind, shapely.from_wkb(record.geometry),
            float(num[BUFFER]), float(num[ALT_LOW]), float(num[ALT_HIGH]),
            float(num[START]), float(num[END]), json.loads(record.properties),
        )  # fmt: skip

    def file(
        self, party: PartyRecord, category: Category, body: str | bytes, key: str | None = None
    ) -> Outcome:
        """File a new operation, site or zone (a FeatureCollection of volumes).

        ``key``: the request's ``Idempotency-Key``. A party that did not hear the answer
        (a timeout, a lost connection) sends the same request again with the same key
        and is answered as the first time (:attr:`Outcome.replayed`), instead of filing
        a second operation that the other side would be told of twice. The same key
        with another body or category is refused (:class:`KeyReused`). Keys are the
        party's own and are kept with the store."""
        if category not in CATEGORIES:
            raise InputError(f"category: {category!r} is not one of {', '.join(CATEGORIES)}")
        filing_id = f"{category}-{secrets.token_hex(6)}"
        text = _text(body)
        digest = hashlib.sha256(f"{category}\n{text}".encode()).digest()
        try:
            volumes = self.volumes(party.id, filing_id, text)
        except InputProblems:
            # a retry of a filing accepted before its ids or kinds were refused (the
            # rules of 2026-12-02) is answered as the first time, not told the
            # operation it made is invalid (a reviewer); the key looked up as a change
            # does, so that a first filing with it not yet durable is waited for
            if key is None:
                raise
            known = key

            def replayed(now: float) -> Outcome | None:
                first = self._store.filing_of_key(party.id, known)
                return None if first is None else self._replay(party.id, known, digest, *first)

            outcome = self._change(replayed)
            if outcome is None:
                raise
            return outcome
        share = self._filing_rules(text, category)

        def work(now: float) -> Outcome:
            if key is not None:
                # under the lock: of two requests with one key at once, the second waits
                # for the first and finds its filing (the batch's rows are read too)
                first = self._store.filing_of_key(party.id, key)
                if first is not None:
                    return self._replay(party.id, key, digest, *first)
            record = FilingRecord(
                filing_id, party.id, category, 1, "active", text, now, _ends_at(volumes)
            )
            fp = self._index.footprints_of(volumes)
            pairs = self._pairs_of(volumes, now, fp)
            with self._store.transaction(defer_commit=True):
                self._store.add_filing_version(record)
                if category != "operation":  # an operation is never shared (share_of)
                    self._store.set_share(filing_id, share)
                added = VolumeForm(now, self._rules_change)
                forms = dict.fromkeys((volume.id for volume in volumes), added)
                self._store.put_volumes(self._volume_records(volumes, fp, forms))
                opened = self._open(pairs, now)
                if key is not None:
                    opened_ids = [c.id for c in opened]
                    self._store.add_filing_key(party.id, key, filing_id, digest, opened_ids)
            self._index.add_many(volumes, fp)
            self._track(record, volumes)
            return Outcome(record, tuple(opened))

        return self._change(work)

    def _replay(
        self, party_id: str, key: str, digest: bytes, filing_id: str, first_digest: bytes
    ) -> Outcome:
        """The answer to a filing sent again with its key (nothing is written)."""
        if digest != first_digest:
            raise KeyReused(key)
        latest = self._store.get_filing(filing_id)
        record = self._store.get_filing(filing_id, 1)
        assert latest is not None and record is not None  # written with its first version
        if latest.state == "cancelled":
            # answered "active", a retry (or a load run again) would be told its filing
            # stands when it was withdrawn: the other side is told of nothing (reviewer)
            raise KeyedFilingCancelled(key, filing_id)
        opened = self._store.conflicts_opened_with_key(party_id, key)
        return Outcome(record, tuple(opened), replayed=True)

    def replace(
        self,
        party: PartyRecord,
        filing_id: str,
        expected_version: int,
        body: str | bytes,
        category: Category | None = None,
    ) -> Outcome:
        """A new version of one of the party's filings, if ``expected_version`` is still current.

        Conflicts of volumes that still conflict stay open; those that no longer do
        are resolved; new ones are opened.
        """
        text = _text(body)
        volumes = self.volumes(party.id, filing_id, text)
        # the body's rules checked before the lock when the category is known (the
        # routes know it), as the rest of the body is: the lock's holder works less
        known = self._filing_rules(text, category) if category is not None else None
        # so too the forms an operation notified its entries into zones with (a
        # reviewer: ten such versions of 1.7 MB, parsed under the lock, held it 14 s)
        notified = self._forms_notified(party, filing_id, expected_version)

        def work(now: float) -> Outcome:
            current = self._own(party, filing_id, expected_version, category)
            share = self._filing_rules(text, current.category) if known is None else known
            record = dataclasses.replace(
                current,
                version=current.version + 1,
                body=text,
                filed_at=now,
                ends_at=_ends_at(volumes),
            )
            # each volume checked once: the pairs decide what is kept and what is new
            fp = self._index.footprints_of(volumes)
            pairs = self._pairs_of(volumes, now, fp)
            keep = {(mine.id, other.id): (mine, other, found) for mine, other, found in pairs}
            with self._store.transaction(defer_commit=True):
                standing = self._store.open_conflicts_of(filing_id)
                horizon = expiry_horizon(now, self._separation)
                # versions this change ends (the old one still counted): judged exactly
                ended_now = {
                    volume.id
                    for volume in volumes
                    if volume.end < horizon
                    and volume.id in self._index
                    and self._index.end_of(volume.id) >= horizon
                }
                self._judge_what_happened(volumes, standing, filing_id, keep, ended_now)
                # the versions being replaced, of the volumes whose conflicts stay: taken
                # before their rows are, since a restored index makes a volume from its
                # row when first asked (after a restart, the new row was read for the old
                # version, and a changed conflict was kept unchanged: found by a test)
                # (each volume's: when it took its present form is judged from them too)
                earlier = {v.id: self._index.get(v.id) for v in volumes if v.id in self._index}
                # the version replaced, as notified: its volumes are those in the index
                notified.setdefault(current.version, earlier)
                replaced = {
                    mine.id: earlier[mine.id]
                    for conflict in standing
                    if (still := keep.get(_pair_of(conflict, filing_id))) is not None
                    and (mine := still[0]).id in earlier
                }
                # no longer found, but over before this change (a side had expired: a
                # note added after the fact): found while both counted, it stays as it
                # was, as new rules leave it, unless its volume left the filing. A
                # version this change ends was judged exactly above instead: what it did
                # not meet is resolved. (Each case was found wrong by a reviewer.)
                new_ids = {volume.id for volume in volumes}
                over = {
                    conflict.id
                    for conflict in standing
                    if (pair := _pair_of(conflict, filing_id)) not in keep
                    and pair[0] in new_ids - ended_now
                    and self._expired(conflict, horizon)
                }
                forms = self._forms(current, volumes, earlier, now, horizon)
                self._store.add_filing_version(record)
                if current.category != "operation":  # never shared (share_of)
                    self._store.set_share(filing_id, share)
                self._store.drop_volumes(filing_id)
                self._store.put_volumes(self._volume_records(volumes, fp, forms))
                kept = []
                for conflict in standing:
                    still = keep.get(_pair_of(conflict, filing_id))
                    if still is not None:
                        mine, _, judged = still
                        was = replaced.get(mine.id)
                        if was is not None and _same_volume(was, mine):
                            kept.append(conflict)  # this volume did not change
                        else:
                            # a new kind may meet the other with another separation;
                            # and one drawn under the rules before a catch-up still
                            # running may not be reached by it again (its volume's
                            # turn moved past: a reviewer)
                            redraw = (
                                was is None
                                or was.kind != mine.kind
                                or not _same_footprint(was, mine)
                                # kept as it was (its window over), it may still have
                                # its opening's kinds and their regions (a reviewer)
                                or kind_pair(conflict.kind_a, conflict.kind_b)
                                != kind_pair(judged.volume_a.kind, judged.volume_b.kind)
                                or self._catching_up_on(conflict, judged)
                                # kept as it was while ``was`` was over, its regions may
                                # be of a footprint older than ``was`` (a reviewer: a
                                # window moved back into play kept them). Not whenever
                                # either side is over: a region an older version stored
                                # then read as a change (a second reviewer)
                                or was.end < horizon
                            )
                            zone_late_before = (
                                self._zone_rules(
                                    was,
                                    still[1],
                                    conflict.window_start,
                                    self._entry_notice(conflict, was, still[1], now),
                                )[0]
                                if was is not None
                                and _filing_of(mine).startswith("zone-")
                                and zone_rules(was.properties) != zone_rules(mine.properties)
                                else None
                            )
                            kept.append(
                                self._refresh(
                                    conflict,
                                    judged,
                                    now,
                                    redraw,
                                    zone_late_before,
                                    late_as_it_was=mine.id in ended_now,
                                    entry_was=was
                                    if was is not None
                                    and _filing_of(mine).startswith("operation-")
                                    and not _same_entry(was, mine)
                                    else None,
                                    notified=notified,
                                )
                            )
                    elif conflict.id in over:
                        kept.append(conflict)
                    else:
                        self._close(conflict, "resolved", now)
                already = {_pair_of(c, filing_id) for c in kept}
                opened = self._open(pairs, now, skip=already)
            for volume_id in self._volume_ids.pop(filing_id, []):
                self._index.remove(volume_id)
            self._index.add_many(volumes, fp)
            self._track(record, volumes)
            return Outcome(record, tuple(kept + opened))

        return self._change(work)

    def cancel(
        self,
        party: PartyRecord,
        filing_id: str,
        expected_version: int,
        category: Category | None = None,
    ) -> Outcome:
        """Cancel one of the party's filings; its open conflicts are withdrawn. History stays."""

        def work(now: float) -> Outcome:
            current = self._own(party, filing_id, expected_version, category)
            record = dataclasses.replace(
                current, version=current.version + 1, state="cancelled", filed_at=now
            )
            with self._store.transaction(defer_commit=True):
                self._store.add_filing_version(record)
                self._store.drop_volumes(filing_id)
                for conflict in self._store.open_conflicts_of(filing_id):
                    self._close(conflict, "withdrawn", now)
            for volume_id in self._volume_ids.pop(filing_id, []):
                self._index.remove(volume_id)
            return Outcome(record, ())

        return self._change(work)

    def filing(
        self, party: PartyRecord, filing_id: str, category: Category | None = None
    ) -> FilingRecord:
        """One of the party's own filings (of ``category``, if given), in full. Another
        party's is 'unknown', as a missing one is: the answer must not reveal that the id
        exists."""
        record = self._store.get_filing(filing_id, party_id=party.id)
        if record is None or record.party_id != party.id:
            raise UnknownFiling(filing_id)
        if category is not None and record.category != category:
            raise UnknownFiling(filing_id)
        return record

    def filings(
        self,
        party: PartyRecord,
        category: Category,
        state: FilingState | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[FilingRecord]:
        """The party's own filings of a category (latest versions), in id order."""
        return self._store.filings_of_party(party.id, category, state, after, limit)

    def history(
        self,
        party: PartyRecord,
        filing_id: str,
        category: Category | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[FilingRecord]:
        """The versions of one of the party's filings, oldest first: those after version
        ``after``, at most ``limit`` (None: all)."""
        self.filing(party, filing_id, category)
        return self._store.filing_history(filing_id, after, limit)

    def conflicts(
        self,
        party: PartyRecord,
        state: ConflictState | None = None,
        start: float | None = None,
        end: float | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> list[ConflictRecord]:
        """The conflicts the party is a side of (all, or in one state), oldest first, read
        whole: the reference :meth:`conflicts_page` is tested against (the API pages
        with that one: at 1M a party has millions).

        With ``start`` and/or ``end`` (epoch seconds), only those whose window meets
        [start, end]; with ``bbox`` (min_lon, min_lat, max_lon, max_lat, degrees; west above
        east crosses the antimeridian), only those whose overlap region, either side's,
        meets the box (a conflict without a region has no place, so is left out).
        """
        found = self._store.conflicts_of_party(party.id, state, start, end)
        return found if bbox is None else _meeting(found, bbox)

    def conflicts_page(
        self,
        party: PartyRecord,
        state: ConflictState | None = None,
        start: float | None = None,
        end: float | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> tuple[list[ConflictRecord], int | None]:
        """One page of :meth:`conflicts`: at most ``limit`` after id ``after``, and the id
        the next page starts after (None: no more). A party of a large theater has
        millions of conflicts (reading them all took 117 s a page at 1M): their ids are
        read in order a chunk at a time, the store keeps those whose window and extent
        meet the filters, and the regions of those are checked against the box here
        (but for those whose extent lies inside it: their regions do meet it). A
        page reads at most :attr:`conflicts_scanned` ids and checks at most
        :attr:`regions_checked` conflicts' regions, so it may hold fewer than ``limit``,
        even none, with more to come (the id it stopped at)."""
        page: list[ConflictRecord] = []
        cursor, scanned, checked = after, 0, 0
        filtered = start is not None or end is not None or bbox is not None
        size = _CHUNK if filtered else limit + 1  # unfiltered, a page and one tell it all
        boxes = extents.boxes_of(bbox) if bbox is not None else []
        while True:
            chunk, last, inside = self._store.conflicts_of_party_after(
                party.id, state, cursor, size, start, end, boxes
            )
            scanned += size
            step = _CHECKED_AT_ONCE if bbox is not None else max(len(chunk), 1)
            for at in range(0, len(chunk), step):
                if bbox is not None and checked >= self.regions_checked:
                    return page, chunk[at - 1].id if at else cursor
                candidates = chunk[at : at + step]
                if bbox is not None:  # those inside the box need no look at their regions
                    unsure = [c for c in candidates if c.id not in inside]
                    checked += len(unsure)
                    meeting = {c.id for c in _meeting(unsure, bbox)}
                    candidates = [c for c in candidates if c.id in inside or c.id in meeting]
                for conflict in candidates:
                    if len(page) == limit:
                        return page, page[-1].id
                    page.append(conflict)
                    if filtered and len(page) == limit:
                        # not read on for one more to tell whether there is more: that
                        # can be to the page's most, for nothing (found by a review)
                        return page, conflict.id
            if last is None:
                return page, None
            cursor = last
            if scanned >= self.conflicts_scanned:
                return page, cursor

    def conflict(self, party: PartyRecord, conflict_id: int) -> ConflictRecord:
        """A conflict the party is a side of (any other id: :class:`UnknownConflict`)."""
        conflict = self._store.get_conflict(conflict_id, party_id=party.id)
        if conflict is None or party.id not in (conflict.party_a, conflict.party_b):
            raise UnknownConflict(conflict_id)
        return conflict

    def acknowledge(
        self, party: PartyRecord, conflict_id: int, expected_version: int | None = None
    ) -> ConflictRecord:
        """Record that the party has seen a conflict it is a side of (the first time
        counts for a version: a change of the conflict clears it). With
        ``expected_version``, only if the conflict is still at that version (else
        :class:`StaleConflict`, nothing recorded): the party saw that version, and
        must not be recorded as having seen one made since."""

        def work(now: float) -> ConflictRecord:
            conflict = self.conflict(party, conflict_id)
            if expected_version is not None and conflict.version != expected_version:
                raise StaleConflict(conflict_id, expected_version, conflict.version)
            side: Literal["a", "b"] = "a" if conflict.party_a == party.id else "b"
            with self._store.transaction(defer_commit=True):
                self._store.acknowledge_conflict(conflict_id, side, now)
            updated = self._store.get_conflict(conflict_id)
            assert updated is not None
            return updated

        return self._change(work)

    @property
    def rules(self) -> tuple[SeparationRule, ...]:
        return self._separation

    @property
    def lead_time_h(self) -> float:
        return self._lead_time_h


    def _track(self, record: FilingRecord, volumes: Sequence[Volume]) -> None:
        self._volume_ids[record.id] = [v.id for v in volumes]

    def _zone_rules(
        self, mine: Volume, other: Volume, window_start: float, notice_from: float | None
    ) -> tuple[bool, bool]:
        """(late notice, no entry) when one volume is a zone's and the other an
        operation's: late when the entry was notified (``notice_from``) less than the
        zone's ``notice_h`` before the conflict's window starts, when it enters.

        Measured from what the conflict shows, its window, and when what it shows was
        notified (:meth:`_entry_notice`): from the operation's start and its volume's
        latest form until 2026-12-02, a zone's owner replacing its zone with one notice
        after another read from the flag a change of the operation it is not shown (its
        start moved before the zone's, its end after it, its ceiling raised above it:
        a reviewer)."""
        found = _zone_and_entering(mine, other)
        if found is None:
            return False, False
        zone, entering = found
        rules = zone_rules(zone.properties)
        late = (
            rules.notice_s is not None
            and notice_from is not None
            and window_start - notice_from < rules.notice_s
        )
        return late, rules.no_entry == "all" or entering.party in rules.no_entry

    def _entry_notice(
        self, stored: ConflictRecord, mine: Volume, other: Volume, now: float
    ) -> float | None:
        """When the entry a stored conflict shows was notified (None: not a zone and an
        operation); a conflict stored before schema 13 did not keep it, and the
        entering volume's time stands in, as it did for every conflict before."""
        found = _zone_and_entering(mine, other)
        if found is None:
            return None
        if stored.notice_from is None:
            return self._notice_from(found[1], now)
        return stored.notice_from

    def _notice_from(self, entering: Volume, now: float) -> float:
        """When an operation's volume took its present form: the notice of its entry
        into a zone runs from then when their conflict opens (:meth:`_entry_notice`
        after). Measured from its filing's latest version until 2026-12-02, a zone's
        owner replacing its zone with one ``notice_h`` after another read from the flag
        when the operation was last replaced, even where only its notes had changed and
        nothing it was shown (a reviewer). A volume stored before this was kept is
        measured as before."""
        at = self._store.notified_at(entering.id)
        if at is not None:
            return at
        filed = self._store.get_filing(_filing_of(entering))
        return filed.filed_at if filed is not None else now

    @property
    def active_volumes(self) -> int:
        """How many volumes count now (in the index): those of active filings."""
        return len(self._index)

    def now(self) -> float:
        """The service's clock (the one that decides expiry and stamps every change)."""
        return self._clock()

    def shared_with(
        self, party: PartyRecord, after: str = "", limit: int | None = None
    ) -> list[FilingRecord]:
        """Other parties' active sites and zones shared with this party, in full, in id
        order: those after ``after``, at most ``limit`` (None: all)."""
        return self._store.shared_with(party.id, after, limit)

    def _known_party(self, party_id: str) -> bool:
        return self._store.get_party(party_id) is not None

    def subscribe(self, listener: Callable[[Sequence[LiveEvent]], None]) -> None:
        """Call ``listener(events)`` after every COMMIT that made events, with them in
        order (from the committing thread, holding the store's writing connection:
        keep it short)."""

        def hand_on(notes: list[Any]) -> None:
            events = [note for note in notes if isinstance(note, LiveEvent)]
            if events:
                listener(events)

        self._store.on_commit(hand_on)

    def _close(self, conflict: ConflictRecord, state: ConflictState, now: float) -> None:
        self._store.close_conflict(conflict.id, state, now, self._rules_change)
        closed = dataclasses.replace(
            conflict,
            state=state,
            closed_at=now,
            version=conflict.version + 1,
            rules_change=self._rules_change,
        )
        self._tell(closed, f"conflict.{state}", now)

    def _tell(self, conflict: ConflictRecord, kind: str, now: float) -> None:
        """An event for each side: stored with the change, handed on once committed."""
        for party in (conflict.party_a, conflict.party_b):
            event_id = self._store.add_event(party, kind, conflict.id, now)
            self._store.note(LiveEvent(event_id, party, kind, conflict))

    def _own(
        self,
        party: PartyRecord,
        filing_id: str,
        expected_version: int,
        category: Category | None,
    ) -> FilingRecord:
        current = self.filing(party, filing_id, category)
        if current.state == "cancelled":
            raise FilingGone(filing_id)
        if current.version != expected_version:
            raise StaleVersion(filing_id, expected_version, current.version)
        return current

    def _pairs_of(
        self, volumes: Sequence[Volume], now: float, fp: Footprints | None = None
    ) -> list[tuple[Volume, Volume, Conflict]]:
        """(new volume, stored volume, conflict) for every conflict of ``volumes`` that
        has not expired (``fp``: their footprints, if built; used for a single volume,
        the usual filing, whose footprint the check would otherwise build again)."""
        out = []
        horizon = expiry_horizon(now, self._separation)
        single = fp if fp is not None and len(volumes) == 1 else None
        for volume in volumes:
            for conflict in self._index.check(volume, horizon, single):
                other = conflict.b if conflict.a == volume.id else conflict.a
                out.append((volume, self._index.get(other), conflict))
        return out

    def _late_by_lead(self, window_start: float, told_at: float) -> bool:
        """Told less than the theater's lead time before the window starts (none asked,
        0 hours, makes nothing late)."""
        lead_s = self._lead_time_h * 3600.0
        return lead_s > 0.0 and window_start - told_at < lead_s

    def _judge_what_happened(
        self,
        volumes: Sequence[Volume],
        standing: Sequence[ConflictRecord],
        filing_id: str,
        keep: dict[tuple[str, str], tuple[Volume, Volume, Conflict]],
        ended_now: set[str],
    ) -> None:
        """Add to ``keep`` the standing conflicts of the versions this change ends
        (``ended_now``: over, where the version before still counted).

        A version that ended before the horizon is checked against nothing (it no
        longer counts); but its standing conflicts are judged exactly, the horizon
        aside: an operation that says it ended at 06:30 did meet one of 06:00-08:00,
        and that conflict stays (its window now 06:00-06:30), while one ahead of it is
        resolved (a reviewer found what had happened resolved)."""
        for volume in volumes:
            if volume.id not in ended_now:
                continue
            partners = {
                pair[1]
                for conflict in standing
                if (pair := _pair_of(conflict, filing_id))[0] == volume.id
            }
            if not partners:
                continue
            for found in self._index.check(volume):
                other = found.b if found.a == volume.id else found.a
                if other in partners:
                    keep[(volume.id, other)] = (volume, self._index.get(other), found)

    def _expired(self, conflict: ConflictRecord, horizon: float) -> bool:
        """Whether either volume of a conflict, as the index holds it, ended before
        ``horizon`` (read from the index's columns: a restored volume is not made,
        which during a replacement would read the new version's row)."""
        ends = [
            self._index.end_of(v) for v in (conflict.volume_a, conflict.volume_b)
            if v in self._index
        ]  # fmt: skip
        return not ends or min(ends) < horizon

    def _open(
        self,
        pairs: Sequence[tuple[Volume, Volume, Conflict]],
        now: float,
        skip: set[tuple[str, str]] | None = None,
    ) -> list[ConflictRecord]:
        return [
            self._store_conflict(mine, other, conflict, now)
            for mine, other, conflict in pairs
            if not (skip and (mine.id, other.id) in skip)
        ]

    def _filing_rules(self, text: str, category: Category) -> list[str]:
        """Check what only some categories may carry; return whom the filing is shared with."""
        share = share_of(text, category, self._known_party)
        if category == "zone":
            check_zone_rules(json.loads(text).get("features", []))
        return share

    def _store_conflict(
        self, mine: Volume, other: Volume, conflict: Conflict, now: float
    ) -> ConflictRecord:
        """Record an open conflict between two volumes (``mine`` is side a) and tell both."""
        record, extent = self._conflict_record(mine, other, conflict, now)
        stored = dataclasses.replace(record, id=self._store.add_conflict(record, extent))
        self._note_notifying(stored)
        self._tell(stored, "conflict.opened", now)
        return stored

    def _refresh(
        self,
        stored: ConflictRecord,
        judged: Conflict,
        now: float,
        redraw: bool,
        zone_late_before: bool | None = None,
        late_as_it_was: bool = False,
        entry_was: Volume | None = None,
        notified: dict[int, Mapping[str, Volume] | None] | None = None,
    ) -> ConflictRecord:
        """A conflict that stays open, as its volumes (and the rules) now make it.

        If what it discloses changed (a kind, a gap, the window, a region, the no-entry
        flag), it is stored anew, both acknowledgements are cleared (they were given to
        what it was) and both sides are told ``conflict.changed``; the late-notice flag
        is then judged again from now, the notice this shape got. Otherwise it stays as
        it was, flags and acknowledgements included. Its regions are drawn again only
        if ``redraw`` (a footprint or the horizontal separation changed): otherwise they
        are the same regions, and a region stored by an older version (clockwise,
        unrounded, or drawn another way) must not read as a change.
        ``zone_late_before``: whether the zone's rules before a change of them made it a
        late notice (None: they did not change). A zone's new rules judge the flag
        again (its new notice left it as it was: found by a reviewer): flagged if they
        make it late; if the old ones did and the new do not, what remains is the
        theater's lead time, from the conflict's opening; otherwise it stays (the
        lead time in force at the opening is not stored, and judged from now it would
        move with time: reviewers). ``late_as_it_was``: the notice was not given again
        (an operation saying it ended early): the flag stays as it was (judged from
        now, a window already begun read as a late notice: a reviewer). ``entry_was``:
        an operation's version before this change, which changed its form: the entry
        is notified anew if that changed what the conflict shows. ``notified``: the
        operation's volumes by the versions its conflicts with zones were notified
        with, read before the lock (:meth:`_forms_notified`)."""
        a, b = judged.volume_a, judged.volume_b
        if a.id != stored.volume_a:
            a, b = b, a
        # the entry it shows was notified when it was: a change the conflict does not
        # show gives no new notice (nor does one of the zone, or of the rules)
        notice = self._entry_notice(stored, a, b, now)
        fresh, extent = self._conflict_record(a, b, judged, now, redraw, notice)
        fresh = dataclasses.replace(fresh, notice_version=stored.notice_version)
        if not redraw or (
            all(getattr(fresh, name) == getattr(stored, name) for name in _DISCLOSED_BESIDES)
            and self._same_drawings(stored, fresh, extent)
        ):
            # drawn again within the noise of the stored drawing (a far end of the
            # footprint moved the drawing's frame): what it shows did not change, and
            # telling both sides so cleared their acknowledgements and told the other
            # side that something it is not shown had changed (left alone, 2026-12-02)
            fresh = dataclasses.replace(fresh, region_a=stored.region_a, region_b=stored.region_b)
            extent = None  # the stored regions' extent stays
        if all(getattr(fresh, name) == getattr(stored, name) for name in _DISCLOSED):
            if zone_late_before is None or late_as_it_was:  # the flag stays: no change
                # (a zone said to have ended, with a new notice at once, was bumped,
                # its acknowledgements cleared and both sides told: a reviewer)
                return stored
            late = stored.late_notice
            if self._zone_rules(a, b, stored.window_start, notice)[0]:
                late = True
            elif zone_late_before and stored.late_notice:  # the zone's flag, lifted
                # (from when it took this shape: from its opening, a shape told late by
                # a change read as told on time: a reviewer)
                told = stored.opened_at if stored.shown_at is None else stored.shown_at
                late = self._late_by_lead(stored.window_start, told)
            if late == stored.late_notice:
                return stored
            # (the flag alone changed: the shape it shows was told when it was)
            fresh = dataclasses.replace(fresh, late_notice=late, shown_at=stored.shown_at)
        elif (
            notice is not None
            and entry_was is not None
            and self._shows_a_new_entry(
                stored, fresh, judged, entry_was, {} if notified is None else notified
            )
        ):
            # the operation changed what the conflict shows: that entry is notified now
            start = fresh.window_start
            late = self._zone_rules(a, b, start, now)[0] or self._late_by_lead(start, now)
            version = self._store.filing_version(_filing_of(entry_was))
            fresh = dataclasses.replace(
                fresh, late_notice=late, notice_from=now, notice_version=version
            )
        elif notice is not None and entry_was is not None:
            # no new entry: its regions moved by drawing noise alone (kept through
            # other changes, with this one's), and the theater's lead time still runs
            # from when it took this shape (judged from now, noise flagged the
            # operation late: a reviewer)
            told = stored.opened_at if stored.shown_at is None else stored.shown_at
            start = fresh.window_start
            late = self._zone_rules(a, b, start, notice)[0] or self._late_by_lead(start, told)
            fresh = dataclasses.replace(fresh, late_notice=late, shown_at=stored.shown_at)
        if late_as_it_was:
            fresh = dataclasses.replace(
                fresh,
                late_notice=stored.late_notice,
                notice_from=stored.notice_from,
                shown_at=stored.shown_at,
                # the form notified then, with its time (moved alone, a later move back
                # to that form read as a new entry: a reviewer)
                notice_version=stored.notice_version,
            )
        changed = dataclasses.replace(
            stored,
            **{
                name: getattr(fresh, name)
                for name in (
                    *_DISCLOSED, "late_notice", "notice_from", "shown_at", "notice_version"
                )
            },
            acked_a_at=None,
            acked_b_at=None,
            version=stored.version + 1,
            rules_change=self._rules_change,
        )
        self._store.update_conflict(changed, extent)
        self._note_notifying(changed)
        self._tell(changed, "conflict.changed", now)
        return changed

    def _note_notifying(self, conflict: ConflictRecord) -> None:
        """Count the operation of a conflict with a zone keeping the version its entry
        was notified with among those read for it before a change."""
        if conflict.notice_version is not None:
            for filing_id, party_id in (
                (conflict.filing_a, conflict.party_a),
                (conflict.filing_b, conflict.party_b),
            ):
                if filing_id.startswith("operation-"):
                    self._notifying[filing_id] = party_id

    def _shows_a_new_entry(
        self,
        stored: ConflictRecord,
        fresh: ConflictRecord,
        judged: Conflict,
        before: Volume,
        notified: dict[int, Mapping[str, Volume] | None],
    ) -> bool:
        """Whether an operation's new form (in ``judged``; ``before``, its version
        before this change) changed what its conflict with a zone shows (``stored``,
        now ``fresh``) from the entry it notified (the form its filing's
        ``stored.notice_version`` holds; ``before`` for a conflict stored before
        schema 14): its kind, a gap, the window, or, its footprint moved, the regions
        its form then and its form now draw against the zone and under the rules as
        they are now.

        Not the regions as stored: a catch-up running may draw them again under new
        rules, and a change the conflict does not show then read as a new entry,
        flagged late (a reviewer); and those kept within drawing noise through a
        change of the zone or of the rules, with this change's noise added, read so
        too (a second reviewer, 2026-12-03). Told by what changed, not by the clock:
        a zone's change at the instant of one the conflict does not show read as the
        operation's (the first reviewer). From the form notified, not the version
        before: two moves each within the noise read as no new entry where one move
        as far did (a third)."""
        if any(getattr(fresh, name) != getattr(stored, name) for name in _DISCLOSED_BESIDES):
            return True
        was = self._form_notified(before, stored.notice_version, notified) or before
        now_volume = judged.volume_a if judged.a == was.id else judged.volume_b
        if _same_footprint(was, now_volume):
            return False
        as_notified = (
            judged._replace(volume_a=was) if judged.a == was.id else judged._replace(volume_b=was)
        )
        near_a, near_b, _ = self._region_texts(as_notified)
        now_a, now_b, _ = self._region_texts(judged)
        return not (alike(near_a, now_a) and alike(near_b, now_b))

    def _same_drawings(
        self, stored: ConflictRecord, fresh: ConflictRecord, extent: Extent | None
    ) -> bool:
        """Whether a conflict's regions drawn again (``fresh``, whose drawing spans
        ``extent``) are those stored, within drawing noise (same_drawing). Most regions
        drawn again moved, which the stored extent tells without reading them (two
        drawings within the noise of each other have bounds within it too): parsed
        first, two 50,000-vertex regions held the theater 100 ms (a reviewer)."""
        pairs = ((stored.region_a, fresh.region_a), (stored.region_b, fresh.region_b))
        if all(was == now for was, now in pairs):
            return True
        if any(was is None or now is None for was, now in pairs) or extent is None:
            return False
        stored_extent = self._store.conflict_extent(stored.id)
        if stored_extent is None:  # written by an older server: read from its regions
            stored_extent = extents.of_regions(stored.region_a, stored.region_b)
        if stored_extent is None or not extents_alike(stored_extent, extent):
            return False
        return all(alike(was, now) for was, now in pairs if was is not None and now is not None)

    def _forms_notified(
        self, party: PartyRecord, filing_id: str, expected_version: int
    ) -> dict[int, Mapping[str, Volume] | None]:
        """The volumes of each version of one of the party's operations that its open
        conflicts with zones were notified with (``ConflictRecord.notice_version``),
        read before the theater's lock, as a new body is: a change of the operation
        compares its new form with them (:meth:`_shows_a_new_entry`). Read as stored:
        a body an older server took may hold what is refused now (refused, it failed
        the change of a party that did not send it: a reviewer); one that cannot be
        read is None. Read only for the party's own operations known to have such
        conflicts, at ``expected_version``: read first, a stale If-Match cost seconds
        of parsing before its 412, and another party's id a query more when it had
        such conflicts (a reviewer)."""
        if self._notifying.get(filing_id) != party.id:
            return {}
        committed = self._store.filing_version(filing_id)
        if committed is None or not expected_version - 1 <= committed <= expected_version:
            # refused under the lock (or, ahead by more than one, surely: one change of
            # the party may be on its way, sent without waiting for its answer; read
            # only at the version committed, a second change held the lock 3.7 s
            # parsing them there: a reviewer)
            return {}
        return {  # the version replaced is not read: its volumes are in the index
            version: self._version_volumes(party.id, filing_id, version)
            for version in self._store.notice_versions_of(filing_id, party.id)
            if version != expected_version
        }

    def _version_volumes(
        self, party_id: str, filing_id: str, version: int
    ) -> dict[str, Volume] | None:
        """A version of one of the party's filings, its volumes by id, read as stored
        (None: no such version, or it cannot be read again)."""
        record = self._store.get_filing(filing_id, version, party_id=party_id)
        if record is None:
            return None
        try:
            volumes = self.volumes(party_id, filing_id, record.body, names_checked=False)
        except InputError:
            return None
        return {volume.id: volume for volume in volumes}

    def _form_notified(
        self,
        volume: Volume,
        version: int | None,
        notified: dict[int, Mapping[str, Volume] | None],
    ) -> Volume | None:
        """An operation's volume as its filing's ``version`` holds it: from ``notified``
        (read before the lock; the version replaced, from the index), else read now
        and kept there for the rest of the change (a conflict written between that
        read and the lock: each such version read once; read for each conflict, a
        race held the lock 6.4 s, a reviewer). None: no version given, none such, or
        it cannot be read again."""
        if version is None:
            return None
        if version not in notified:
            notified[version] = self._version_volumes(volume.party, _filing_of(volume), version)
        volumes = notified[version]
        return None if volumes is None else volumes.get(volume.id)

    def _conflict_record(
        self,
        mine: Volume,
        other: Volume,
        conflict: Conflict,
        now: float,
        draw: bool = True,
        notice_from: float | None = None,
    ) -> tuple[ConflictRecord, Extent | None]:
        """The open conflict between two volumes (``mine`` is side a), not yet stored
        (without its regions unless ``draw``), and the extent of its regions (None if
        not drawn). ``notice_from``: when the entry of an operation into a zone was
        notified (None: as at an opening, when the operation's volume took its form)."""
        start, end = conflict.window
        region_mine = region_other = None
        extent = None
        if draw:
            # what each side will be shown of the other: computed once, here, while both
            # volumes are at hand (conflict.a is the smaller id, not necessarily ``mine``)
            region_mine, region_other, extent = self._region_texts(conflict)
            if conflict.a != mine.id:
                region_mine, region_other = region_other, region_mine
        found = _zone_and_entering(mine, other)
        notice_version = None
        if found is not None and notice_from is None:
            notice_from = self._notice_from(found[1], now)
            # its form is the one it took then, which its filing's latest version holds
            notice_version = self._store.filing_version(_filing_of(found[1]))
        late, no_entry = self._zone_rules(mine, other, start, notice_from)
        # told less than the theater's lead time before the conflict's window starts;
        # with none asked (0, the default) nothing is late by it, not even a window
        # already begun (every such conflict was flagged: found by a reviewer)
        late = late or self._late_by_lead(start, now)
        record = ConflictRecord(
            id=0,
            volume_a=mine.id,
            volume_b=other.id,
            filing_a=mine.id.split("/", 1)[0],
            filing_b=other.id.split("/", 1)[0],
            party_a=mine.party,
            party_b=other.party,
            kind_a=mine.kind,
            kind_b=other.kind,
            state="open",
            horizontal_distance_m=conflict.horizontal_distance_m,
            vertical_gap_m=conflict.vertical_gap_m,
            time_gap_s=conflict.time_gap_s,
            window_start=start,
            window_end=end,
            opened_at=now,
            closed_at=None,
            acked_a_at=None,
            acked_b_at=None,
            region_a=region_mine,
            region_b=region_other,
            late_notice=late,
            no_entry=no_entry,
            rules_change=self._rules_change,
            notice_from=notice_from,
            shown_at=now,
            notice_version=notice_version,
        )
        return record, extent

    def _region_texts(self, conflict: Conflict) -> tuple[str, str, Extent | None]:
        """The GeoJSON of a conflict's two regions (near ``conflict.a``, then ``b``), and
        their extent, taken from the drawing (under a microsecond, bench/regions.py;
        read from the text, as the migration does, some 70 µs: bench/migrate_extents.py)."""
        va, vb, horizontal_m = conflict.volume_a, conflict.volume_b, conflict.horizontal_m
        lenses = self._drawer.lens_rings(va, vb, horizontal_m)
        if lenses is not None:  # most conflicts: written from the rings, no polygons made
            extent = extents.padded(*rings_bounds(lenses[0], lenses[1]))
            return ring_geojson(lenses[0]), ring_geojson(lenses[1]), extent
        first, second = self._drawer.regions(va, vb, horizontal_m)
        bounds = shapely.total_bounds([first, second])
        return region_geojson(first), region_geojson(second), extents.padded(*bounds)

    def volumes(
        self, party_id: str, filing_id: str, body: str, *, names_checked: bool = True
    ) -> list[Volume]:
        """The volumes of a filing's body, validated as scenario-v1 features of its party.

        The body is parsed once, by the scenario reader (which refuses a member given
        twice: a body that says two things must not be read as one of them), with the
        party's header added to it.
        """

        def as_the_party(document: dict[str, Any]) -> None:
            document.pop("share", None)  # whom a site or zone is shared with: see share_of
            features = document.get("features")
            for feature in features if isinstance(features, list) else ():
                props = feature.get("properties") if isinstance(feature, dict) else None
                if isinstance(props, dict):
                    if props.get("party", party_id) != party_id:
                        label = f"feature {feature.get('id')!r}"
                        raise InputProblems(
                            [f"{label}: properties.party: must be the filing party"
                             f" {party_id!r} or absent"],
                            [(label, "properties.party")],
                        )  # fmt: skip
                    props["party"] = party_id
            # no separation: a filing's volumes do not depend on the rules, and checking
            # the theater's own rules again with every filing was half of its parsing
            document["tansiq"] = {
                "version": 1,
                "parties": [{"id": party_id, "name": party_id, "lang": "en"}],
            }

        scenario = parse_scenario(body, amend=as_the_party, names_checked=names_checked)
        return [_renamed(v, f"{filing_id}/{v.id}") for v in scenario.volumes]


def _same_footprint(a: Volume, b: Volume) -> bool:
    """The same geometry, coordinate for coordinate, and the same buffer."""
    return a.buffer_m == b.buffer_m and bool(shapely.equals_exact(a.geometry, b.geometry, 0.0))


def _zone_and_entering(mine: Volume, other: Volume) -> tuple[Volume, Volume] | None:
    """(the zone's volume, the operation's) when one is a zone's and the other an
    operation's; None otherwise."""
    for zone, entering in ((mine, other), (other, mine)):
        if _filing_of(zone).startswith("zone-") and _filing_of(entering).startswith(
            "operation-"
        ):
            return zone, entering
    return None


def _same_entry(a: Volume, b: Volume) -> bool:
    """Two versions of a volume with the same footprint, band, window and kind: what
    it enters, and when, unchanged (its other properties may differ)."""
    return _same_footprint(a, b) and (
        (a.kind, a.altitude_low, a.altitude_high, a.start, a.end)
        == (b.kind, b.altitude_low, b.altitude_high, b.start, b.end)
    )


def _same_volume(a: Volume, b: Volume) -> bool:
    """Two versions of a volume that no conflict could tell apart."""
    return _same_entry(a, b) and dict(a.properties) == dict(b.properties)


def _by_filing(volume_ids: Sequence[str]) -> dict[str, list[str]]:
    """Volume ids by filing, in their order. A filing's volumes are stored together, so
    they come in runs, counted in C (a restart's million ids: 0.44 -> 0.2 s)."""
    out: dict[str, list[str]] = {}
    filings = [volume_id.partition("/")[0] for volume_id in volume_ids]
    start = 0
    for filing_id, run in itertools.groupby(filings):
        end = start + len(list(run))
        out.setdefault(filing_id, []).extend(volume_ids[start:end])
        start = end
    return out


def _ends_at(volumes: Sequence[Volume]) -> float:
    return max((v.end for v in volumes), default=math.inf)


def _filing_of(volume: Volume) -> str:
    return volume.id.split("/", 1)[0]


def share_of(body: str, category: Category, known: Callable[[str], bool]) -> list[str]:
    """The body's ``"share"`` member: ``"all"`` or a list of party ids (sites and zones only)."""
    member = json.loads(body).get("share")
    if member is None:
        return []
    if category == "operation":
        raise InputError("share: only sites and zones are shared; an operation is disclosed"
                         " only through its conflicts")  # fmt: skip
    if member == "all":
        return ["*"]
    if not isinstance(member, list) or not all(isinstance(p, str) for p in member):
        raise InputError('share: must be "all" or a list of party ids')
    unknown = [p for p in member if not (is_text(p) and known(p))]  # no id is a surrogate
    if unknown:
        raise InputError(f"share: no party {', '.join(repr(p) for p in unknown)}")
    return sorted(set(member))


def _pair_of(conflict: ConflictRecord, filing_id: str) -> tuple[str, str]:
    """(this filing's volume, the other volume) of a stored conflict."""
    if conflict.filing_a == filing_id:
        return conflict.volume_a, conflict.volume_b
    return conflict.volume_b, conflict.volume_a


def _renamed(volume: Volume, new_id: str) -> Volume:
    return Volume(
        new_id,
        volume.party,
        volume.kind,
        volume.geometry,
        volume.buffer_m,
        volume.altitude_low,
        volume.altitude_high,
        volume.start,
        volume.end,
        volume.properties,
    )


def _text(body: str | bytes) -> str:
    """The body as text, without a byte order mark (RFC 8259 §8.1 lets a parser ignore
    one; every later reading of the stored body must see the same JSON)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("body: is not UTF-8") from exc
    return body.removeprefix("\ufeff")


def _meeting(
    found: Sequence[ConflictRecord], bbox: tuple[float, float, float, float]
) -> list[ConflictRecord]:
    """The conflicts whose overlap region, either side's, meets the box (min_lon,
    min_lat, max_lon, max_lat; west above east crosses the antimeridian); a conflict
    without a region has no place, so is left out."""
    if not found:
        return []
    # a turn each way, for regions stored running past ±180 (extents.boxes_of). Each
    # box is the envelope of its corners, so a box without width or height is a line
    # or a point (edges are included); as polygons, their union was empty and a bbox
    # of a point found nothing (found by a reviewer)
    areas = [
        shapely.envelope(shapely.MultiPoint([(west, south), (east, north)]))
        for west, south, east, north in extents.boxes_of(bbox)
    ]
    regions_a = shapely.from_geojson([c.region_a or None for c in found])
    regions_b = shapely.from_geojson([c.region_b or None for c in found])
    near = np.zeros(len(found), dtype=bool)
    for area in areas:
        near |= shapely.intersects(regions_a, area) | shapely.intersects(regions_b, area)
    return [c for c, keep in zip(found, near, strict=True) if keep]
