"""Conflict and event ids as parties are shown them: a keyed permutation of the store's,
so that an id tells a party nothing of how many others there are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from samples import sample_morning
from tansiq.api import create_app
from tansiq.api.events import resume_point
from tansiq.errors import StoreUnusable
from tansiq.service import parties
from tansiq.service.public_ids import KEY_SETTING, LIMIT, PublicIds
from tansiq.store import SqliteStore
from test_api import Party, assert_problem, collection, disc

IDS = PublicIds(b"k" * 32)


@given(st.integers(0, LIMIT - 1))
def test_every_id_is_shown_as_one_number_and_read_back(internal: int) -> None:
    for kind in ("conflict", "event"):
        public = IDS.show(kind, internal)
        assert 1 <= public <= LIMIT <= 2**53  # exact in a JavaScript number
        assert IDS.read(kind, public) == internal


def test_numbers_no_id_shows_as_are_read_as_none() -> None:
    assert IDS.read("conflict", 0) is None and IDS.read("conflict", LIMIT + 1) is None
    assert IDS.show("conflict", 1) != IDS.show("event", 1)  # each kind its own


def test_ids_stay_what_earlier_versions_showed() -> None:
    """Parties keep the ids they were shown (in their logs, in acknowledgements to
    come): a store's ids never change with a new version of the server. These are
    the ids the first version showed for this key."""
    ids = PublicIds(bytes(range(32)))
    assert [ids.show("conflict", i) for i in (0, 1, 2**52 - 1)] == [
        2480942485277668, 804646547043869, 2998369434669984,
    ]  # fmt: skip
    assert [ids.show("event", i) for i in (0, 7, 123456789)] == [
        3178844120054927, 3055140042535201, 1667115438420998,
    ]  # fmt: skip
    assert ids.read("event", 1667115438420998) == 123456789


def test_a_third_party_learns_nothing_from_its_conflicts_ids(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tansiq.db")
    tokens = {p: parties.add_party(store, p, p.title(), "en")[1] for p in ("red", "blue", "green")}
    with TestClient(create_app(store, clock=sample_morning())) as client:
        red, blue, green = (Party(client, tokens[p]) for p in ("red", "blue", "green"))
        for k in range(40):  # forty conflicts between red and blue, far from green
            blue.post("/v1/sites", collection(disc(f"clinic{k}", 30.0 + k * 0.1)))
            red.post("/v1/operations", collection(disc(f"strike{k}", 30.0 + k * 0.1)))
        green.post("/v1/sites", collection(disc("camp", 50.0), disc("well", 51.0)))
        mine = [
            red.post("/v1/operations", collection(disc(f"s{k}", lon))).json()["conflicts"][0]["id"]
            for k, lon in enumerate((50.0, 51.0))
        ]
        internal = [c.id for c in store.conflicts_of_party("green")]
        assert internal == [41, 42]  # the store's own numbers would have told of 40 others
        assert all(1 <= i <= LIMIT for i in mine) and abs(mine[1] - mine[0]) != 1
        assert set(mine).isdisjoint(internal)
        # an id is read back: green acknowledges what it was shown
        ack = client.post(f"/v1/conflicts/{mine[0]}/ack", headers=green.headers)
        assert ack.status_code == 200 and ack.json()["id"] == mine[0]
        # red's and blue's conflicts, by the id they were shown, are unknown to green, and
        # the answer names the id green sent (not the store's)
        theirs = red.get("/v1/conflicts", limit=1).json()["conflicts"][0]["id"]
        answer = client.post(f"/v1/conflicts/{theirs}/ack", headers=green.headers)
        refused = assert_problem(answer, 404)
        assert str(theirs) in refused["detail"]
        made_up = assert_problem(client.post("/v1/conflicts/12345/ack", headers=green.headers), 404)
        assert refused["title"] == made_up["title"]
        # a stream resumes only after one of the caller's own events: any number reads
        # as some store id, and resuming after a stranger's (or an id from before ids
        # were masked, such as 12) would skip events without a word
        red_event = store.events_after("red", 0)[0].id
        shown = PublicIds.of(store).show("event", red_event)
        for value in (str(shown), "12"):
            answer = client.get("/v1/events", headers={**green.headers, "Last-Event-ID": value})
            assert assert_problem(answer, 400)["detail"].startswith("Last-Event-ID: ")
        assert_problem(client.get(f"/v1/events?after={shown}", headers=green.headers), 400)
        # and a page of conflicts follows only one of the caller's own
        for after in (theirs, 12):
            page = client.get(f"/v1/conflicts?after={after}", headers=green.headers)
            assert assert_problem(page, 422)["errors"][0]["field"] == "query.after"
    # the same ids after a restart: the key is kept with the store
    with TestClient(create_app(store, clock=sample_morning())) as client:
        again: Any = client.get("/v1/conflicts", headers=green.headers).json()
        assert [c["id"] for c in again["conflicts"]] == mine
        assert json.dumps(again).count(str(mine[0])) == 1


def test_two_stores_opening_a_fresh_file_share_one_key(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "t.db"), SqliteStore(tmp_path / "t.db")
    # both found no key, and each made its own: the first stored wins, for both
    assert first.setting_once(KEY_SETTING, "aa" * 32) == "aa" * 32
    assert second.setting_once(KEY_SETTING, "bb" * 32) == "aa" * 32
    assert PublicIds.of(second).show("conflict", 7) == PublicIds.of(first).show("conflict", 7)


@pytest.mark.parametrize("key", ["", "zz" * 32, "ab" * 65, "ab" * 31])
def test_a_key_that_is_not_64_hex_digits_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.set_setting(KEY_SETTING, key)
    with pytest.raises(StoreUnusable, match=KEY_SETTING):
        PublicIds.of(store)


def test_a_last_event_id_of_0_starts_from_the_beginning() -> None:
    assert resume_point("0", None, 2**63 - 1, lambda _: None) == 0
