"""A change of the theater's rules, and the catch-up that judges pairs again under them.

:class:`RulesChanges` is the part of :class:`tansiq.service.theater.Theater` that sets
the separation rules and the lead time, keeps their history, and judges again, in
slices between the other changes, every pair of active volumes whose kinds' minimums
the new rules change (docs/service.md, "New rules take effect at once"). It is a
mixin, not an object of its own: each slice is a change of the theater's
(:meth:`Theater._change`), under its lock, over its index and store, and reads and
writes the same conflicts as a filing does; what it needs of the theater is declared
below for the type checker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from tansiq.engine.conflict import Conflict
from tansiq.engine.index import ConflictIndex
from tansiq.engine.rules import pairs_changed
from tansiq.scenario.model import SeparationRule, Volume
from tansiq.service import parties
from tansiq.service.catch_up import SETTING as CATCH_UP_SETTING
from tansiq.service.catch_up import CatchUp, kind_pair, redrawn_by, still_to_judge, turn
from tansiq.service.collector import collector_paused
from tansiq.service.outcomes import CatchUpProgress, CommittedRules, RulesOutcome, outcome_of
from tansiq.service.rules import (
    CHANGE_SETTING,
    LEAD_TIME_SETTING,
    SETTING,
    check_limits,
    expiry_horizon,
    parse_rules,
    rules_json,
)
from tansiq.store import ConflictRecord, PartyRecord, SqliteStore
from tansiq.store.base import ConflictState, RulesChangeRecord

_log = logging.getLogger(__name__)
T = TypeVar("T")
#: how often a waiting change looks whether a long change has taken the theater
LOOK_AGAIN_S = 0.5


class RulesChanges:
    if TYPE_CHECKING:  # the theater's, which these methods share
        _store: SqliteStore
        _index: ConflictIndex
        _lock: threading.Lock
        _queue_lock: threading.Lock
        _queued: int
        _closed: bool
        _changes_made: int
        _separation: tuple[SeparationRule, ...]
        _default_separation: tuple[SeparationRule, ...]
        _lead_time_h: float
        _rules_change: int | None
        _long_change: tuple[str, float] | None
        _catch_up: CatchUp | None
        _catching_up: threading.Thread | None
        _pending: list[tuple[float, str]] | None
        _pending_counted: bool
        catch_up_slice_s: float
        catch_up_in_background: bool

        def _change(self, work: Callable[[float], T]) -> T: ...
        def _reload(self) -> None: ...
        def _index_from_store(
            self, rules: Sequence[SeparationRule]
        ) -> tuple[ConflictIndex, Sequence[str]]: ...
        # (the theater's takes more, with defaults: what the catch-up passes is declared)
        def _refresh(
            self, stored: ConflictRecord, judged: Conflict, now: float, redraw: bool
        ) -> ConflictRecord: ...
        def _close(self, conflict: ConflictRecord, state: ConflictState, now: float) -> None: ...
        def _expired(self, conflict: ConflictRecord, horizon: float) -> bool: ...
        def _store_conflict(
            self, mine: Volume, other: Volume, conflict: Conflict, now: float
        ) -> ConflictRecord: ...

    def set_rules(
        self,
        party: PartyRecord,
        rules: Sequence[SeparationRule],
        lead_time_h: float = 0.0,
        wait_s: float = math.inf,
    ) -> RulesOutcome:
        """Replace the theater's rules (coordinators only); every pair of active volumes
        whose kinds' minimums they change is then judged again: conflicts that no longer
        hold are resolved, new ones opened, those kept drawn again where their separation
        changed. Pairs of kinds whose minimums stay the same come out the same and are
        not judged again, so a rule for two kinds costs what their volumes cost, and a
        new lead time alone costs nothing.

        The rules take effect at once for every change after them; the pairs filed
        before are judged again in slices between other changes (:meth:`catch_up`, a
        catch-up: minutes on a large theater, which keeps serving meanwhile). This call
        does that work itself for up to ``wait_s`` seconds, then leaves the rest to a
        thread of the theater; its answer says how far it got. The index for the new
        minimums is made beside the other changes, then brought up to date with what they
        did under the lock (milliseconds, bench/rules_catch_up.py). A change of rules
        while another's catch-up runs takes it over: both changes' pairs are judged again
        from the first volume.

        ``lead_time_h``: a conflict opened less than this many hours before its window
        starts is flagged ``late_notice`` (accepted: a late notice is better than none).
        """
        parties.require_coordinator(party, "set the theater's separation rules")
        rules = tuple(rules)
        check_limits(rules)  # new rules only: saved ones are read as they are

        def commit_before() -> None:
            # the changes before it, whose batch it would commit, are not kept waiting
            # for what it does under the lock (a reviewer)
            try:
                self._store.commit()
            except BaseException:
                self._reload()  # the batch is lost: the picture must not show it
                raise

        def begin(now: float) -> tuple[ConflictIndex, set[str]]:
            commit_before()  # what the index is made from below is committed
            return self._index, self._index.track_changes()

        def work(now: float) -> CatchUp:
            commit_before()
            self._long_change = ("a change of the theater's rules", time.monotonic())
            try:
                return set_them(now)
            finally:
                with self._queue_lock:  # see _take_lock: a waiter gives up under it
                    self._long_change = None

        def set_them(now: float) -> CatchUp:
            by_kind = self._index.ids_by_kind()
            # the horizon of expiry is the rules' longest time separation: when it moves,
            # volumes of any kind start or stop counting, and every pair is judged again
            # (a second review found pairs left unjudged when a rule for other kinds
            # moved it)
            every = expiry_horizon(now, rules) != expiry_horizon(now, self._separation)
            changed = (
                {(x, y) for x in by_kind for y in by_kind if x <= y}
                if every
                else pairs_changed(self._separation, rules, by_kind)
            )
            running = self._catch_up if self._catch_up and not self._catch_up.done else None
            if running is not None and changed:
                # some conflicts were drawn under the rules in between: all drawn again
                changed |= running.changed
            state = CatchUp(
                changed=frozenset(changed),
                was=self._separation,
                redraw_all=every or (running is not None and bool(changed)),
                started_at=now,
                # (a running catch-up's pairs may name kinds no longer held: its last
                # volume of one cancelled meanwhile, a KeyError here: a reviewer)
                volumes=sum(len(by_kind.get(kind, ())) for kind in {k for p in changed for k in p}),
                done=not changed,
            )
            if running is not None and not changed:
                state = running  # a new lead time alone: the running one goes on
            previous = (self._lead_time_h, self._catch_up, self._pending, self._rules_change)
            self._lead_time_h = lead_time_h  # the flags of the conflicts opened from now
            try:
                with self._store.transaction(defer_commit=True):
                    separation = json.dumps(rules_json(rules))
                    # kept for good: what was in force when, set by whom
                    change = self._store.add_rules_change(
                        separation, lead_time_h, party.id, now
                    )
                    made[:] = [change]
                    if state is not running:  # (a new lead time alone: its own change's)
                        state = dataclasses.replace(state, change=change)
                    self._rules_change = change  # named by the conflicts written from now
                    self._store.set_setting(SETTING, separation)
                    self._store.set_setting(LEAD_TIME_SETTING, repr(lead_time_h))
                    self._store.set_setting(CHANGE_SETTING, str(change))
                    self._store.set_setting(CATCH_UP_SETTING, state.to_json())
            except BaseException:
                self._lead_time_h, self._catch_up, self._pending, self._rules_change = previous
                raise
            if rules != self._separation:
                self._index = self._index_brought_up_to_date(fresh, tracked, rules)
                self._separation = rules
            if state is not running:
                self._catch_up, self._pending = state, None
            return state

        # every box is widened by the largest minimum a kind may meet (kinds not filed
        # yet included): the index is made again, as a restart makes it, from the store,
        # while changes go on under the rules before; what they change is then brought
        # into it under the lock (made under it, the index held every filing back for
        # 7.4-9.0 s at 1M: docs/benchmarks.md). Two changes of rules at once: the second
        # to take the lock finds the index replaced, and makes its own under the lock
        fresh: ConflictIndex | None = None
        made: list[int] = []  # the id of the change set_them records
        tracked = self._change(begin) if rules != self._separation else None
        try:
            if tracked is not None:
                fresh = self._rules_index(rules)
            self._change(work)  # the rules are in force, and committed, from here on
        finally:
            if tracked is not None:
                with self._lock:  # (changes note into it under the lock)
                    tracked[0].stop_tracking(tracked[1])
        try:
            outcome = self.catch_up(time.monotonic() + wait_s)
        except Exception:
            # not the caller's failure: its rules stand (a reviewer saw a change already
            # in force answered "503, nothing was done" when the next one's index held
            # the theater); the theater's thread goes on with the rest
            _log.exception("judging pairs again under new rules: left to the theater's thread")
            committed = self.rules_outcome
            assert committed is not None  # the work above committed it
            outcome = committed
        if not outcome.done and self.catch_up_in_background:
            self._catch_up_in_background()
        return dataclasses.replace(outcome, change=made[0])

    def _rules_index(self, rules: Sequence[SeparationRule]) -> ConflictIndex:
        """The index of the active volumes under ``rules``, from what the store has
        committed."""
        with collector_paused():
            return self._index_from_store(rules)[0]

    def _index_brought_up_to_date(
        self,
        fresh: ConflictIndex | None,
        tracked: tuple[ConflictIndex, set[str]] | None,
        rules: Sequence[SeparationRule],
    ) -> ConflictIndex:
        """``fresh`` (made under ``rules`` while changes went on) with the volumes those
        changes added, replaced or removed, as the index in use (``tracked``: it, and
        the ids it noted) holds them now. Called under the lock: the one part of a
        change of rules that holds the theater (besides writing the rules). If the index
        in use was replaced meanwhile (the picture read again after a failed COMMIT, or
        another change of rules), the index is made here, under the lock."""
        if fresh is None or tracked is None or self._index is not tracked[0]:
            return self._rules_index(rules)
        made_from, changed = tracked
        made_from.stop_tracking(changed)
        for volume_id in changed:
            if volume_id in fresh:
                fresh.remove(volume_id)
        fresh.add_many([made_from.get(v) for v in sorted(changed) if v in made_from])
        return fresh

    @property
    def rules_outcome(self) -> RulesOutcome | None:
        """What the last change of rules has judged again so far, as committed (None:
        none made)."""
        return self.committed_rules().outcome

    @staticmethod
    def catch_up_seen_by(
        party: PartyRecord, outcome: RulesOutcome
    ) -> RulesOutcome | CatchUpProgress:
        """What ``party`` is shown of a change of rules' catch-up: all of it to a
        coordinator, who sets the rules and is told what they did; to a party, whether
        it is over (:class:`CatchUpProgress` says why)."""
        return outcome if party.role == "coordinator" else CatchUpProgress(outcome.done)

    def committed_rules(self) -> CommittedRules:
        """The rules, the lead time, which change of them is in force and what the last
        change of rules has judged again so far, as the store holds them, read at one
        instant. Not the picture: a change sets it before its batch commits (a GET saw a
        catch-up over whose writes were not yet visible, on a busy machine; a reviewer,
        new rules beside the last change's outcome)."""
        saved = self._store.get_settings(
            (SETTING, LEAD_TIME_SETTING, CHANGE_SETTING, CATCH_UP_SETTING)
        )
        rules = saved.get(SETTING)
        catch_up = saved.get(CATCH_UP_SETTING)
        change = saved.get(CHANGE_SETTING)
        return CommittedRules(
            parse_rules(f'{{"separation": {rules}}}') if rules else self._default_separation,
            float(saved.get(LEAD_TIME_SETTING) or 0.0),
            None if change is None else self._store.get_rules_change(int(change)),
            None if catch_up is None else outcome_of(CatchUp.from_json(catch_up)),
        )

    def rules_history(self, after: int, limit: int) -> list[RulesChangeRecord]:
        """The changes of the theater's rules after the one numbered ``after``, oldest
        first: what every coordinator set, and when (any party may read them: they are
        the theater's agreement, not one party's plans)."""
        return self._store.rules_changes(after, limit)

    def catch_up(self, until: float = math.inf) -> RulesOutcome:
        """Judge again, slice by slice, the pairs the last change of rules left to judge,
        until none is left or ``time.monotonic()`` passes ``until`` (a slice already
        begun ends first). Each slice is a change of its own (:meth:`_change`): other
        changes take turns with it, and what it did is committed with them."""
        while True:
            self._pending_listed_beside()
            state = self._change(self._catch_up_slice)
            if state is None:
                raise RuntimeError("no change of rules has been made")
            if state.done or time.monotonic() >= until or self._closed:
                return outcome_of(state)

    def _catch_up_in_background(self) -> None:
        """Go on with the catch-up in a thread of the theater's own (one at most), which
        lets waiting changes go first between its slices."""
        with self._queue_lock:
            if self._catching_up is not None:
                return  # it goes on with this one too (it decides to end under this lock)
            self._catching_up = threading.Thread(
                target=self._catch_up_on, name="tansiq-rules-catch-up", daemon=True
            )
            self._catching_up.start()

    def _catch_up_on(self) -> None:
        while True:
            with self._queue_lock:
                # decided under the lock a new change of rules looks for this thread
                # under: one arriving as the last catch-up ends is not left without a
                # thread (a reviewer held this one in its last line and saw it so)
                state = self._catch_up
                if self._closed or state is None or state.done:
                    self._catching_up = None
                    return
            changes_before = self._changes_made
            try:
                self._pending_listed_beside()
                state = self._change(self._catch_up_slice)
            except Exception:
                if not self._closed:
                    _log.exception("judging pairs again under new rules failed; retrying in 5 s")
                    time.sleep(5.0)
                continue
            if state is None or state.done:
                if state is not None:
                    _log.info("new rules: every pair judged again (%s)", outcome_of(state))
                continue
            if self._queued or self._changes_made - changes_before > 1:
                # others are changing: they get as long as the slice had (a filer
                # back to back got one change a slice, 18 a second, without this)
                time.sleep(self.catch_up_slice_s)

    def _catching_up_on(self, conflict: ConflictRecord, judged: Conflict) -> bool:
        """Whether a catch-up running would draw a conflict (``judged`` now) again, as
        :meth:`_judge_again` decides it: every one it keeps, or those whose horizontal
        minimum the change of rules moved (a change of a vertical minimum alone draws
        nothing again: another reviewer saw a note's change told as a new drawing,
        acknowledgements cleared)."""
        state = self._catch_up
        if state is None or state.done:
            return False
        pair = kind_pair(conflict.kind_a, conflict.kind_b)
        return state.redraw_all or (pair in state.changed and redrawn_by(state, conflict, judged))

    def _pending_listed_beside(self) -> None:
        """List the volumes the catch-up has still to judge, in its order, beside the
        changes: only copying the index's ids, kinds and windows holds the theater.
        Listed under its lock, the first slice held it 0.55 s at 1M (1.1-1.2 s with the
        machine slower), and a filing waited 1.3 s for it (bench/catch_up_rate.py,
        bench/rules_catch_up.py).

        Volumes filed, changed or cancelled between the copy and the first slice were
        judged under the new rules by their own changes (the copy is taken after the
        rules are in force): a volume gone is passed over, and the pairs of one whose
        window moved were judged and drawn again by its replacement
        (:meth:`_catching_up_on`)."""
        if not self._lock_for_a_moment():
            return
        try:
            state = self._catch_up
            if state is None or state.done or self._pending is not None:
                return
            held = self._index.held()
        finally:
            self._lock.release()
        pending = still_to_judge(held, state)
        if not self._lock_for_a_moment():
            return
        try:
            if self._catch_up is state and self._pending is None:  # (not read again since)
                self._pending, self._pending_counted = pending, False
        finally:
            self._lock.release()

    def _lock_for_a_moment(self) -> bool:
        """Take the theater's lock, not counted as a change waiting (no batch is left to
        this caller to commit), unless a long change holds it: then False, and the work
        is left to a change, which waits for it as changes do (:meth:`_take_lock`)."""
        while self._long_change is None:
            if self._lock.acquire(timeout=LOOK_AGAIN_S):
                return True
        return False

    def _catch_up_slice(self, now: float) -> CatchUp | None:
        """Judge again the next volumes the catch-up has to (for about
        :data:`CATCH_UP_SLICE_S`), each with the volumes before it in its order, and
        store how far it got with what it did."""
        state = self._catch_up
        if state is None or state.done:
            return state
        if self._pending is None:  # (listed beside, as a rule: _pending_listed_beside)
            self._pending, self._pending_counted = still_to_judge(self._index.held(), state), False
        if not self._pending_counted:  # what it counts is what is left now
            state = dataclasses.replace(state, volumes=state.judged + len(self._pending))
            self._pending_counted = True
        pending, taken = self._pending, 0
        ends = time.monotonic() + self.catch_up_slice_s
        counts = dict(judged=0, opened=0, resolved=0, redrawn=0, kept=0)
        # what counted when the rules were set, as judging them at once would have
        # judged it: a pair over before its turn (the catch-up takes minutes) keeps
        # what the new rules make of it (a reviewer found pairs expiring meanwhile
        # left open, or never opened, under the old rules for good)
        horizon = expiry_horizon(state.started_at, self._separation)
        after, partial = state.after, state.partial
        with self._store.transaction(defer_commit=True):
            while taken < len(pending) and not (taken and time.monotonic() >= ends):
                current = pending[-1 - taken]
                # a volume left part way (its turn unchanged) goes on after its last pair
                begun = partial[1] if partial is not None and partial[0] == current else None
                left_at = self._judge_again(current[1], state, horizon, now, counts, begun, ends)
                if left_at is not None:  # time is up inside it
                    partial = (current, left_at)
                    break
                after, partial = current, None
                taken += 1
            done = taken == len(pending)
            state = dataclasses.replace(
                state,
                after=after,
                partial=partial,
                judged=state.judged + counts["judged"],
                opened=state.opened + counts["opened"],
                resolved=state.resolved + counts["resolved"],
                redrawn=state.redrawn + counts["redrawn"],
                kept=state.kept + counts["kept"],
                done=done,
            )
            self._store.set_setting(CATCH_UP_SETTING, state.to_json())
        del pending[len(pending) - taken :]
        self._catch_up = state
        return state

    def _judge_again(
        self,
        volume_id: str,
        state: CatchUp,
        horizon: float,
        now: float,
        counts: dict[str, int],
        begun: str | None = None,
        ends: float = math.inf,
    ) -> str | None:
        """Judge again, under the rules in force, each pair of kinds ``state`` changed
        between a volume and those before it in the catch-up's order (:func:`turn`, as
        the index has their windows now): close the open conflicts no longer found
        (unless expired), draw again those kept (where their horizontal minimum changed,
        or all with ``redraw_all``), open the new ones. Pairs are taken in the order of
        the other volume's id, those up to ``begun`` (judged by an earlier slice) left
        out; once ``time.monotonic()`` passes ``ends``, after one pair at least, the
        rest is left, and the id of the last partner judged returned (None: all done)."""
        if volume_id not in self._index:
            counts["judged"] += 1
            return None  # its filing was cancelled, or replaced without it, since
        changed = state.changed
        mine = turn(self._index.start_of(volume_id), volume_id)

        def now_is_its_turn(other: str) -> bool:
            # at the turn of the later volume: the earliest the pair's conflict can begin
            # (a volume no longer held has no turn of its own)
            return other not in self._index or turn(self._index.start_of(other), other) < mine

        # each open conflict judged by the kinds it was stored with, or by the pair's
        # kinds now, as the index's check below judges the pair: a conflict kept as it
        # was (its other side over) keeps the kinds of its opening, which may not be
        # this volume's now (a reviewer: by this volume's partners alone, one was left
        # open for good); by its opening's kinds alone, a volume over, its kind
        # corrected, and back in play had its old conflict left open beside a new one,
        # or open for good where the pair no longer met (another reviewer). So every
        # open conflict's kinds are read: read by the other side's stored kind, which
        # may be a kind no volume holds now, a pair was still opened twice at one of
        # its volumes' turns (a third reviewer)
        volume = self._index.get(volume_id)
        chosen: list[int] = []
        for sides in self._store.open_conflict_sides_of_volume(volume_id):
            other = sides.volume_b if sides.volume_a == volume_id else sides.volume_a
            judged_here = kind_pair(sides.kind_a, sides.kind_b) in changed or (
                other in self._index
                and kind_pair(volume.kind, self._index.kind_of(other)) in changed
            )
            if judged_here and now_is_its_turn(other):
                chosen.append(sides.id)  # (others: same minimums, or a later turn's)
        # the regions (megabytes on a large footprint) read only for the conflicts chosen
        standing: dict[str, ConflictRecord] = {}
        for conflict in self._store.get_conflicts(chosen):
            other = conflict.volume_b if conflict.volume_a == volume_id else conflict.volume_a
            standing[other] = conflict
        partners = {y if x == volume.kind else x for x, y in changed if volume.kind in (x, y)}
        found: dict[str, Conflict] = {}
        for judged in self._index.check(volume, horizon, kinds=partners):
            other = judged.b if judged.a == volume_id else judged.a
            kinds = kind_pair(judged.volume_a.kind, judged.volume_b.kind)
            if kinds in changed and now_is_its_turn(other):
                found[other] = judged  # a later volume's turn judges the others
        last: str | None = None  # the last partner judged in this call
        for other in sorted(standing.keys() | found.keys()):
            if begun is not None and other <= begun:
                continue
            if last is not None and time.monotonic() >= ends:
                return last
            stood, judged_now = standing.get(other), found.get(other)
            if stood is not None and judged_now is not None:
                counts["kept"] += 1
                redraw = redrawn_by(state, stood, judged_now)
                refreshed = self._refresh(stood, judged_now, now, redraw=redraw)
                counts["redrawn"] += refreshed is not stood
            elif stood is not None:
                if not self._expired(stood, horizon):  # an expired one stays as it was
                    self._close(stood, "resolved", now)
                    counts["resolved"] += 1
            elif judged_now is not None and not self._judged_since(state, judged_now):
                first, second = self._index.get(judged_now.a), self._index.get(judged_now.b)
                self._store_conflict(first, second, judged_now, now)
                counts["opened"] += 1
            last = other
        counts["judged"] += 1
        return None

    def _judged_since(self, state: CatchUp, pair: Conflict) -> bool:
        """Whether either volume of a pair had its present form judged under the change
        of rules being caught up, or a later one (schema 13): added to its filing, or
        changed while it counted, after the rules were set. Its own change judged it
        under them against everything that counted then, so a pair it did not meet did
        not meet, or its other side was already over. Opened by the catch-up, which
        judges with the horizon of the moment the rules were set, it was a conflict
        already over, or one that never was, told to both sides: a volume filed over
        during a catch-up, stored without a check, got one (a reviewer), and so did one
        filed, or moved, beside a volume that had ended since (reviewers).

        A volume whose form was there when the rules were set is judged as before, as
        it is now (an operation that says during the catch-up that it ended early keeps
        the conflict the new rules give what it did: a second reviewer). Told apart by
        a count, not by the clock: one started again at an earlier instant
        (``--clock-start``) made volumes filed long before read as filed after (the
        second reviewer)."""
        change = state.change
        if change is None:
            return False
        for volume_id in (pair.a, pair.b):
            judged = self._store.judged_under(volume_id)
            if judged is not None and judged >= change:
                return True
        return False
