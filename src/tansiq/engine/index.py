"""``ConflictIndex``: volumes held in memory, each new one checked against all of them.

The candidate index is a :class:`~tansiq.engine.boxindex.BoxIndex` over 4D boxes:
the three Earth-centred axes and time, each volume's box widened as in
:mod:`tansiq.engine.candidates`. Candidates are then judged exactly by
:func:`tansiq.engine.pairs.judge_pairs`, the same code ``detect`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.boxindex import BoxIndex
from tansiq.engine.candidates import widened_box_of_one, widened_boxes
from tansiq.engine.conflict import Conflict
from tansiq.engine.detect import make_conflicts
from tansiq.engine.footprints import (
    Footprints,
    KernelSide,
    build_footprints,
    footprint_of_one,
)
from tansiq.engine.kernel import CAT_COLUMNS, END, KIND, NUM_COLUMNS, START
from tansiq.engine.outlines import OutlineStore, reserve
from tansiq.engine.packed import unpack
from tansiq.engine.pairs import judge_pairs
from tansiq.engine.rules import SeparationTable
from tansiq.errors import DuplicateVolume, UnknownVolume
from tansiq.scenario.model import SeparationRule, Volume


def codes_of(known: Sequence[str], kinds: Collection[str]) -> list[int]:
    """The codes (positions in ``known``) of those of ``kinds`` that are known."""
    return [code for code, kind in enumerate(known) if kind in kinds]


@dataclass(frozen=True, slots=True)
class HeldVolumes:
    """The ids, kinds and window starts of the volumes an index held at one instant.

    Copied in milliseconds (a list and two columns), under whatever lock guards the
    index, and read at leisure after, while the index goes on changing: the service
    orders a million volumes for its catch-up after new rules this way, beside the
    changes rather than holding them (docs/service.md).
    """

    #: a volume's id by slot; "" where a slot was emptied
    ids: list[str]
    kind_codes: NDArray[np.int64]
    starts: NDArray[np.float64]
    #: each kind code's kind
    kinds: tuple[str, ...]

    def turns(self, kinds: Collection[str]) -> list[tuple[float, str]]:
        """(window start, id) of each volume of one of ``kinds``, in ascending order."""
        slots = np.flatnonzero(np.isin(self.kind_codes, codes_of(self.kinds, kinds))).tolist()
        ids = self.ids
        held = [slot for slot in slots if ids[slot]]
        if not held:
            return []
        starts: list[float] = self.starts[held].tolist()
        # Python's order, which the catch-up's stored place in it is compared in. Not
        # numpy's lexsort of a string array: it ties ids differing by trailing NULs,
        # and makes every id as wide as the longest (a reviewer: one id of a million
        # characters asked for terabytes). The list took 0.9-1.5 s to make at 1M
        # either way (bench/catch_up_rate.py, docs/benchmarks.md)
        return sorted(zip(starts, [ids[slot] for slot in held], strict=True))


class ConflictIndex:
    """An incremental set of volumes that answers ``check(volume)`` against all it holds."""

    def __init__(self, separation: Sequence[SeparationRule] = ()) -> None:
        self._table = SeparationTable(separation)
        self._parties: dict[str, int] = {}
        self._slot_of: dict[str, int] = {}
        # a slot's volume; None once removed, or until first needed for a restored one
        self._volumes: list[Volume | None] = []
        self._ids: list[str] = []
        self._resolve: Callable[[str], Volume] | None = None
        # columns of the stored volumes, with spare rows: the first len(_volumes) are used
        self._num = np.zeros((1024, NUM_COLUMNS))
        self._cat = np.zeros((1024, CAT_COLUMNS), dtype=np.int64)
        self._outlines = OutlineStore()
        self._stored_view: KernelSide | None = None
        self._tree = BoxIndex()
        self._journals: list[set[str]] = []  # ids added or removed, while tracked

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, volume_id: object) -> bool:
        return volume_id in self._slot_of

    def get(self, volume_id: str) -> Volume:
        slot = self._slot_of.get(volume_id)
        if slot is None:
            raise UnknownVolume(volume_id)
        return self._volume_at(slot)

    def end_of(self, volume_id: str) -> float:
        """The end of a volume's window, from the index's own columns (no volume made)."""
        slot = self._slot_of.get(volume_id)
        if slot is None:
            raise UnknownVolume(volume_id)
        return float(self._num[slot, END])

    def start_of(self, volume_id: str) -> float:
        """The start of a volume's window, from the index's own columns (no volume made)."""
        slot = self._slot_of.get(volume_id)
        if slot is None:
            raise UnknownVolume(volume_id)
        return float(self._num[slot, START])

    def kind_of(self, volume_id: str) -> str:
        """The kind of a volume held, from the index's own columns (no volume made)."""
        slot = self._slot_of.get(volume_id)
        if slot is None:
            raise UnknownVolume(volume_id)
        return self._table.kinds[int(self._cat[slot, KIND])]

    def ids_by_kind(self) -> dict[str, list[str]]:
        """The ids of the volumes held, by kind (read from the index's own columns: no
        volume is made)."""
        slots = np.fromiter(self._slot_of.values(), dtype=np.int64, count=len(self._slot_of))
        codes = self._cat[slots, KIND]
        kinds = self._table.kinds
        return {
            kinds[code]: [self._ids[slot] for slot in slots[codes == code].tolist()]
            for code in np.unique(codes).tolist()
        }

    def held(self) -> HeldVolumes:
        """The ids, kinds and window starts of the volumes held now (a copy)."""
        used = len(self._ids)
        return HeldVolumes(
            ids=self._ids[:used],
            kind_codes=self._cat[:used, KIND].copy(),
            starts=self._num[:used, START].copy(),
            kinds=self._table.kinds,
        )

    def add(self, volume: Volume) -> None:
        self.add_many([volume])

    def add_many(self, volumes: Iterable[Volume], footprints: Footprints | None = None) -> None:
        """Add volumes (``footprints``: theirs, from :meth:`footprints_of`, if already built)."""
        batch = list(volumes)
        self._refuse_known([v.id for v in batch])
        if not batch:
            return
        fp = self.footprints_of(batch) if footprints is None else footprints
        self._append(fp, batch)

    def restore(
        self,
        ids: Sequence[str],
        kinds: Sequence[str],
        parties: Sequence[str],
        packed: tuple[Sequence[bytes], Sequence[bytes], Sequence[bytes]],
        resolve: Callable[[str], Volume],
    ) -> None:
        """Add volumes from their packed footprints without their :class:`Volume`.

        ``packed`` holds the columns ``num``, ``xy`` and ``parts`` of their
        :class:`~tansiq.engine.packed.PackedFootprint`; ``resolve(id)`` makes a volume
        when a check first needs it. A restart reads bytes, not a million GeoJSON
        features."""
        self._refuse_known(ids)
        if not ids:
            return
        kind_codes = self._table.codes(kinds)
        party_codes = np.array(
            [self._parties.setdefault(p, len(self._parties)) for p in parties], dtype=np.int64
        )
        self._resolve = resolve
        self._append(unpack(ids, *packed, kind_codes, party_codes), [None] * len(ids))

    def track_changes(self) -> set[str]:
        """A set that, from now on, gets the id of every volume added or removed, until
        :meth:`stop_tracking`: an index made beside this one, from an earlier picture, is
        then brought up to date with them (the service making its index again under new
        rules while changes go on). Several may be tracking at once."""
        journal: set[str] = set()
        self._journals.append(journal)
        return journal

    def stop_tracking(self, journal: set[str]) -> None:
        self._journals = [j for j in self._journals if j is not journal]

    def remove(self, volume_id: str) -> None:
        slot = self._slot_of.pop(volume_id, None)
        if slot is None:
            raise UnknownVolume(volume_id)
        for journal in self._journals:
            journal.add(volume_id)
        self._tree.delete(slot)
        self._volumes[slot] = None
        self._ids[slot] = ""

    def check(
        self,
        volume: Volume,
        ended_before: float = -math.inf,
        footprint: Footprints | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[Conflict]:
        """Every stored volume (other than one with the same id) in conflict with ``volume``.

        Volumes whose window ended before ``ended_before`` do not count (the service's
        expired operations): neither stored ones nor ``volume`` itself. ``footprint``:
        the volume's, from :meth:`footprints_of`, if already built (a change that adds
        the volume next builds it once, not twice). ``kinds``: only stored volumes of
        these kinds are judged (the service judging again, after new rules, the pairs
        of the kinds they changed: a volume of another kind is not even made).
        """
        if not self._volumes or volume.end < ended_before:
            return []
        fp = self.footprints_of([volume]) if footprint is None else footprint
        box = widened_box_of_one(fp, self._table)
        slots = self._tree.query(box[:4], box[4:])
        own = self._slot_of.get(volume.id)
        if own is not None:
            slots = slots[slots != own]
        if ended_before > -math.inf:
            slots = slots[self._num[slots, END] >= ended_before]
        if kinds is not None:
            # (asking the table for a code would register the kind)
            slots = slots[np.isin(self._cat[slots, KIND], codes_of(self._table.kinds, kinds))]
        if slots.size == 0:
            return []
        query = np.zeros(slots.size, dtype=np.int64)
        verdict = judge_pairs(fp.kernel_side(), query, self._stored(), slots, self._table)
        stored = [self._volume_at(slot) for slot in slots[verdict.rows].tolist()]
        out = make_conflicts([volume] * len(stored), stored, verdict)
        out.sort(key=lambda c: (c.a, c.b))
        return out

    def _stored(self) -> KernelSide:
        """The stored columns as the exact stage reads them (views, kept until the next add)."""
        if self._stored_view is None:
            used = len(self._volumes)
            o = self._outlines.view()
            self._stored_view = (
                self._num[:used], self._cat[:used], o.xy, o.part_start, o.row_part
            )
        return self._stored_view

    def _store(self, fp: Footprints) -> None:
        """Append rows, growing the columns by a quarter (amortised O(1) per add)."""
        used = len(self._volumes)
        self._num = reserve(self._num, used + len(fp))
        self._cat = reserve(self._cat, used + len(fp))
        self._num[used : used + len(fp)] = fp.num
        self._cat[used : used + len(fp)] = fp.cat
        self._outlines.append(fp.outlines)
        self._stored_view = None

    def _refuse_known(self, ids: Sequence[str]) -> None:
        # the usual case, in C (a restart's million ids: 0.5 -> 0.26 s); not
        # set.isdisjoint(dict), which walks the whole dict (36 ms a filing at 1M)
        known = self._slot_of.__contains__
        if len(set(ids)) == len(ids) and not any(map(known, ids)):
            return
        seen: set[str] = set()
        for volume_id in ids:
            if volume_id in self._slot_of or volume_id in seen:
                raise DuplicateVolume(volume_id)
            seen.add(volume_id)

    def _append(self, fp: Footprints, volumes: Sequence[Volume | None]) -> None:
        boxes = (
            widened_box_of_one(fp, self._table)[None, :] if len(fp) == 1 else self._tree_boxes(fp)
        )
        slots = np.arange(len(self._volumes), len(self._volumes) + len(fp), dtype=np.int64)
        self._store(fp)
        self._volumes.extend(volumes)
        ids: list[str] = fp.ids.tolist()
        self._ids.extend(ids)
        for journal in self._journals:
            journal.update(ids)
        self._slot_of.update(zip(ids, slots.tolist(), strict=True))
        self._tree.insert_many(slots, boxes[:, :4], boxes[:, 4:])

    def _volume_at(self, slot: int) -> Volume:
        volume = self._volumes[slot]
        if volume is None:
            assert self._resolve is not None and self._ids[slot], f"slot {slot} is empty"
            volume = self._volumes[slot] = self._resolve(self._ids[slot])
        return volume

    def footprints_of(self, volumes: Sequence[Volume]) -> Footprints:
        """The footprints of volumes, coded for this index (pass them to :meth:`add_many`)."""
        if len(volumes) == 1:
            v = volumes[0]
            party = self._parties.setdefault(v.party, len(self._parties))
            return footprint_of_one(v, self._table.code(v.kind), party)
        kinds = self._table.codes(v.kind for v in volumes)
        parties = np.array(
            [self._parties.setdefault(v.party, len(self._parties)) for v in volumes], dtype=np.int64
        )
        return build_footprints(volumes, kinds, parties)

    def _tree_boxes(self, fp: Footprints) -> NDArray[np.float64]:
        lo, hi, t0, t1 = widened_boxes(fp, self._table)
        return np.column_stack([lo, t0, hi, t1])
