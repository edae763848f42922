"""New rules take effect at once; the pairs filed before them are judged again in
slices between other changes (the catch-up), and a restart goes on with it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from samples import sample_morning
from tansiq.scenario.model import SeparationRule
from tansiq.service import parties
from tansiq.service.theater import RulesOutcome, Theater
from tansiq.store import SqliteStore

BASE = [SeparationRule(("*", "*"), horizontal_m=100.0)]
#: convoys and patrols kept 800 m apart
WIDER = [*BASE, SeparationRule(("convoy", "patrol"), horizontal_m=800.0)]
#: the same for convoys and patrols, and convoys kept 300 m apart
CONVOYS_TOO = [*WIDER, SeparationRule(("convoy", "convoy"), horizontal_m=300.0)]
PAIRS = 3


def feature(fid: str, lon: float, kind: str) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
        "properties": {
            "kind": kind, "radius_m": 100.0,
            "start": "2017-09-16T06:00:00Z", "end": "2017-09-16T18:00:00Z",
        },
    }  # fmt: skip


def body(*features: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


class Theaters:
    """A store with red's convoys and blue's patrols filed pairwise 28 m apart (a
    conflict each under 100 m), far from one another, under :data:`BASE`."""

    def __init__(self, path: Path) -> None:
        self.store = SqliteStore(path)
        self.red = parties.add_party(self.store, "red", "Red", "en")[0]
        self.blue = parties.add_party(self.store, "blue", "Blue", "en")[0]
        self.coordinator = parties.add_party(self.store, "un", "UN", "en", "coordinator")[0]
        self.theater = self.open()
        self.theater.set_rules(self.coordinator, BASE)
        convoys = [feature(f"c{k}", 40.0 + 0.05 * k, "convoy") for k in range(PAIRS)]
        # 0.0025° of longitude at 35° N is 228 m: the discs are 28 m apart
        patrols = [feature(f"p{k}", 40.0025 + 0.05 * k, "patrol") for k in range(PAIRS)]
        self.theater.file(self.red, "operation", body(*convoys))
        self.theater.file(self.blue, "operation", body(*patrols))
        assert len(self.open_conflicts()) == PAIRS

    def open(self) -> Theater:
        return Theater(self.store, clock=sample_morning())

    def sliced(self) -> None:
        """Judge one volume a slice, and only when asked (:meth:`Theater.catch_up`)."""
        self.theater.catch_up_in_background = False
        self.theater.catch_up_slice_s = 0.0  # a volume a slice

    def open_conflicts(self) -> dict[tuple[str, ...], tuple[Any, ...]]:
        """What each open conflict says, by its parties and their features' ids (the
        filings' ids differ from store to store)."""
        said: dict[tuple[str, ...], tuple[Any, ...]] = {}
        for c in self.store.open_conflicts():
            a, b = c.volume_a.split("/")[1], c.volume_b.split("/")[1]
            said[(c.party_a, a, c.party_b, b)] = (
                c.horizontal_distance_m, c.window_start, c.window_end, c.region_a, c.region_b,
            )  # fmt: skip
        return said


@pytest.fixture
def at_once(tmp_path: Path) -> Theaters:
    return Theaters(tmp_path / "at-once.db")


@pytest.fixture
def sliced(tmp_path: Path) -> Theaters:
    return Theaters(tmp_path / "sliced.db")


def test_filings_during_a_catch_up_are_accepted_and_judged_under_the_new_rules(
    sliced: Theaters,
) -> None:
    """The rules hold from the moment they are set: a filing made while the pairs
    filed before are still being judged again is checked under them, not refused."""
    sliced.sliced()
    before = sliced.open_conflicts()
    done = sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    assert not done.done and done.judged == 1 and done.volumes == 2 * PAIRS
    # 500 m east of the last patrol: 300 m from it, a conflict only under WIDER
    near = feature("late", 40.0025 + 0.05 * (PAIRS - 1) + 0.0055, "convoy")
    outcome = sliced.theater.file(sliced.red, "operation", body(near))
    assert [c.party_b for c in outcome.conflicts] == ["blue"]
    # the pairs not judged again yet still say what the old rules drew
    now = sliced.open_conflicts()
    assert sum(now.get(key) == said for key, said in before.items()) >= PAIRS - 1
    finished = sliced.theater.catch_up()
    assert finished.done and finished.judged == finished.volumes == 2 * PAIRS
    assert sliced.theater.rules_outcome == finished
    after = sliced.open_conflicts()
    assert all(after[key] != said for key, said in before.items())  # all drawn 800 m wide


def test_a_change_of_rules_during_another_catch_up_draws_again_what_it_had_not_reached(
    at_once: Theaters, sliced: Theaters
) -> None:
    """Pairs the first change had not reached were drawn under the rules before it;
    the second change leaves convoys and patrols as the first set them, and must
    still draw them again (a mutation deciding by the first change's minimums alone
    left them drawn 100 m wide)."""
    at_once.theater.set_rules(at_once.coordinator, CONVOYS_TOO)
    sliced.sliced()
    sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    second = sliced.theater.set_rules(sliced.coordinator, CONVOYS_TOO, wait_s=0.0)
    assert not second.done
    assert second.kinds == (("convoy", "convoy"), ("convoy", "patrol"))  # both changes'
    sliced.theater.catch_up()
    assert sliced.open_conflicts() == at_once.open_conflicts()


def test_a_catch_up_stopped_by_a_restart_goes_on_where_its_last_slice_ended(
    at_once: Theaters, sliced: Theaters
) -> None:
    """What a slice did and how far it got are committed together: the theater opened
    again goes on from there, in a thread of its own, judging no pair twice."""
    done = at_once.theater.set_rules(at_once.coordinator, WIDER)
    assert (done.opened, done.resolved, done.changed, done.kept) == (0, 0, PAIRS, PAIRS)
    sliced.sliced()
    first = sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    assert first.judged == 1 and not first.done
    sliced.theater.close()
    commit = sliced.store.commit

    def slow_commit() -> None:  # a slow disk: the outcome must wait for the writes
        time.sleep(0.05)
        commit()

    sliced.store.commit = slow_commit  # type: ignore[method-assign]
    again = sliced.open()  # it goes on by itself
    outcome = _caught_up(again)
    assert outcome == RulesOutcome(
        kinds=(("convoy", "patrol"),), opened=0, resolved=0, changed=PAIRS, kept=PAIRS,
        volumes=2 * PAIRS, judged=2 * PAIRS, done=True,
    )  # fmt: skip
    assert sliced.open_conflicts() == at_once.open_conflicts()
    assert again.rules == tuple(WIDER)
    again.close()
    # and a theater opened on a store whose catch-up is over starts nothing
    third = sliced.open()
    assert third._catching_up is None and third.rules_outcome == outcome
    third.close()


def _caught_up(theater: Theater, within_s: float = 30.0) -> RulesOutcome:
    """The last change of rules' outcome once its catch-up is over."""
    ends = time.monotonic() + within_s
    while time.monotonic() < ends:
        outcome = theater.rules_outcome
        if outcome is not None and outcome.done:
            return outcome
        time.sleep(0.02)
    raise AssertionError(f"not caught up in {within_s} s: {theater.rules_outcome}")


def test_a_party_is_told_what_the_catch_up_changed(sliced: Theaters) -> None:
    """Each conflict drawn again is told to both sides, once, in the order its slices
    committed."""
    told: list[tuple[str, str]] = []
    sliced.theater.subscribe(lambda events: told.extend((e.party_id, e.kind) for e in events))
    sliced.sliced()
    sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    sliced.theater.catch_up()
    assert sorted(told) == sorted(
        [("red", "conflict.changed"), ("blue", "conflict.changed")] * PAIRS
    )

