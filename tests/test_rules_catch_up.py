"""New rules take effect at once; the pairs filed before them are judged again in
slices between other changes (the catch-up), and a restart goes on with it."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tansiq.errors import InputProblems, KeyReused
from tansiq.scenario import reader
from tansiq.scenario.model import SeparationRule
from tansiq.scenario.problems import read_string
from tansiq.service import catch_up, parties
from tansiq.service import rules_change as rules_change_module
from tansiq.service.outcomes import RulesOutcome
from tansiq.service.theater import Theater
from tansiq.store import PartyRecord, SqliteStore

MORNING = 1505520000.0  # 2017-09-16T00:00Z: the volumes are 06:00-18:00
EVENING = MORNING + 19 * 3600  # 19:00: every volume over an hour ago
BASE = [SeparationRule(("*", "*"), horizontal_m=100.0)]
#: convoys and patrols kept 800 m apart
WIDER = [*BASE, SeparationRule(("convoy", "patrol"), horizontal_m=800.0)]
#: the same for convoys and patrols, and convoys kept 300 m apart
CONVOYS_TOO = [*WIDER, SeparationRule(("convoy", "convoy"), horizontal_m=300.0)]
PAIRS = 3


def feature(fid: str, lon: float, kind: str, start_h: int = 6) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
        "properties": {
            "kind": kind, "radius_m": 100.0,
            "start": f"2017-09-16T{start_h:02d}:00:00Z", "end": "2017-09-16T18:00:00Z",
        },
    }  # fmt: skip


def body(*features: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


class Theaters:
    """A store with red's convoys and blue's patrols filed pairwise 28 m apart (a
    conflict each under 100 m), far from one another, under :data:`BASE`."""

    def __init__(self, path: Path, starts: tuple[int, ...] = (6,) * PAIRS) -> None:
        self.clock = [MORNING]  # moved by the tests
        self.store = SqliteStore(path)
        self.red = parties.add_party(self.store, "red", "Red", "en")[0]
        self.blue = parties.add_party(self.store, "blue", "Blue", "en")[0]
        self.coordinator = parties.add_party(self.store, "un", "UN", "en", "coordinator")[0]
        self.theater = self.open()
        self.theater.set_rules(self.coordinator, BASE)
        convoys = [feature(f"c{k}", 40.0 + 0.05 * k, "convoy", starts[k]) for k in range(PAIRS)]
        # 0.0025° of longitude at 35° N is 228 m: the discs are 28 m apart
        patrols = [
            feature(f"p{k}", 40.0025 + 0.05 * k, "patrol", starts[k]) for k in range(PAIRS)
        ]
        self.theater.file(self.red, "operation", body(*convoys))
        self.theater.file(self.blue, "operation", body(*patrols))
        assert len(self.open_conflicts()) == PAIRS

    def open(self) -> Theater:
        return Theater(self.store, clock=lambda: self.clock[0])

    def sliced(self) -> None:
        """Judge one volume a slice, and only when asked (:meth:`Theater.catch_up`)."""
        self.theater.catch_up_in_background = False
        self.theater.catch_up_slice_s = 0.0  # a volume a slice

    def open_conflicts(self) -> dict[tuple[str, ...], tuple[Any, ...]]:
        """What each open conflict says, by its parties and their features' ids (the
        filings' ids differ from store to store)."""
        said: dict[tuple[str, ...], tuple[Any, ...]] = {}
        for c in self.store.open_conflicts():
            # each side by its party and feature (which side is a follows the ids)
            sides = sorted(
                [(c.party_a, c.volume_a.split("/")[1], c.region_a),
                 (c.party_b, c.volume_b.split("/")[1], c.region_b)]
            )  # fmt: skip
            (party_a, a, region_a), (party_b, b, region_b) = sides
            said[(party_a, a, party_b, b)] = (
                c.horizontal_distance_m, c.window_start, c.window_end, region_a, region_b,
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



@pytest.mark.parametrize("sliced", [False, True], ids=["at once", "caught up"])
def test_pairs_over_before_their_turn_come_out_as_they_would_have_at_once(
    tmp_path: Path, sliced: bool
) -> None:
    """Judged against what counted when the rules were set: at 1M a catch-up takes tens
    of minutes, and operations end meanwhile. A 10 m minimum resolves the 28 m pairs
    whether or not they are over by their turn (a reviewer found those over left open
    under the old rules for good)."""
    theaters = Theaters(tmp_path / "x.db")
    if sliced:
        theaters.sliced()
    narrow = [SeparationRule(("*", "*"), horizontal_m=10.0)]
    theaters.theater.set_rules(theaters.coordinator, narrow, wait_s=0.0 if sliced else math.inf)
    theaters.clock[0] = EVENING
    theaters.theater.catch_up()
    assert theaters.open_conflicts() == {}


@pytest.mark.parametrize("sliced", [False, True], ids=["at once", "caught up"])
def test_conflicts_new_rules_make_are_opened_though_a_side_is_over_by_their_turn(
    tmp_path: Path, sliced: bool
) -> None:
    """Convoys and patrols 300 m apart: none under 100 m, one a pair under 800 m, opened
    whether or not they are over by their turn (a reviewer found them never opened)."""
    theaters = Theaters(tmp_path / "y.db")
    far = [feature(f"fc{k}", 41.0 + 0.05 * k, "convoy") for k in range(PAIRS)]
    near = [feature(f"fp{k}", 41.0055 + 0.05 * k, "patrol") for k in range(PAIRS)]
    theaters.theater.file(theaters.red, "operation", body(*far))
    theaters.theater.file(theaters.blue, "operation", body(*near))
    if sliced:
        theaters.sliced()
    theaters.theater.set_rules(theaters.coordinator, WIDER, wait_s=0.0 if sliced else math.inf)
    theaters.clock[0] = EVENING
    theaters.theater.catch_up()
    assert len([key for key in theaters.open_conflicts() if key[1].startswith("f")]) == PAIRS


def test_what_happens_soonest_is_judged_again_first(tmp_path: Path) -> None:
    """The catch-up takes volumes by the start of their windows, and judges a pair at
    the turn of its later volume: the pair starting at 07:00 is drawn under the new
    rules first, at the turn of its second volume, then the one starting at 08:00."""
    theaters = Theaters(tmp_path / "soon.db", starts=(9, 8, 7))
    theaters.sliced()
    before = theaters.open_conflicts()

    def drawn_again() -> list[str]:
        now = theaters.open_conflicts()
        return sorted(key[1] for key, said in now.items() if said != before[key])

    theaters.theater.set_rules(theaters.coordinator, WIDER, wait_s=0.0)  # one volume
    assert drawn_again() == []  # the first of the 07:00 pair: it has none before it
    theaters.theater.catch_up(until=0.0)
    assert drawn_again() == ["p2"]
    theaters.theater.catch_up(until=0.0)
    theaters.theater.catch_up(until=0.0)
    assert drawn_again() == ["p1", "p2"]


def test_a_pair_is_judged_again_at_the_turn_of_its_later_volume(sliced: Theaters) -> None:
    """Each side has a volume starting at 06:00 whose partner starts at 09:00: after
    the 06:00 volumes' turns nothing is drawn again, whichever party's ids come first
    (by ids alone, one of the pairs would have been)."""
    early = [feature("x6", 42.0, "convoy"), feature("y9", 42.2025, "patrol", 9)]
    late = [feature("x9", 42.0025, "patrol", 9), feature("y6", 42.2, "convoy")]
    sliced.theater.file(sliced.red, "operation", body(*early))
    sliced.theater.file(sliced.blue, "operation", body(*late))
    sliced.sliced()
    before = sliced.open_conflicts()

    def drawn_again() -> list[str]:
        now = sliced.open_conflicts()
        return sorted(
            "".join(sorted((key[1], key[3]))) for key, said in now.items() if said != before[key]
        )

    sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    for _ in range(2 * PAIRS + 1):  # the 06:00 volumes: the first pairs', x6 and y6
        sliced.theater.catch_up(until=0.0)
    assert all(pair.startswith("c") for pair in drawn_again())
    sliced.theater.catch_up()
    assert [pair for pair in drawn_again() if not pair.startswith("c")] == ["x6x9", "y6y9"]


def test_rules_in_force_are_not_answered_as_failed_when_their_catch_up_is_held_up(
    sliced: Theaters,
) -> None:
    """Once its rules are committed, a change is not answered "nothing was done": here
    its catch-up meets the next change's index holding the theater past the busy limit
    (a reviewer's probe got TheaterBusy). The rest is left to the theater's thread."""
    theater = sliced.theater
    theater.busy_wait_s, theater.catch_up_slice_s = 0.2, 0.0
    theater.catch_up_in_background = False
    judge = theater._judge_again

    def slow(*args: Any, **kwargs: Any) -> None:  # a large theater: many slices
        time.sleep(0.1)
        judge(*args, **kwargs)

    theater._judge_again = slow  # type: ignore[method-assign]
    made = theater._index_brought_up_to_date
    indexes: list[object] = []

    def held(*args: Any) -> Any:
        indexes.append(args)
        if len(indexes) == 2:
            time.sleep(1.0)  # the second change holding the theater past the busy limit
        return made(*args)

    theater._index_brought_up_to_date = held  # type: ignore[method-assign, assignment]
    answers: list[object] = []

    def first() -> None:
        try:
            answers.append(theater.set_rules(sliced.coordinator, WIDER))
        except Exception as exc:
            answers.append(exc)

    setting = threading.Thread(target=first)
    setting.start()
    while not indexes:
        time.sleep(0.01)
    time.sleep(0.15)  # the first change's rules committed; it is catching up
    theater.set_rules(sliced.coordinator, CONVOYS_TOO, wait_s=0.0)
    setting.join(30)
    (answer,) = answers
    assert isinstance(answer, RulesOutcome) and not answer.done


def test_a_change_of_rules_as_the_last_catch_up_ends_still_gets_a_thread(
    sliced: Theaters, at_once: Theaters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread that ended the last catch-up is held in its last line when the next
    change looks for one: it must go on with that change (a reviewer's probe found no
    thread started, and the catch-up stopped until a restart)."""
    theater = sliced.theater
    theater.catch_up_slice_s = 0.0
    leaving, release = threading.Event(), threading.Event()
    said = rules_change_module._log.info

    def held(message: str, *args: Any) -> None:
        if message.startswith("new rules: every pair judged again"):
            leaving.set()
            release.wait(5)
        said(message, *args)

    monkeypatch.setattr(rules_change_module._log, "info", held)
    theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)  # its thread ends it
    assert leaving.wait(5)
    theater.set_rules(sliced.coordinator, BASE, wait_s=0.0)
    release.set()
    assert _caught_up(theater).kinds == (("convoy", "patrol"),)
    assert sliced.open_conflicts() == at_once.open_conflicts()  # as BASE left them


def test_changes_made_while_the_new_index_is_made_are_in_it(
    at_once: Theaters, sliced: Theaters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index for new rules is made from the store while filings go on under the rules
    before (not held back for the 7-9 s it takes at 1M); what they change is then brought
    into it. Here a filing and a replacement made meanwhile end as they would have had
    they been made before the rules (by the index as it was, the moved patrol would have
    been judged where it stood)."""
    late = feature("late", 40.0025 + 0.05 * (PAIRS - 1) + 0.0055, "convoy")
    patrols = [feature(f"p{k}", 40.0025 + 0.05 * k, "patrol") for k in range(PAIRS)]
    patrols[0] = feature("p0", 40.008, "patrol")  # 300 m further east: only under WIDER

    def changes(theaters: Theaters) -> None:
        theaters.theater.file(theaters.red, "operation", body(late))
        (mine,) = [f for f in theaters.store.active_filings() if f.party_id == "blue"]
        theaters.theater.replace(theaters.blue, mine.id, mine.version, body(*patrols))

    changes(at_once)
    at_once.theater.set_rules(at_once.coordinator, WIDER)
    inside, go_on = threading.Event(), threading.Event()
    made = sliced.theater._rules_index

    def held(rules: Any) -> Any:
        index = made(rules)  # from what the store holds now
        inside.set()
        assert go_on.wait(10)
        return index

    monkeypatch.setattr(sliced.theater, "_rules_index", held)
    setting = threading.Thread(
        target=sliced.theater.set_rules, args=(sliced.coordinator, WIDER), daemon=True
    )
    setting.start()
    assert inside.wait(10)
    changes(sliced)  # not held back: the theater is free while the index is made
    assert sliced.theater.rules == tuple(BASE)
    go_on.set()
    setting.join(10)
    assert sliced.theater.rules_outcome == at_once.theater.rules_outcome
    assert sliced.open_conflicts() == at_once.open_conflicts()


def test_two_changes_of_rules_at_once_end_as_the_last_to_take_effect_says(
    at_once: Theaters, sliced: Theaters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both make their index beside the filings at the same time; the second to take the
    lock finds the index in use replaced by the first's and makes its own there."""
    made = sliced.theater._rules_index
    both = threading.Barrier(2)
    indexes: list[object] = []

    def together(rules: Any) -> Any:
        indexes.append(rules)
        if len(indexes) <= 2:
            both.wait(10)  # both are making an index beside the filings now
        return made(rules)

    monkeypatch.setattr(sliced.theater, "_rules_index", together)
    answers: list[object] = []

    def set_rules(rules: list[SeparationRule]) -> None:
        try:
            answers.append(sliced.theater.set_rules(sliced.coordinator, rules))
        except Exception as exc:
            answers.append(exc)

    setters = [threading.Thread(target=set_rules, args=(r,)) for r in (WIDER, CONVOYS_TOO)]
    for setter in setters:
        setter.start()
    for setter in setters:
        setter.join(30)
    assert len(indexes) == 3  # the second to take the lock made its own again there
    assert [type(answer) for answer in answers] == [RulesOutcome] * 2
    sliced.theater.catch_up()
    last = sliced.theater.rules
    assert last in (tuple(WIDER), tuple(CONVOYS_TOO))
    at_once.theater.set_rules(at_once.coordinator, last)
    assert sliced.open_conflicts() == at_once.open_conflicts()
    # and a filing now is checked under them: 500 m from the last patrol
    near = feature("late", 40.0025 + 0.05 * (PAIRS - 1) + 0.0055, "convoy")
    assert len(sliced.theater.file(sliced.red, "operation", body(near)).conflicts) == 1


def test_a_volume_with_many_pairs_is_judged_over_several_slices_and_a_restart(
    at_once: Theaters, sliced: Theaters
) -> None:
    """A slice may end inside a volume (one of a large footprint has many pairs: slices
    of whole volumes had a p99 of 101.9 ms at 1M); the next slice, or the next theater,
    goes on after the last pair judged, judging none twice."""
    big = feature("big", 40.05, "convoy", 9)  # 09:00: its pairs are judged at its turn
    big["properties"]["radius_m"] = 10_000.0  # type: ignore[index]
    for theaters in (at_once, sliced):
        theaters.theater.file(theaters.red, "operation", body(big))
    done = at_once.theater.set_rules(at_once.coordinator, WIDER)
    sliced.sliced()
    sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0)
    while sliced.theater._catch_up is not None and sliced.theater._catch_up.partial is None:
        sliced.theater.catch_up(until=0.0)
    state = sliced.theater._catch_up
    assert state is not None and state.partial is not None and state.partial[0][1].endswith("big")
    sliced.theater.close()
    again = sliced.open()  # goes on in its thread, after big's last pair judged
    assert _caught_up(again) == done
    assert sliced.open_conflicts() == at_once.open_conflicts()
    again.close()


def test_the_volumes_to_judge_are_listed_beside_the_filings(
    at_once: Theaters, sliced: Theaters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed under the theater's lock, the catch-up's list of volumes in its order
    held every filing back for it (0.55 s at 1M; a filing waited 1.3 s). It is made
    beside them: a filing made while it is being made goes through, and the catch-up
    still comes out as the rules judged at once."""
    sliced.sliced()
    listing, filed = threading.Event(), threading.Event()
    waited: list[bool] = []
    real = catch_up.still_to_judge

    def slow_listing(*args: Any) -> Any:
        listing.set()
        waited.append(filed.wait(10.0))  # the filing below, made meanwhile
        return real(*args)

    monkeypatch.setattr(rules_change_module, "still_to_judge", slow_listing)
    setting = threading.Thread(
        target=sliced.theater.set_rules, args=(sliced.coordinator, WIDER), kwargs={"wait_s": 0.0}
    )
    setting.start()
    assert listing.wait(10.0)
    # 500 m east of the last patrol: a conflict under WIDER only, found by its own change
    near = feature("late", 40.0025 + 0.05 * (PAIRS - 1) + 0.0055, "convoy")
    made = sliced.theater.file(sliced.red, "operation", body(near))
    filed.set()
    setting.join(30.0)
    assert waited == [True]  # the filing did not wait for the list
    assert [c.party_b for c in made.conflicts] == ["blue"]
    assert sliced.theater.catch_up().done
    at_once.theater.set_rules(at_once.coordinator, WIDER)
    at_once.theater.file(at_once.red, "operation", body(near))
    assert sliced.open_conflicts() == at_once.open_conflicts()


def test_a_volumes_open_conflicts_are_read_without_regions_then_by_id(
    sliced: Theaters,
) -> None:
    """The catch-up reads a volume's open conflicts first without their regions
    (megabytes on a large footprint), from either side, then whole only those it
    judges, their ids bound as one value: a variable each passed SQLite's limit."""
    conflict = sliced.store.open_conflicts()[0]
    for volume in (conflict.volume_a, conflict.volume_b):
        sides = sliced.store.open_conflict_sides_of_volume(volume)
        assert [s for s in sides if s.id == conflict.id] == [
            (conflict.id, conflict.volume_a, conflict.volume_b, conflict.kind_a, conflict.kind_b)
        ]
    many = list(range(10**6, 10**6 + 130_000))  # (a variable each: over the limit)
    assert sliced.store.get_conflicts([*many, conflict.id]) == [conflict]
    assert sliced.store.get_conflicts([]) == []


#: a theater in a process of its own, catching up one volume a slice, a slice every
#: 0.3 s, saying how many it has judged after each (the test kills it meanwhile: the
#: three slices left give it 0.9 s to)
CATCHING_UP = """
import sys, time
sys.path.insert(0, sys.argv[2])
from test_rules_catch_up import MORNING, WIDER
from tansiq.service.theater import Theater
from tansiq.store import PartyRecord, SqliteStore
store = SqliteStore(sys.argv[1])
theater = Theater(store, clock=lambda: MORNING)
theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
outcome = theater.set_rules(store.get_party("un"), WIDER, wait_s=0.0)
while True:
    print(outcome.judged, flush=True)
    time.sleep(0.3)
    outcome = theater.catch_up(until=time.monotonic())
"""


def test_a_catch_up_killed_with_sigkill_goes_on_after_a_restart(
    at_once: Theaters, sliced: Theaters
) -> None:
    """The server killed in the middle of a catch-up (no close, no last COMMIT): opened
    again, the theater finds what the committed slices did and how far they got, goes
    on from there, and ends as if the rules had been judged at once."""
    at_once.theater.set_rules(at_once.coordinator, WIDER)
    sliced.theater.close()
    child = subprocess.Popen(
        [sys.executable, "-c", CATCHING_UP, str(sliced.store.path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        said = [int(child.stdout.readline() or -1) for _ in range(3)]
        assert said == [1, 2, 3], child.stderr.read() if child.stderr else said
        child.send_signal(signal.SIGKILL)
        child.wait(10.0)
    finally:
        child.kill()
    killed = sliced.store.get_setting(catch_up.SETTING)
    assert killed is not None and 3 <= json.loads(killed)["judged"] < 2 * PAIRS
    again = sliced.open()  # it goes on by itself
    outcome = _caught_up(again)
    assert outcome.done and outcome.judged == outcome.volumes == 2 * PAIRS
    assert outcome.changed == outcome.kept == PAIRS  # each pair judged once
    assert sliced.open_conflicts() == at_once.open_conflicts()
    again.close()


def _convoy_before_patrol(
    path: Path,
) -> tuple[SqliteStore, Theater, PartyRecord, PartyRecord, str]:
    """Red's convoy at 06:00 28 m from blue's patrol at 07:00; the store, its theater,
    the coordinator, red and the convoy's filing."""
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    un = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=lambda: MORNING)
    theater.set_rules(un, BASE)
    theater.file(blue, "operation", body(feature("p", 40.0025, "patrol", 7)))
    filing = theater.file(red, "operation", body(feature("c", 40.0, "convoy", 6))).filing
    return store, theater, un, red, filing.id


def _regions(store: SqliteStore) -> list[tuple[float, str | None, str | None]]:
    return sorted((c.window_start, c.region_a, c.region_b) for c in store.open_conflicts())


#: the convoy moved to 08:00, its footprint the same
MOVED = body(feature("c", 40.0, "convoy", 8))


@pytest.mark.parametrize("restarted", [False, True])
def test_a_window_moved_past_its_partners_turn_during_a_catch_up_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarted: bool
) -> None:
    """The convoy is judged before the patrol, whose turn judges their pair. Moved to
    08:00, the convoy's turn is now the pair's, and already passed: its replacement,
    judging the pair under the new rules, must draw it again too (it kept the regions
    the old rules drew, for good: a reviewer). So also when the move comes between
    the list's copy and the first slice after a restart."""
    store, theater, un, red, filing_id = _convoy_before_patrol(tmp_path / "at-once.db")
    theater.set_rules(un, WIDER)
    theater.replace(red, filing_id, 1, MOVED)
    at_once = _regions(store)
    theater.close()
    store, theater, un, red, filing_id = _convoy_before_patrol(tmp_path / "sliced.db")
    theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    assert theater.set_rules(un, WIDER, wait_s=0.0).judged == 1  # the convoy
    if restarted:
        theater.close()
        monkeypatch.setattr(Theater, "_catch_up_in_background", lambda self: None)
        theater = Theater(store, clock=lambda: MORNING)
        theater.catch_up_slice_s = 0.0
        real, reopened = catch_up.still_to_judge, theater

        def moved_meanwhile(*args: Any) -> Any:
            reopened.replace(red, filing_id, 1, MOVED)  # (another thread's, as a rule)
            return real(*args)

        monkeypatch.setattr(rules_change_module, "still_to_judge", moved_meanwhile)
    else:
        theater.replace(red, filing_id, 1, MOVED)
    assert theater.catch_up().done
    assert len(at_once) == 1 and _regions(store) == at_once
    theater.close()


def _lenient_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """File as before 2026-12-02, when ids and kinds were not held to names."""
    monkeypatch.setattr(
        reader, "read_name", lambda value, member, problems: read_string(
            value, member, problems, non_empty=True
        ),
    )  # fmt: skip


def _red_blue_un(path: Path) -> tuple[SqliteStore, PartyRecord, PartyRecord, PartyRecord]:
    store = SqliteStore(path)
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "en")[0]
    un = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    return store, red, blue, un


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16le", "UTF-16be"])
def test_a_kind_filed_with_a_nul_before_names_were_checked_is_judged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """SQLite's json_each cuts a text at a NUL: a pair whose kind held one was not seen
    standing, and the catch-up opened a second conflict for it (a reviewer). So too
    in a file of another text encoding (made by another tool), where kinds spelt in
    UTF-8 matched nothing (a third reviewer)."""
    import sqlite3

    path = tmp_path / "t.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(f"PRAGMA encoding = '{encoding}'; CREATE TABLE x (a); DROP TABLE x;")
    store, red, blue, un = _red_blue_un(path)
    theater = Theater(store, clock=lambda: MORNING)
    theater.set_rules(un, BASE)
    _lenient_names(monkeypatch)
    theater.file(red, "operation", body(feature("v", 40.0, "convoy", 7)))
    theater.file(blue, "operation", body(feature("w", 40.0025, "pat\x00rol")))
    monkeypatch.undo()
    (before,) = store.open_conflicts()
    assert theater.set_rules(un, [SeparationRule(("*", "*"), horizontal_m=800.0)]).done
    assert [(c.id, {c.kind_a, c.kind_b}) for c in store.open_conflicts()] == [
        (before.id, {"convoy", "pat\x00rol"})
    ]
    theater.close()


def _kind_changed_after_its_partner_ended(path: Path, sliced: bool) -> list[tuple[Any, ...]]:
    """Convoy and patrol 456 m apart (a conflict under WIDER only); BASE set at 07:30;
    the patrol over at 08:00; at 09:00 the convoy becomes a truck, its conflict kept
    as it was (its other side over), with the kinds of its opening. What stays open."""
    clock = [MORNING]
    store, red, blue, un = _red_blue_un(path)
    theater = Theater(store, clock=lambda: clock[0])
    theater.set_rules(un, WIDER)
    patrol = feature("w", 40.005, "patrol")
    patrol["properties"]["end"] = "2017-09-16T08:00:00Z"  # type: ignore[index]
    theater.file(blue, "operation", body(patrol))
    filing = theater.file(red, "operation", body(feature("v", 40.0, "convoy", 7))).filing
    assert len(store.open_conflicts()) == 1
    if sliced:
        theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    clock[0] = MORNING + 7.5 * 3600
    theater.set_rules(un, BASE, wait_s=0.0 if sliced else math.inf)
    clock[0] = MORNING + 9 * 3600
    theater.replace(red, filing.id, 1, body(feature("v", 40.0, "truck", 7)))
    assert theater.catch_up().done
    theater.close()
    return [(c.kind_a, c.kind_b, c.state) for c in store.open_conflicts()]


def test_a_conflict_kept_with_the_kinds_of_its_opening_is_judged_as_at_once(
    tmp_path: Path,
) -> None:
    """Read by the other volume's kind against this volume's kind now, the catch-up
    missed the conflict whose kinds were those of its opening, and left it open for
    good where the rules judged at once resolve it (a reviewer)."""
    at_once = _kind_changed_after_its_partner_ended(tmp_path / "at-once.db", sliced=False)
    assert at_once == []
    assert _kind_changed_after_its_partner_ended(tmp_path / "sliced.db", sliced=True) == at_once


def test_a_catch_up_of_a_vertical_minimum_draws_nothing_again_on_a_replacement(
    tmp_path: Path,
) -> None:
    """While a change of a vertical minimum alone is caught up, a replacement that
    changes a note keeps its conflict as it is: drawn again, a region stored by an
    older version (here: its ring the other way round) read as a change, version up and
    acknowledgements cleared (a reviewer)."""
    import sqlite3

    store, red, blue, un = _red_blue_un(tmp_path / "t.db")
    theater = Theater(store, clock=lambda: MORNING)
    theater.set_rules(un, BASE)
    theater.file(blue, "operation", body(feature("w", 40.0025, "patrol", 6)))
    convoy = feature("v", 40.0, "convoy", 7)
    filing = theater.file(red, "operation", body(convoy)).filing
    (conflict,) = store.open_conflicts()
    theater.acknowledge(red, conflict.id)
    theater.acknowledge(blue, conflict.id)
    theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    vertical = [*BASE, SeparationRule(("convoy", "patrol"), horizontal_m=100.0, vertical_m=300.0)]
    assert not theater.set_rules(un, vertical, wait_s=0.0).done
    assert conflict.region_a is not None
    drawn = json.loads(conflict.region_a)
    drawn["coordinates"] = [ring[::-1] for ring in drawn["coordinates"]]
    with sqlite3.connect(store.path) as raw:
        raw.execute(
            "UPDATE conflict SET region_a = ? WHERE id = ?", (json.dumps(drawn), conflict.id)
        )
    convoy["properties"]["note"] = "call sign changed"  # type: ignore[index]
    theater.replace(red, filing.id, 1, body(convoy))
    after = store.get_conflict(conflict.id)
    assert after is not None and after.version == conflict.version
    assert after.acked_a_at is not None and after.acked_b_at is not None
    theater.close()


def test_a_conflict_kept_with_its_openings_kinds_is_drawn_again_when_found_again(
    tmp_path: Path,
) -> None:
    """A convoy over at 08:00 becomes a truck at 09:00: its conflict is kept as it was,
    with the kinds (convoy, patrol) and regions of its opening. At 09:30 it runs to
    18:00 and meets the patrol again, now as a truck (800 m): the conflict must be
    drawn again, as a truck filed so from the start is (it kept the 100 m regions:
    a third reviewer)."""
    rules = [*BASE, SeparationRule(("patrol", "truck"), horizontal_m=800.0)]
    said = []
    for stale in (True, False):
        clock = [MORNING + 7 * 3600]
        store, red, blue, un = _red_blue_un(tmp_path / f"{stale}.db")
        theater = Theater(store, clock=lambda: clock[0])  # noqa: B023 (used in the loop)
        theater.set_rules(un, rules)
        theater.file(blue, "operation", body(feature("w", 40.0025, "patrol")))
        truck = feature("v", 40.0, "convoy" if stale else "truck")
        truck["properties"]["end"] = "2017-09-16T08:00:00Z"  # type: ignore[index]
        filing = theater.file(red, "operation", body(truck)).filing
        if stale:
            clock[0] = MORNING + 9 * 3600
            truck["properties"]["kind"] = "truck"  # type: ignore[index]
            filing = theater.replace(red, filing.id, filing.version, body(truck)).filing
            assert [{c.kind_a, c.kind_b} for c in store.open_conflicts()] == [
                {"convoy", "patrol"}
            ]
        clock[0] = MORNING + 9.5 * 3600
        truck["properties"]["end"] = "2017-09-16T18:00:00Z"  # type: ignore[index]
        theater.replace(red, filing.id, filing.version, body(truck))
        (conflict,) = store.open_conflicts()
        said.append(({conflict.kind_a, conflict.kind_b}, {conflict.region_a, conflict.region_b}))
        theater.close()
    assert said[0] == said[1]


def test_a_keyed_filing_made_before_names_were_checked_is_replayed_when_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent again with its Idempotency-Key after the upgrade, a filing accepted with an
    id now refused is answered as the first time, not told it is invalid while the
    operation it made stands (a third reviewer)."""
    store, red, _, _ = _red_blue_un(tmp_path / "t.db")
    theater = Theater(store, clock=lambda: MORNING)
    text = body(feature("route\n2", 40.0, "convoy"))
    _lenient_names(monkeypatch)
    first = theater.file(red, "operation", text, key="k1")
    monkeypatch.undo()
    again = theater.file(red, "operation", text, key="k1")
    assert again.replayed and again.filing.id == first.filing.id
    with pytest.raises(InputProblems):  # without its key, or with another, it is refused
        theater.file(red, "operation", text, key="k2")
    assert [f.id for f in store.active_filings()] == [first.filing.id]
    theater.close()


def test_a_refused_body_with_the_key_of_a_filing_not_yet_durable_waits_for_it(
    tmp_path: Path,
) -> None:
    """The key of a refused body is looked up as a change looks it up: with a first
    filing under that key still waiting for its COMMIT, the answer is the key's reuse
    once it is durable, not the body's problems (a fourth reviewer)."""
    store, red, _, _ = _red_blue_un(tmp_path / "t.db")
    theater = Theater(store, clock=lambda: MORNING)
    commit, committing = store.commit, threading.Event()

    def slow_commit() -> None:  # a slow disk
        committing.set()
        time.sleep(0.5)
        commit()

    store.commit = slow_commit  # type: ignore[method-assign]
    first = threading.Thread(
        target=theater.file,
        args=(red, "operation", body(feature("v", 40.0, "convoy"))),
        kwargs={"key": "k1"},
    )
    first.start()
    assert committing.wait(10.0)
    with pytest.raises(KeyReused):
        theater.file(red, "operation", body(feature("v\n", 40.0, "convoy")), key="k1")
    first.join(10.0)
    assert len(store.active_filings()) == 1
    theater.close()


def test_new_rules_while_a_catch_up_runs_over_a_kind_no_longer_held(sliced: Theaters) -> None:
    """The running catch-up judges convoys and patrols; blue's patrols are all cancelled;
    a change of rules for convoys then failed with a KeyError on "patrol" (a reviewer):
    the coordinator was answered 500 and the rules stayed as they were."""
    sliced.sliced()
    assert not sliced.theater.set_rules(sliced.coordinator, WIDER, wait_s=0.0).done
    (patrols,) = sliced.store.filings_of_party("blue", "operation")
    sliced.theater.cancel(sliced.blue, patrols.id, 1)
    done = sliced.theater.set_rules(sliced.coordinator, CONVOYS_TOO, wait_s=0.0)
    assert tuple(sliced.theater.rules) == tuple(CONVOYS_TOO)
    assert done.volumes == PAIRS  # the convoys: no patrol is held
    while not sliced.theater.catch_up().done:
        pass
    assert sliced.open_conflicts() == {}


@pytest.mark.parametrize("moved", [False, True], ids=["kept in place", "moved away"])
@pytest.mark.parametrize("later", ["red", "blue"], ids=["red's turn", "blue's turn"])
def test_a_volume_over_and_corrected_counts_again_with_one_conflict_at_most(
    tmp_path: Path, moved: bool, later: str
) -> None:
    """Red's convoy until 07:00 meets blue's patrol until 18:00. At 08:00 red's volume
    is over, and red corrects its kind to artillery (and, moved away, its place): the
    conflict stays as it was, a convoy's. A rule of 90 minutes between any kinds then
    brings red's volume back into play: the catch-up judged the pair by its opening's
    kinds, no longer held, and opened a second conflict beside the first, or, the
    volumes now apart, left the first open for good (a reviewer). The pair is judged
    at the turn of the volume that starts later: each side's, in turn."""
    clock = [MORNING]
    store, red, blue, coordinator = _red_blue_un(tmp_path / "tansiq.db")
    theater = Theater(store, clock=lambda: clock[0])
    red_start, blue_start = (6, 5) if later == "red" else (5, 6)

    def convoy(kind: str, lon: float) -> str:
        one = feature("c", lon, kind, red_start)
        one["properties"] = {**one["properties"], "end": "2017-09-16T07:00:00Z"}  # type: ignore[dict-item]
        return body(one)

    filed = theater.file(red, "operation", convoy("convoy", 40.0))
    patrol = body(feature("p", 40.001, "patrol", blue_start))
    (opened,) = theater.file(blue, "operation", patrol).conflicts
    clock[0] = MORNING + 8 * 3600
    corrected = convoy("artillery", 40.1 if moved else 40.0)
    (kept,) = theater.replace(red, filed.filing.id, 1, corrected).conflicts
    assert (kept.id, kept.kind_a, kept.kind_b) == (opened.id, opened.kind_a, opened.kind_b)
    done = theater.set_rules(coordinator, [SeparationRule(("*", "*"), time_s=5400.0)])
    assert done.done
    standing = store.open_conflicts()
    if moved:
        assert standing == []  # 9 km apart: no conflict
        assert store.get_conflict(opened.id).state == "resolved"  # type: ignore[union-attr]
    else:
        (one,) = standing  # one, not two
        assert {one.kind_a, one.kind_b} == {"artillery", "patrol"}


@pytest.mark.parametrize("blue_start", [5, 7], ids=["red's turn", "blue's turn"])
@pytest.mark.parametrize("at_once", [True, False], ids=["at once", "sliced"])
def test_a_volume_back_in_play_with_a_new_kind_keeps_one_conflict(
    tmp_path: Path, blue_start: int, at_once: bool
) -> None:
    """Red's convoy (06:00-18:00) met blue's artillery (05:00-07:00). At 08:00, blue's
    over, blue makes it a patrol 330 m away, back in play: the conflict is kept as it
    was, an artillery's. Convoys and patrols then kept 800 m apart, the pair conflicts
    under its kinds now. At red's turn, its conflicts were read by the other side's
    stored kind (artillery, not a kind changed), and a second was opened beside the
    first (a third reviewer)."""
    clock = [MORNING]
    store, red, blue, coordinator = _red_blue_un(tmp_path / "tansiq.db")
    theater = Theater(store, clock=lambda: clock[0])
    theater.set_rules(coordinator, BASE)

    def blues(kind: str, lon: float, start_h: int, end: str) -> str:
        one = feature("b", lon, kind, start_h)
        one["properties"] = {**one["properties"], "end": f"2017-09-16T{end}:00Z"}  # type: ignore[dict-item]
        return body(one)

    theater.file(red, "operation", body(feature("c", 40.0, "convoy")))
    filed = theater.file(blue, "operation", blues("artillery", 40.0025, 5, "07:00"))
    (opened,) = filed.conflicts
    clock[0] = MORNING + 8 * 3600
    corrected = blues("patrol", 40.0058, blue_start, "18:00")
    (kept,) = theater.replace(blue, filed.filing.id, 1, corrected).conflicts
    assert (kept.id, kept.kind_a, kept.kind_b) == (opened.id, opened.kind_a, opened.kind_b)
    if not at_once:
        theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    done = theater.set_rules(coordinator, WIDER, wait_s=math.inf if at_once else 0.0)
    while not done.done:
        done = theater.catch_up()
    (one,) = store.open_conflicts()  # one, not two
    assert {one.kind_a, one.kind_b} == {"convoy", "patrol"}


@pytest.mark.parametrize("restarted", ["no", "restarted", "saved before schema 13"])
@pytest.mark.parametrize("end", ["11:00", "23:00"])
def test_a_volume_filed_during_a_catch_up_gets_no_conflict_already_over_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: str, restarted: str
) -> None:
    """The rules set at 10:00, their catch-up judging one volume; at 20:00 red files a
    convoy from 06:00 beside the last patrol (09:00-18:00), which the catch-up has not
    reached (the first volume judged is the first patrol or the first convoy). Ending
    at 11:00, the convoy is over when filed and stored without a check; ending at
    23:00, it is checked against what counts, and the patrol no longer does. Either
    way, filed after the catch-up it gets no conflict: judging the patrol with the
    horizon of 10:00, the catch-up opened one that had ended two hours before or
    more, and told both sides of it (a reviewer found the first). So too after a
    restart, and after one that upgraded a catch-up saved without the change of rules
    it catches up (a second reviewer)."""
    outcomes = []
    for sliced in (False, True):
        theaters = Theaters(tmp_path / f"{sliced}.db", starts=(9,) * PAIRS)
        theaters.clock[0] = MORNING + 10 * 3600
        if sliced:
            theaters.sliced()
        theaters.theater.set_rules(
            theaters.coordinator, WIDER, wait_s=0.0 if sliced else math.inf
        )
        theaters.clock[0] = MORNING + 20 * 3600
        past = feature("past", 40.0 + 0.05 * (PAIRS - 1), "convoy")
        past["properties"]["end"] = f"2017-09-16T{end}:00Z"  # type: ignore[index]
        outcome = theaters.theater.file(theaters.red, "operation", body(past))
        assert outcome.conflicts == ()
        if sliced and restarted != "no":
            theaters.theater.close()
            if restarted == "saved before schema 13":
                saved = json.loads(theaters.store.get_setting(catch_up.SETTING) or "")
                del saved["change"]
                with theaters.store.transaction():
                    theaters.store.set_setting(catch_up.SETTING, json.dumps(saved))
                theaters.store.commit()
            monkeypatch.setattr(Theater, "_catch_up_in_background", lambda self: None)
            theaters.theater = theaters.open()
            theaters.theater.catch_up_slice_s = 0.0
        assert theaters.theater.catch_up().done
        outcomes.append(theaters.open_conflicts())
        theaters.theater.close()
    at_once, caught_up = outcomes
    assert not any(key[1] == "past" for key in at_once)
    assert caught_up == at_once


@pytest.mark.parametrize("sliced", [False, True], ids=["at once", "caught up"])
def test_new_rules_judge_the_volumes_filed_before_them_whatever_the_clock_says(
    tmp_path: Path, sliced: bool
) -> None:
    """Red's convoy and blue's patrol, 320 m apart, filed at 02:00; the server started
    again with its clock at 01:00 (`--clock-start` replays from one instant; a wall
    clock can be stepped back). Under WIDER they conflict: told apart from the volumes
    filed after the rules by the clock, the catch-up left that live conflict unopened,
    judged at once or not (a second reviewer)."""
    store, red, blue, un = _red_blue_un(tmp_path / "t.db")
    clock = [MORNING + 2 * 3600]
    theater = Theater(store, clock=lambda: clock[0])
    theater.set_rules(un, BASE)
    theater.file(red, "operation", body(feature("c", 40.0, "convoy")))
    theater.file(blue, "operation", body(feature("p", 40.0035, "patrol")))
    assert store.open_conflicts() == []
    theater.close()
    clock[0] = MORNING + 3600
    theater = Theater(store, clock=lambda: clock[0])
    if sliced:
        theater.catch_up_in_background, theater.catch_up_slice_s = False, 0.0
    theater.set_rules(un, WIDER, wait_s=0.0 if sliced else math.inf)
    assert theater.catch_up().done
    assert [{c.kind_a, c.kind_b} for c in store.open_conflicts()] == [{"convoy", "patrol"}]
    theater.close()


def test_an_operation_saying_during_a_catch_up_it_ended_early_keeps_its_conflict(
    at_once: Theaters, sliced: Theaters
) -> None:
    """Blue's patrol q, 320 m from red's last convoy, meets it under WIDER only, set at
    05:00; at 09:00 red says that convoy ended at 07:00. They did meet under the new
    rules, 06:00-07:00: judged at once, that conflict is opened and kept; caught up, it
    was never opened, the convoy's ending taken for a filing judged under the new rules
    (a second reviewer)."""
    outcomes = []
    for theaters in (at_once, sliced):
        q = feature("q", 40.0 + 0.05 * (PAIRS - 1) - 0.0035, "patrol")
        theaters.theater.file(theaters.blue, "operation", body(q))
        theaters.clock[0] = MORNING + 5 * 3600
        _wider_then_nine(theaters, sliced=theaters is sliced)
        convoys = [feature(f"c{k}", 40.0 + 0.05 * k, "convoy") for k in range(PAIRS)]
        convoys[-1]["properties"]["end"] = "2017-09-16T07:00:00Z"  # type: ignore[index]
        _red_replaced_and_caught_up(theaters, convoys)
        outcomes.append(
            {key: said[1:3] for key, said in theaters.open_conflicts().items() if "q" in key}
        )
    met = (MORNING + 6 * 3600, MORNING + 7 * 3600)
    assert outcomes[0] == {("blue", "q", "red", f"c{PAIRS - 1}"): met}
    assert outcomes[1] == outcomes[0]


def test_a_volume_moved_during_a_catch_up_beside_one_ended_gets_no_conflict_from_it(
    at_once: Theaters, sliced: Theaters
) -> None:
    """Blue's patrol y counts when WIDER is set at 07:00 and ends at 08:00; at 09:00
    red moves its last convoy, there when the rules were set, to 320 m of it. Its
    replacement finds nothing (y is over), nor does judging at once; the catch-up,
    judging with the horizon of 07:00, opened a conflict that never was, and told
    both sides of it (a second reviewer)."""
    outcomes = []
    for theaters in (at_once, sliced):
        y = feature("y", 41.0, "patrol")
        y["properties"]["end"] = "2017-09-16T08:00:00Z"  # type: ignore[index]
        theaters.theater.file(theaters.blue, "operation", body(y))
        theaters.clock[0] = MORNING + 7 * 3600
        _wider_then_nine(theaters, sliced=theaters is sliced)
        convoys = [feature(f"c{k}", 40.0 + 0.05 * k, "convoy") for k in range(PAIRS)]
        convoys[-1]["geometry"]["coordinates"] = [41.0 - 0.0035, 35.0]  # type: ignore[index]
        _red_replaced_and_caught_up(theaters, convoys)
        outcomes.append([key for key in theaters.open_conflicts() if "y" in key])
    assert outcomes == [[], []]


def test_a_volume_moved_into_the_past_during_a_catch_up_gets_no_conflict_from_it(
    at_once: Theaters, sliced: Theaters
) -> None:
    """WIDER set at 07:00, blue's patrol y (06:00-18:00) live; at 09:00 red moves its
    last convoy to 320 m of y and says it ended at 08:00: over, stored without a check.
    Keeping the change its form before was judged under, the catch-up judged the moved
    form with the horizon of 07:00 and opened a conflict that never was (a third
    reviewer); judged at once, none."""
    outcomes = []
    for theaters in (at_once, sliced):
        theaters.theater.file(theaters.blue, "operation", body(feature("y", 41.0, "patrol")))
        theaters.clock[0] = MORNING + 7 * 3600
        _wider_then_nine(theaters, sliced=theaters is sliced)
        convoys = [feature(f"c{k}", 40.0 + 0.05 * k, "convoy") for k in range(PAIRS)]
        convoys[-1]["geometry"]["coordinates"] = [41.0 - 0.0035, 35.0]  # type: ignore[index]
        convoys[-1]["properties"]["end"] = "2017-09-16T08:00:00Z"  # type: ignore[index]
        _red_replaced_and_caught_up(theaters, convoys)
        outcomes.append([key for key in theaters.open_conflicts() if "y" in key])
    assert outcomes == [[], []]


def _wider_then_nine(theaters: Theaters, sliced: bool) -> None:
    """WIDER set at the theater's clock (sliced: judging one volume), then 09:00."""
    if sliced:
        theaters.sliced()
    theaters.theater.set_rules(theaters.coordinator, WIDER, wait_s=0.0 if sliced else math.inf)
    theaters.clock[0] = MORNING + 9 * 3600


def _red_replaced_and_caught_up(theaters: Theaters, convoys: list[dict[str, object]]) -> None:
    """Red's convoys replaced by ``convoys``, then the catch-up run to its end."""
    filing = theaters.store.filings_of_party("red", "operation")[0]
    theaters.theater.replace(theaters.red, filing.id, 1, body(*convoys))
    assert theaters.theater.catch_up().done
