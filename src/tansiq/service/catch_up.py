"""How far the theater has got judging its pairs again after new rules (the catch-up).

New rules take effect at once for every change made after them. The pairs of volumes
filed before them are judged again in slices, a few hundredths of a second each,
between the other changes (:meth:`Theater.catch_up`): judged in one piece, a change of
the rules held the theater for some eleven minutes at 1M stored volumes, and every
filing meanwhile was refused (docs/service.md, "New rules take effect at once"). This
is that work's state, as the store keeps it: a setting written with each slice's
changes, in the same transaction, so that a restart goes on where the last committed
slice ended.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any

from tansiq.engine.conflict import Conflict
from tansiq.engine.index import HeldVolumes
from tansiq.engine.rules import rule_minimums
from tansiq.scenario.model import SeparationRule
from tansiq.service.rules import parse_rules, rules_json
from tansiq.store import ConflictRecord

#: the store's setting holding the last change of rules' catch-up (done or not)
SETTING = "rules_catch_up"


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What the last change of rules judges again, and how far it has got.

    Volumes are taken in the order their windows start, then of their ids (:func:`turn`),
    each judged with the volumes before it in that order: a pair is judged once, at the
    turn of the volume that starts later, the earliest its conflict can begin, so that
    pairs are put right in the order they can happen (what happens next first). A
    volume filed or changed after the rules were set was judged under them by its own
    change: judging it again finds the same, and tells nobody anything; and a pair
    with a volume whose form was judged under them (added, or changed while it
    counted) the catch-up does not open (judged with the horizon of the moment the
    rules were set, it would be a conflict already over, or one that never was:
    :meth:`RulesChanges._judged_since`).
    """

    #: the pairs of kinds (each sorted) whose minimums the change altered
    changed: frozenset[tuple[str, str]]
    #: the rules before the change: a conflict kept is drawn again where its horizontal
    #: minimum differs from theirs
    was: tuple[SeparationRule, ...]
    #: every conflict kept is drawn again (the expiry horizon moved, or a change came
    #: while another's catch-up ran, so that ``was`` no longer says how each was drawn)
    redraw_all: bool
    #: the service's clock when the rules were set
    started_at: float
    #: volumes to judge again when it started
    volumes: int
    #: the turn of the last volume judged again (None: none yet)
    after: tuple[float, str] | None = None
    #: the next volume's turn and the last of its partners judged, when a slice ended
    #: inside it (a volume of a large footprint has many pairs: slices of whole
    #: volumes had a p99 of 101.9 ms at 1M, bench/rules_catch_up.py)
    partial: tuple[tuple[float, str], str] | None = None
    judged: int = 0
    opened: int = 0
    resolved: int = 0
    #: conflicts kept whose disclosure changed (drawn again and told)
    redrawn: int = 0
    kept: int = 0
    done: bool = False
    #: the change of rules (``rules_change.id``) whose pairs these are: a volume whose
    #: form was judged under it or a later one was judged under the rules by its own
    #: change (None: saved before schema 13; the change in force stands in at a load)
    change: int | None = None

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of volumes to judge again."""
        return frozenset(kind for pair in self.changed for kind in pair)

    def to_json(self) -> str:
        return json.dumps(
            {
                "changed": sorted(list(pair) for pair in self.changed),
                "was": rules_json(self.was),
                "redraw_all": self.redraw_all,
                "started_at": self.started_at,
                "volumes": self.volumes,
                "after": None if self.after is None else list(self.after),
                "partial": None if self.partial is None else [*self.partial[0], self.partial[1]],
                "judged": self.judged,
                "opened": self.opened,
                "resolved": self.resolved,
                "redrawn": self.redrawn,
                "kept": self.kept,
                "done": self.done,
                "change": self.change,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CatchUp:
        saved = json.loads(text)
        return cls(
            changed=frozenset((str(x), str(y)) for x, y in saved["changed"]),
            was=parse_rules(json.dumps({"separation": saved["was"]})),
            redraw_all=bool(saved["redraw_all"]),
            started_at=float(saved["started_at"]),
            volumes=int(saved["volumes"]),
            after=None if saved["after"] is None else turn(*saved["after"]),
            partial=_partial(saved.get("partial")),
            judged=int(saved["judged"]),
            opened=int(saved["opened"]),
            resolved=int(saved["resolved"]),
            redrawn=int(saved["redrawn"]),
            kept=int(saved["kept"]),
            done=bool(saved["done"]),
            change=None if saved.get("change") is None else int(saved["change"]),
        )


def turn(start: float, volume_id: str) -> tuple[float, str]:
    """Where a volume comes in a catch-up: by the start of its window, then its id."""
    return (float(start), str(volume_id))


def still_to_judge(held: HeldVolumes, state: CatchUp) -> list[tuple[float, str]]:
    """The turns of the volumes ``state`` has still to judge again, of those ``held``
    (an index's, at one instant), in the order it judges them, the last one first (a
    slice takes them from the end)."""
    left = held.turns(state.kinds)
    if state.after is not None:
        del left[: bisect.bisect_right(left, state.after)]
    left.reverse()
    return left


def _partial(saved: list[Any] | None) -> tuple[tuple[float, str], str] | None:
    if saved is None:
        return None
    start, volume_id, other = saved
    return turn(start, volume_id), str(other)


def kind_pair(kind_a: str, kind_b: str) -> tuple[str, str]:
    """A pair of kinds in one order (rules are symmetric)."""
    return (kind_a, kind_b) if kind_a <= kind_b else (kind_b, kind_a)


def redrawn_by(state: CatchUp, conflict: ConflictRecord, judged: Conflict) -> bool:
    """Whether a catch-up draws a conflict it keeps (``judged`` now) again: every one
    with ``redraw_all``, else those whose horizontal minimum the change of rules moved
    (its regions move with it)."""
    was = rule_minimums(state.was, conflict.kind_a, conflict.kind_b)[0]
    return state.redraw_all or judged.horizontal_m != was
