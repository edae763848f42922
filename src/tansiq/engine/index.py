"""``ConflictIndex``: volumes held in memory, each new one checked against all of them.

The candidate index is a :class:`~tansiq.engine.boxindex.BoxIndex` over 4D boxes:
the three Earth-centred axes and time, each volume's box widened as in
:mod:`tansiq.engine.candidates`. Candidates are then judged exactly by
:func:`tansiq.engine.pairs.judge_pairs`, the same code ``detect`` uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.boxindex import BoxIndex
from tansiq.engine.candidates import widened_boxes
from tansiq.engine.conflict import Conflict
from tansiq.engine.detect import make_conflict
from tansiq.engine.footprints import Footprints, build_footprints
from tansiq.engine.pairs import interval_gap, judge_pairs
from tansiq.engine.rules import SeparationTable
from tansiq.errors import DuplicateVolume, UnknownVolume
from tansiq.scenario.model import SeparationRule, Volume


class ConflictIndex:
    """An incremental set of volumes that answers ``check(volume)`` against all it holds."""

    def __init__(self, separation: Sequence[SeparationRule] = ()) -> None:
        self._table = SeparationTable(separation)
        self._parties: dict[str, int] = {}
        self._slot_of: dict[str, int] = {}
        self._volumes: list[Volume | None] = []
        self._rows: Footprints | None = None  # capacity rows; the first len(_volumes) are used
        self._tree = BoxIndex()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, volume_id: object) -> bool:
        return volume_id in self._slot_of

    def get(self, volume_id: str) -> Volume:
        slot = self._slot_of.get(volume_id)
        if slot is None:
            raise UnknownVolume(volume_id)
        volume = self._volumes[slot]
        assert volume is not None
        return volume

    def add(self, volume: Volume) -> None:
        self.add_many([volume])

    def add_many(self, volumes: Iterable[Volume]) -> None:
        batch = list(volumes)
        seen: set[str] = set()
        for v in batch:
            if v.id in self._slot_of or v.id in seen:
                raise DuplicateVolume(v.id)
            seen.add(v.id)
        if not batch:
            return
        fp = self._footprints(batch)
        boxes = self._tree_boxes(fp)
        slots = np.arange(len(self._volumes), len(self._volumes) + len(batch), dtype=np.int64)
        self._store(fp, slots)
        self._volumes.extend(batch)
        for v, slot in zip(batch, slots.tolist(), strict=True):
            self._slot_of[v.id] = slot
        self._tree.insert_many(slots, boxes[:, :4], boxes[:, 4:])

    def remove(self, volume_id: str) -> None:
        slot = self._slot_of.pop(volume_id, None)
        if slot is None:
            raise UnknownVolume(volume_id)
        self._tree.delete(slot)
        self._volumes[slot] = None

    def check(self, volume: Volume) -> list[Conflict]:
        """Every stored volume (other than one with the same id) in conflict with ``volume``."""
        if self._rows is None:
            return []
        fp = self._footprints([volume])
        box = self._tree_boxes(fp)[0]
        slots = self._tree.query(box[:4], box[4:])
        own = self._slot_of.get(volume.id)
        if own is not None:
            slots = slots[slots != own]
        slots = self._plausible(fp, slots)
        if slots.size == 0:
            return []
        verdict = judge_pairs(
            fp, np.zeros(slots.size, dtype=np.int64), self._rows, slots, self._table
        )
        out = []
        for k, slot in enumerate(slots[verdict.rows].tolist()):
            stored = self._volumes[slot]
            assert stored is not None
            out.append(make_conflict(volume, stored, verdict, k))
        out.sort(key=lambda c: (c.a, c.b))
        return out

    def _plausible(self, fp: Footprints, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """Drop candidates of the same party or outside the vertical or time minimum.

        The same tests judge_pairs makes, on a few stored columns only, so that the
        full rows are gathered for the survivors alone.
        """
        if slots.size == 0:
            return slots
        rows = self._rows
        assert rows is not None
        minimums = self._table.pair_minimums(np.repeat(fp.kind, slots.size), rows.kind[slots])
        vgap = interval_gap(fp.alt_low, fp.alt_high, rows.alt_low[slots], rows.alt_high[slots])
        tgap = interval_gap(fp.start, fp.end, rows.start[slots], rows.end[slots])
        keep = (
            (rows.party[slots] != fp.party[0]) & (vgap <= minimums[:, 1]) & (tgap <= minimums[:, 2])
        )
        kept: NDArray[np.int64] = slots[keep]
        return kept

    def _store(self, fp: Footprints, slots: NDArray[np.int64]) -> None:
        """Write rows at ``slots``, growing the columns by doubling (amortised O(1) per add)."""
        needed = int(slots[-1]) + 1
        if self._rows is None or needed > len(self._rows):
            used = len(self._volumes)
            # grow by a quarter: amortised O(1) per add without doubling a 1M-row table
            current = len(self._rows) if self._rows is not None else 0
            capacity = max(needed, current + current // 4, 1024)
            spare = capacity - used - len(fp)
            old = [self._rows.take(slice(0, used))] if self._rows is not None else []
            self._rows = Footprints.concat([*old, fp, fp.take(np.zeros(spare, dtype=np.int64))])
        else:
            self._rows.put(slots, fp)

    def _footprints(self, volumes: Sequence[Volume]) -> Footprints:
        kinds = self._table.codes(v.kind for v in volumes)
        parties = np.array(
            [self._parties.setdefault(v.party, len(self._parties)) for v in volumes], dtype=np.int64
        )
        return build_footprints(volumes, kinds, parties)

    def _tree_boxes(self, fp: Footprints) -> NDArray[np.float64]:
        lo, hi, t0, t1 = widened_boxes(fp, self._table)
        return np.column_stack([lo, t0, hi, t1])
