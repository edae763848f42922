"""What the theater's changes hand back: a change's outcome, a change of rules' outcome
and the rules as committed, and the live events a committed batch hands its listeners."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

from tansiq.scenario.model import SeparationRule
from tansiq.service.catch_up import CatchUp
from tansiq.store import ConflictRecord, FilingRecord
from tansiq.store.base import RulesChangeRecord


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event of a committed change, with its conflict as that change left it: what
    listeners are handed, in commit order, so that a live stream need not read it back."""

    id: int
    party_id: str
    kind: str
    conflict: ConflictRecord


@dataclass(frozen=True, slots=True)
class RulesOutcome:
    """What new rules did so far: the pairs of kinds whose minimums they changed (judged
    again), and how many of those pairs' conflicts were opened, resolved and kept open,
    and of the kept how many changed (drawn again and told); how many volumes there
    were to judge again, how many were, and whether that is all (the catch-up)."""

    kinds: tuple[tuple[str, str], ...]
    opened: int
    resolved: int
    changed: int
    kept: int
    volumes: int
    judged: int
    done: bool
    #: the id of the change of rules the call that answers this made (None: read from
    #: the store, whichever change was last): an answer names its own change, not one
    #: another coordinator made meanwhile (a reviewer saw 4 in 80 answers name it);
    #: not part of what two outcomes compare (what was judged)
    change: int | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class CatchUpProgress:
    """What a party that is not a coordinator is shown of a change of rules' catch-up:
    whether it is over (until it is, conflicts under the new rules may still be found).
    The pairs of kinds a :class:`RulesOutcome` names are those of every party's active
    volumes (all of them under a rule between ``*`` and ``*``) and its counts are of
    every party's conflicts and volumes, which a party is not shown (a reviewer read
    another party's kinds so)."""

    done: bool


def outcome_of(state: CatchUp) -> RulesOutcome:
    return RulesOutcome(
        kinds=tuple(sorted(state.changed)),
        opened=state.opened,
        resolved=state.resolved,
        changed=state.redrawn,
        kept=state.kept,
        volumes=state.volumes,
        judged=state.judged,
        done=state.done,
    )


class CommittedRules(NamedTuple):
    """The theater's rules as committed (:meth:`Theater.committed_rules`)."""

    separation: tuple[SeparationRule, ...]
    lead_time_h: float
    #: the change of rules that set them (None: none was ever recorded, and the rules
    #: are the server's defaults)
    change: RulesChangeRecord | None
    #: what the last change of rules has judged again so far (None: none was made)
    outcome: RulesOutcome | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a change did: the filing's new version and the conflicts it opened or kept."""

    filing: FilingRecord
    conflicts: tuple[ConflictRecord, ...]
    replayed: bool = False
    """A filing sent again with its Idempotency-Key: nothing was done; ``filing`` is the
    version the first request made and ``conflicts`` those it opened, as they are now."""
