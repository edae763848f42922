"""Party administration over HTTP: coordinators create parties and manage their tokens;
every other party is refused alike, and learns nothing of which parties exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from samples import sample_morning
from tansiq.api import create_app
from tansiq.service import parties
from tansiq.store import SqliteStore
from test_api import Party, assert_problem, collection, disc
from test_api_fuzz import fuzz_as, route_operations

SDF = {"id": "sdf", "name": "Syrian Democratic Forces", "lang": "ar", "contact": "+963 11 000"}


class Admin(Party):
    """A party that also sends JSON bodies (``Party.post`` sends GeoJSON)."""

    def post_json(self, path: str, body: Any = None) -> httpx2.Response:
        return self.client.post(path, json=body, headers=self.headers)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[tuple[Admin, Admin, SqliteStore]]:
    """The client as coordinator 'un', as plain party 'red', and the store."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, un = parties.add_party(store, "un", "UN", "en", "coordinator")
    _, red = parties.add_party(store, "red", "Red Forces", "ru")
    with TestClient(create_app(store, clock=sample_morning())) as client:
        yield Admin(client, un), Admin(client, red), store


def as_party(admin: Admin, token: str) -> Admin:
    return Admin(admin.client, token)


def test_a_coordinator_creates_a_party_whose_token_works_at_once(admin: Any) -> None:
    un, _, _ = admin
    created = un.post_json("/v1/parties", SDF)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/parties/sdf"
    body = created.json()
    party, token = body["party"], body["token"]
    assert {k: party[k] for k in SDF} == SDF and party["role"] == "party"
    assert party["created_at"].startswith("2017-09-16T00:0")  # the theater's clock
    (listed,) = party["tokens"]
    assert token.startswith(f"tsq_{listed['id']}_") and listed["revoked_at"] is None
    # the new party works at once with the token it was given
    sdf = as_party(un, token)
    assert sdf.get("/v1/me").json() == {**SDF, "role": "party"}
    filed = sdf.post("/v1/operations", collection(disc("convoy", 40.0)))
    assert filed.status_code == 201, filed.text
    assert un.get("/v1/parties/sdf").json() == party
    # a plain party may not administer parties
    assert_problem(sdf.get("/v1/parties"), 403)


def test_a_coordinator_can_make_another_coordinator(admin: Any) -> None:
    un, _, _ = admin
    created = un.post_json("/v1/parties", {"id": "icrc", "name": "ICRC", "lang": "en",
                                           "role": "coordinator"})  # fmt: skip
    assert created.status_code == 201, created.text
    icrc = as_party(un, created.json()["token"])
    assert icrc.get("/v1/me").json()["role"] == "coordinator"
    ids = [p["id"] for p in icrc.get("/v1/parties").json()["parties"]]
    assert ids == ["icrc", "red", "un"]


def test_a_taken_id_is_a_409_and_the_party_is_unchanged(admin: Any) -> None:
    un, red, _ = admin
    body = assert_problem(un.post_json("/v1/parties", {**SDF, "id": "red"}), 409)
    assert "'red'" in body["detail"]
    kept = un.get("/v1/parties/red").json()
    assert kept["name"] == "Red Forces" and len(kept["tokens"]) == 1
    assert red.get("/v1/me").json()["name"] == "Red Forces"


def test_bad_fields_are_all_named_and_nothing_is_stored(admin: Any) -> None:
    un, _, store = admin
    bad = {"id": "no spaces", "name": "  ", "lang": "de", "contact": "x" * 201, "role": "admin"}
    body = assert_problem(un.post_json("/v1/parties", bad), 422)
    fields = {e["field"]: e["detail"] for e in body["errors"]}
    assert set(fields) == {"body.id", "body.name", "body.lang", "body.contact", "body.role"}
    assert fields["body.id"].startswith("'no spaces' must be 1 to 64 letters")
    assert fields["body.lang"] == "'de' is not one of ar, en, ru"
    assert fields["body.role"] == "'admin' is not one of party, coordinator"
    assert "body.lang: 'de' is not one of ar, en, ru" in body["detail"]
    # a line break after the id is not part of an id
    body = assert_problem(un.post_json("/v1/parties", {**SDF, "id": "sdf\n"}), 422)
    assert [e["field"] for e in body["errors"]] == ["body.id"]
    # a name or contact with a control character (shown with every conflict, listed a
    # line each: a newline forged a line, an escape could clear a screen; a reviewer)
    sly = {**SDF, "name": "SDF\nfake\tcoordinator", "contact": "ops \x1b[2J"}
    body = assert_problem(un.post_json("/v1/parties", sly), 422)
    assert [(e["field"], e["detail"]) for e in body["errors"]] == [
        ("body.name", "holds the control character U+000A"),
        ("body.contact", "holds the control character U+001B"),
    ]
    # missing fields, wrong types and misspelt ones (which would silently be dropped)
    body = assert_problem(un.post_json("/v1/parties", {"id": 7, "rol": "coordinator"}), 422)
    fields = {e["field"]: e["detail"] for e in body["errors"]}
    assert set(fields) == {"body.id", "body.name", "body.lang", "body.rol"}
    assert assert_problem(un.post_json("/v1/parties", [SDF]), 422)["errors"][0]["field"] == "body"
    sent = un.client.post("/v1/parties", content=b'{"id": ', headers=un.headers)
    assert assert_problem(sent, 422)["errors"][0]["field"] == "body"
    assert [p.id for p in store.list_parties()] == ["red", "un"]


def test_a_plain_party_gets_the_same_403_on_every_route(admin: Any) -> None:
    un, red, store = admin
    un_token = un.get("/v1/parties/un").json()["tokens"][0]["id"]
    before = un.get("/v1/parties").json()
    answers: dict[str, list[dict[str, Any]]] = {}
    for name, target, token_id in (("existing", "un", un_token), ("missing", "ghost", "0" * 12)):
        responses = [
            red.get("/v1/parties"),
            red.post_json("/v1/parties", {**SDF, "id": target}),
            red.post_json("/v1/parties", {"id": target}),  # incomplete: still 403, not 422
            red.client.post("/v1/parties", content=b"{", headers=red.headers),
            red.get(f"/v1/parties/{target}"),
            red.post_json(f"/v1/parties/{target}/tokens"),
            red.delete(f"/v1/parties/{target}/tokens/{token_id}", None),
            red.delete(f"/v1/parties/{target}/tokens", None),
        ]
        answers[name] = [assert_problem(r, 403) for r in responses]
    # not a word differs between an id that exists and one that does not
    assert answers["existing"] == answers["missing"]
    assert len({json.dumps(a) for a in answers["existing"]}) == 1
    assert "coordinator" in answers["existing"][0]["detail"]
    # and nothing was done: no party made, no token issued or revoked
    assert un.get("/v1/parties").json() == before
    assert [p.id for p in store.list_parties()] == ["red", "un"]


def test_without_a_token_every_route_is_401(admin: Any) -> None:
    un, _, _ = admin
    anonymous = Admin(un.client, "not-a-token")
    for response in (
        anonymous.get("/v1/me"),
        anonymous.get("/v1/parties"),
        anonymous.post_json("/v1/parties", SDF),
        anonymous.get("/v1/parties/un"),
    ):
        assert_problem(response, 401)


def test_anyone_reads_its_own_party(admin: Any) -> None:
    un, red, _ = admin
    assert red.get("/v1/me").json() == {
        "id": "red", "name": "Red Forces", "lang": "ru", "role": "party", "contact": "",
    }  # fmt: skip
    assert un.get("/v1/me").json()["role"] == "coordinator"


def test_the_list_shows_token_ids_and_never_their_secrets(admin: Any) -> None:
    un, _, store = admin
    first = un.post_json("/v1/parties", SDF).json()["token"]
    issued = un.post_json("/v1/parties/sdf/tokens")
    assert issued.status_code == 201
    second = issued.json()["token"]
    assert second != first and issued.json()["id"] == second.split("_")[1]
    listing = un.get("/v1/parties")
    text = listing.text
    (sdf,) = [p for p in listing.json()["parties"] if p["id"] == "sdf"]
    assert [t["id"] for t in sdf["tokens"]] == [first.split("_")[1], second.split("_")[1]]
    assert set(sdf["tokens"][0]) == {"id", "created_at", "revoked_at"}
    assert sdf["created_at"].endswith("Z")
    for token in (first, second):
        assert token.split("_", 2)[2] not in text  # the secret (it may hold "_"), anywhere
    for record in store.list_tokens("sdf"):
        for value in (record.salt, record.digest):
            assert value.hex() not in text and value.hex().upper() not in text
    assert "salt" not in text and "digest" not in text
    assert un.get("/v1/parties/sdf").json() == sdf


def test_another_token_works_alongside_the_first(admin: Any) -> None:
    un, red, _ = admin
    issued = un.post_json("/v1/parties/red/tokens")
    assert issued.status_code == 201, issued.text
    console = as_party(un, issued.json()["token"])
    assert console.get("/v1/me").json()["id"] == "red"
    assert red.get("/v1/me").json()["id"] == "red"
    assert len(un.get("/v1/parties/red").json()["tokens"]) == 2


def test_revoking_stops_a_token_at_once(admin: Any) -> None:
    un, red, _ = admin
    issued = un.post_json("/v1/parties/red/tokens").json()
    console = as_party(un, issued["token"])
    assert console.get("/v1/me").status_code == 200
    revoked = un.delete(f"/v1/parties/red/tokens/{issued['id']}", None)
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
    assert_problem(console.get("/v1/me"), 401)
    assert_problem(console.post("/v1/operations", collection(disc("x", 40.0))), 401)
    assert red.get("/v1/me").status_code == 200  # the other token is untouched
    tokens = {t["id"]: t for t in un.get("/v1/parties/red").json()["tokens"]}
    assert tokens[issued["id"]]["revoked_at"] is not None
    # a token that is no longer live, and one that is not this party's, are 404s
    assert_problem(un.delete(f"/v1/parties/red/tokens/{issued['id']}", None), 404)
    un_token = un.get("/v1/parties/un").json()["tokens"][0]["id"]
    assert_problem(un.delete(f"/v1/parties/red/tokens/{un_token}", None), 404)
    assert un.get("/v1/me").status_code == 200
    # all of them
    un.post_json("/v1/parties/red/tokens")
    assert un.delete("/v1/parties/red/tokens", None).json() == {"revoked": 2}
    assert_problem(red.get("/v1/me"), 401)
    assert un.delete("/v1/parties/red/tokens", None).json() == {"revoked": 0}
    # a party without a live token gets one again
    fresh = as_party(un, un.post_json("/v1/parties/red/tokens").json()["token"])
    assert fresh.get("/v1/me").json()["id"] == "red"


def test_an_unknown_party_is_a_404_for_a_coordinator(admin: Any) -> None:
    un, _, store = admin
    for response in (
        un.get("/v1/parties/ghost"),
        un.post_json("/v1/parties/ghost/tokens"),
        un.delete("/v1/parties/ghost/tokens", None),
        un.delete("/v1/parties/ghost/tokens/000000000000", None),
    ):
        assert "'ghost'" in assert_problem(response, 404)["detail"]
    assert [p.id for p in store.list_parties()] == ["red", "un"]


def test_no_request_makes_the_party_routes_fail_for_a_coordinator(tmp_path: Path) -> None:
    """tests/test_api_fuzz.py fuzzes as a plain party, which these routes refuse at once."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, token = parties.add_party(store, "coordinator-of-the-fuzz", "UN", "en", "coordinator")
    parties.add_party(store, "blue", "Blue", "ar")
    operations = [
        op for op in route_operations(store) if op.path.startswith(("/v1/parties", "/v1/me"))
    ]
    assert len(operations) == 7
    fuzz_as(token, operations)


def test_the_list_of_parties_is_paged_by_id(admin: Any) -> None:
    un, _, _ = admin
    for pid in ("icrc", "msf", "sdf", "wfp"):
        assert un.post_json("/v1/parties", {**SDF, "id": pid}).status_code == 201
    seen: list[str] = []
    after: str | None = ""
    pages = 0
    while after is not None:
        page = un.get("/v1/parties", limit=2, after=after).json()
        assert len(page["parties"]) <= 2
        seen += [p["id"] for p in page["parties"]]
        after, pages = page["next_after"], pages + 1
    assert seen == ["icrc", "msf", "red", "sdf", "un", "wfp"] and pages == 3
    whole = un.get("/v1/parties").json()
    assert [p["id"] for p in whole["parties"]] == seen and whole["next_after"] is None
    for query in ({"limit": 0}, {"limit": 201}, {"after": "x" * 101}):
        problem = assert_problem(un.get("/v1/parties", **query), 422)
        assert problem["errors"][0]["field"] == f"query.{next(iter(query))}"
