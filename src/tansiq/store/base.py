"""The store interface: records and one method per operation.

Records are plain frozen dataclasses: no driver type leaves a store. Every
method that writes does so atomically (all of it or nothing); the service
groups several in :meth:`Store.transaction` when they must land together.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

Role = Literal["party", "coordinator"]


@dataclass(frozen=True, slots=True)
class PartyRecord:
    id: str
    name: str
    lang: str
    role: Role
    created_at: float
    contact: str = ""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API key: its public id, whose it is, and the salted digest of its secret."""

    id: str
    party_id: str
    salt: bytes
    digest: bytes
    created_at: float
    revoked_at: float | None


Category = Literal["operation", "site", "zone"]
FilingState = Literal["active", "cancelled"]
ConflictState = Literal["open", "resolved", "withdrawn"]

Extent = tuple[float, float, float, float]
"""The envelope of a conflict's two regions: west, south, east, north (degrees, as the
regions' positions are written; a region cut in two at ±180 has the width of the
world). A store keeps it to find the conflicts a box may meet without reading their
regions; the regions decide."""


@dataclass(frozen=True, slots=True)
class FilingRecord:
    """One version of a filing: what a party filed (a FeatureCollection, as filed)."""

    id: str
    party_id: str
    category: Category
    version: int
    state: FilingState
    body: str
    filed_at: float
    ends_at: float = math.inf
    """The latest end of its volumes (inf if any is unbounded): after it, it has expired."""


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A conflict between a volume of each of two filings, and what became of it."""

    id: int
    volume_a: str
    volume_b: str
    filing_a: str
    filing_b: str
    party_a: str
    party_b: str
    kind_a: str
    kind_b: str
    state: ConflictState
    horizontal_distance_m: float
    vertical_gap_m: float
    time_gap_s: float
    window_start: float
    window_end: float
    opened_at: float
    closed_at: float | None
    acked_a_at: float | None
    acked_b_at: float | None
    region_a: str | None = None
    """GeoJSON of the part of a's footprint within the separation of b's (shown to b)."""
    region_b: str | None = None
    late_notice: bool = False
    """An operation entered a zone later than the zone's required notice (accepted, flagged)."""
    no_entry: bool = False
    """An operation entered a zone its party may not enter."""
    version: int = 1
    """1 when opened; one more each time what it shows or its state changes (not when it
    is acknowledged), so that an acknowledgement can name what it was given to."""
    rules_change: int | None = None
    """The change of the theater's rules in force when it took the form it shows (was
    opened, changed or closed); None: the server's defaults, or written before schema 11."""
    notice_from: float | None = None
    """Of an operation entering a zone: when the entry it shows was notified (the
    operation's volume took its form at the opening; the time of a change of the
    operation that changed what it shows), from which the zone's notice is measured.
    None: another pair, or written before schema 13."""
    shown_at: float | None = None
    """When it took the shape it shows (its opening, or the last change of what it
    discloses; not a flag's change): the notice of it the theater's lead time is
    measured from. None: written before schema 13 (its opening then stands in)."""
    notice_version: int | None = None
    """Of an operation entering a zone: a version of the operation's filing that holds
    the form whose entry it shows (as notified at ``notice_from``), against which a
    change of the operation is judged a new entry or not. None: another pair, or
    written before schema 14 (the version before a change then stands in)."""


class ConflictChunk(NamedTuple):
    """A chunk of a party's conflicts, read for a page (:meth:`Store.conflicts_of_party_after`)."""

    conflicts: list[ConflictRecord]
    #: the last id read, None if no conflict of the party follows it
    last: int | None
    #: ids of those whose extent lies inside one of the boxes asked: their regions,
    #: which have a position and lie within their extent, meet it without being read
    inside: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """An active filing's volume as the index needs it after a restart: its footprint's
    columns packed as bytes (see :mod:`tansiq.engine.packed`), and enough to make the
    volume itself again (core geometry as WKB, its properties as JSON) without
    re-reading the filing."""

    id: str
    filing_id: str
    party_id: str
    kind: str
    geometry: bytes
    properties: str
    num: bytes
    xy: bytes
    parts: bytes
    #: when it took its present form (see SqliteStore's schema 12); None: not known
    notified_at: float | None = None
    #: the change of the theater's rules in force when its present form was judged
    #: against the theater: its id added to its filing, or its form changed while it
    #: counted; kept by versions that keep its form, or end it (judged on what it had)
    #: (schema 13). None: no change of rules had been made then, or stored before
    #: schema 13
    judged_under: int | None = None


class VolumeForm(NamedTuple):
    """When a stored volume took its present form, and the change of rules it was
    judged under (:class:`VolumeRecord`'s ``notified_at`` and ``judged_under``)."""

    notified_at: float | None
    judged_under: int | None


class ConflictSides(NamedTuple):
    """An open conflict's id, volumes and kinds, as stored (read without its regions)."""

    id: int
    volume_a: str
    volume_b: str
    kind_a: str
    kind_b: str


#: (id, party, kind, num, xy, parts) of a stored volume
FootprintRow = tuple[str, str, str, bytes, bytes, bytes]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something a party is to be told: ``kind`` is ``conflict.opened``, ``.changed``,
    ``.resolved`` or ``.withdrawn``. Ids grow (parties are shown them through
    :mod:`tansiq.service.public_ids`): a stream resumes after the last id it sent."""

    id: int
    party_id: str
    kind: str
    conflict_id: int
    at: float


@dataclass(frozen=True, slots=True)
class RulesChangeRecord:
    """A change of the theater's rules: what a coordinator set, and who, and when.

    Kept for good, so that a conflict (or its absence) can be read against the rules in
    force at its time: the separation minimums and the lead time are the theater's
    agreement, and "the agreed distance was 5 km then" must be shown, not remembered.
    """

    id: int
    """1, 2, ... in the order the changes were made (the rules' ``version``)."""
    separation: str
    """The separation rules set, as JSON (scenario-v1's ``separation`` array)."""
    lead_time_h: float
    party_id: str | None
    """The coordinator who set them; None (with ``at``) for the rules a store held when
    it began keeping this history (schema 9): who set those, and when, was not kept."""
    at: float | None


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """Everything written inside lands together or not at all."""
        ...

    def add_party(self, party: PartyRecord) -> None:
        """Raise :class:`tansiq.errors.PartyExists` if the id is taken."""
        ...

    def get_party(self, party_id: str) -> PartyRecord | None: ...

    def list_parties(self, after: str = "", limit: int | None = None) -> list[PartyRecord]:
        """The parties by id, those after ``after`` (up to ``limit``)."""
        ...

    def add_token(self, token: TokenRecord) -> None: ...

    def get_token(self, token_id: str) -> TokenRecord | None: ...

    def list_tokens(self, party_id: str) -> list[TokenRecord]: ...

    def revoke_tokens(self, party_id: str, token_id: str | None, at: float) -> int:
        """Revoke one live token of the party (or all, if ``token_id`` is None); return how many."""
        ...

    def revocations(self) -> int:
        """How many times tokens were revoked (0: never): one read, so that an open event
        stream can tell before every write whether to look at its token again."""
        ...

    def add_filing_version(self, filing: FilingRecord) -> None:
        """Record a new version of a filing (the first one creates it)."""
        ...

    def get_filing(
        self, filing_id: str, version: int | None = None, party_id: str | None = None
    ) -> FilingRecord | None:
        """The latest version of a filing, or the given one; with ``party_id``, only if
        it is that party's (another's is None, as a missing one is, and is answered
        without reading its body: its size must not show in the time of a 404)."""
        ...

    def filing_history(
        self, filing_id: str, after: int = 0, limit: int | None = None
    ) -> list[FilingRecord]:
        """A filing's versions after version ``after``, oldest first, at most ``limit``."""
        ...

    def filings_of_party(
        self,
        party_id: str,
        category: Category,
        state: FilingState | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[FilingRecord]:
        """The latest version of the party's filings of a category with ids after
        ``after``, in id order, at most ``limit``."""
        ...

    def active_filings(self) -> list[FilingRecord]:
        """The latest version of every filing that is not cancelled."""
        ...

    def put_volumes(self, volumes: Sequence[VolumeRecord]) -> None:
        """Store the volumes of active filings (a volume id is stored once)."""
        ...

    def drop_volumes(self, filing_id: str) -> None:
        """Forget the volumes of a filing (replaced or cancelled; its history stays)."""
        ...

    def get_volume(self, volume_id: str) -> VolumeRecord | None: ...

    def notified_at(self, volume_id: str) -> float | None:
        """When a stored volume took its present form (None: not known, stored before
        that was kept, or no such volume)."""
        ...

    def forms_of(self, filing_id: str) -> dict[str, VolumeForm]:
        """:class:`VolumeForm` of each stored volume of a filing, by volume id."""
        ...

    def judged_under(self, volume_id: str) -> int | None:
        """The change of rules a stored volume's present form was judged under (None:
        none then, stored before schema 13, or no such volume)."""
        ...

    def volume_footprints(self) -> list[FootprintRow]:
        """The footprint of every stored volume, in the order they were stored."""
        ...

    def add_conflict(self, conflict: ConflictRecord, extent: Extent | None = None) -> int:
        """Store an open conflict (its ``id`` is ignored); return its id. ``extent``: the
        envelope of its regions (None: the store finds it from them, if any)."""
        ...

    def get_conflict(
        self, conflict_id: int, party_id: str | None = None
    ) -> ConflictRecord | None:
        """A conflict; with ``party_id``, only if that party is a side of it (another's
        is None, as a missing one is, answered without reading its regions)."""
        ...

    def notice_versions_of(self, filing_id: str, party_id: str) -> list[int]:
        """The versions of an operation's filing that its open conflicts with zones were
        notified with (``ConflictRecord.notice_version``), each once, in order; none
        if the filing is not the party's (answered alike, without reading it)."""
        ...

    def filings_with_notice_versions(self) -> list[tuple[str, str]]:
        """The filings of open conflicts that keep a ``notice_version`` (of either
        side: a zone's and an operation's), each once, with their parties."""
        ...

    def filing_version(self, filing_id: str) -> int | None:
        """A filing's latest version number (None: no such filing), its body unread."""
        ...

    def conflict_extent(self, conflict_id: int) -> Extent | None:
        """The stored envelope of a conflict's regions (this change's own included);
        None if it has none (no position, or written by an older server)."""
        ...

    def open_conflicts_of(self, filing_id: str) -> list[ConflictRecord]: ...

    def open_conflict_sides_of_volume(self, volume_id: str) -> list[ConflictSides]:
        """The ids, volumes and kinds of one volume's open conflicts (either side), read
        without their regions."""
        ...

    def get_conflicts(self, conflict_ids: Sequence[int]) -> list[ConflictRecord]:
        """The conflicts of these ids that exist, in id order."""
        ...

    def update_conflict(self, conflict: ConflictRecord, extent: Extent | None = None) -> None:
        """Store what an open conflict now discloses (kinds, gaps, window, regions, flags),
        its version and its acknowledgements; its parties, volumes, state and opening
        stay. ``extent``: the envelope of its regions, given whenever they were drawn
        again (None: the regions are the ones stored, and so is their extent; a store
        trusts it, to keep a box's conflicts without reading their regions)."""
        ...

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
        """Of the party's first ``limit`` conflicts (in one state, or all) with ids above
        ``after``, in id order, those whose window meets [``start``, ``end``] and, with
        ``boxes``, whose extent meets one of them (a conflict without regions meets
        none); and the last id read, None if no conflict of the party follows it. A
        page's worth, without reading the rest; the caller checks the regions against
        the box (an extent is only their envelope), but for those whose extent lies
        inside one (``ConflictChunk.inside``)."""
        ...

    def add_filing_key(
        self, party_id: str, key: str, filing_id: str, digest: bytes, opened: Sequence[int]
    ) -> None:
        """Record that the party's new filing came with this ``Idempotency-Key``, and the
        conflicts it opened."""
        ...

    def conflicts_opened_with_key(self, party_id: str, key: str) -> list[ConflictRecord]:
        """The conflicts the filing a party's key made opened, as they are now."""
        ...

    def filing_of_key(self, party_id: str, key: str) -> tuple[str, bytes] | None:
        """The filing a party's key made, and the digest of the request, if any."""
        ...

    def close_conflict(
        self, conflict_id: int, state: ConflictState, at: float, rules_change: int | None = None
    ) -> None:
        """Resolve or withdraw an open conflict under the change of rules in force; its
        version goes up by one."""
        ...

    def acknowledge_conflict(
        self, conflict_id: int, side: Literal["a", "b"], at: float
    ) -> None: ...

    def conflicts_of_party(
        self,
        party_id: str,
        state: ConflictState | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[ConflictRecord]:
        """The party's conflicts (all, or in one state), by id; with ``start`` or ``end``
        (epoch seconds, either alone) only those whose window meets [start, end]."""
        ...

    def set_share(self, filing_id: str, party_ids: Sequence[str]) -> None:
        """Whom a filing is shared with in full (party ids, ``"*"`` for everyone)."""
        ...

    def shared_with(
        self, party_id: str, after: str = "", limit: int | None = None
    ) -> list[FilingRecord]:
        """The latest version of the active filings of other parties shared with this one,
        in id order: those with ids above ``after``, at most ``limit`` (None: all)."""
        ...

    def set_webhook(
        self, party_id: str, url: str | None, delivered: int = 0, token_id: str | None = None
    ) -> None:
        """Set (or with ``url`` None, remove) the party's webhook: its events after
        ``delivered`` go to ``url``; ``token_id`` is the token that set it."""
        ...

    def webhook_token(self, party_id: str) -> str | None:
        """The id of the token that set the party's webhook (None: it has none, or it
        was set before the store kept who set it)."""
        ...

    def get_event(self, event_id: int) -> EventRecord | None: ...

    def webhooks(self) -> list[tuple[str, str, int]]: ...

    def webhook_of(self, party_id: str) -> tuple[str, int] | None: ...

    def release_reader(self) -> None:
        """Let go of what the calling thread holds for reading (it is about to end)."""
        ...

    def mark_delivered(self, party_id: str, event_id: int, url: str) -> None:
        """Record that ``url`` took the party's events up to ``event_id`` (nothing, if the
        party's webhook is no longer ``url``)."""
        ...

    def last_event_of(self, party_id: str) -> int:
        """The id of the party's last event (0: none yet)."""
        ...

    def get_setting(self, name: str) -> str | None: ...

    def get_settings(self, names: Collection[str]) -> dict[str, str]:
        """Those of the named settings the store holds, read at one instant (one
        statement: a change committing meanwhile shows whole or not at all)."""
        ...

    def set_setting(self, name: str, value: str) -> None: ...

    def setting_once(self, name: str, value: str) -> str:
        """The setting's value, ``value`` stored first if it has none: whoever comes
        first sets it, and every caller gets what is stored."""
        ...

    def open_conflicts(self, kinds: Collection[str] | None = None) -> list[ConflictRecord]:
        """Every open conflict (``kinds``: only those both of whose kinds are among them),
        oldest first."""
        ...

    def add_rules_change(
        self, separation: str, lead_time_h: float, party_id: str, at: float
    ) -> int:
        """Record a change of the theater's rules; its id (one more than the last)."""
        ...

    def rules_changes(
        self, after: int = 0, limit: int | None = None
    ) -> list[RulesChangeRecord]:
        """The changes of the rules after the one with id ``after``, oldest first."""
        ...

    def get_rules_change(self, change_id: int) -> RulesChangeRecord | None: ...

    def add_event(self, party_id: str, kind: str, conflict_id: int, at: float) -> int: ...

    def events_after(self, party_id: str, after: int, limit: int = 1000) -> list[EventRecord]:
        """The party's events with ids above ``after``, oldest first."""
        ...

    def events_with_conflicts(
        self, party_id: str, after: int, limit: int = 1000
    ) -> list[tuple[EventRecord, ConflictRecord]]:
        """:meth:`events_after`, each with its conflict as it stands now (one read, not
        one per event: a live stream renders every event it sends)."""
        ...

    def close(self) -> None: ...

