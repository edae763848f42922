"""The HTTP API, in process over a real SQLite file, and `tansiq serve` as a real server."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from samples import SAMPLE_MORNING, sample_morning
from tansiq.api import create_app
from tansiq.cli.local_server import free_local_port, wait_until_answering
from tansiq.service import parties
from tansiq.store import SqliteStore

TANSIQ = Path(sys.executable).with_name("tansiq")


def disc(fid: str, lon: float, lat: float = 35.0, /, **props: object) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"kind": "patrol", "radius_m": 500, **props},
    }


def collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


class Party:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: str) -> httpx2.Response:
        headers = {**self.headers, "Content-Type": "application/geo+json"}
        return self.client.post(path, content=body, headers=headers)

    def get(self, path: str, **params: Any) -> httpx2.Response:
        return self.client.get(path, headers=self.headers, params=params)

    def put(self, path: str, body: str, version: int | None) -> httpx2.Response:
        headers = dict(self.headers)
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return self.client.put(path, content=body, headers=headers)

    def delete(self, path: str, version: int | None) -> httpx2.Response:
        headers = dict(self.headers)
        if version is not None:
            headers["If-Match"] = str(version)
        return self.client.delete(path, headers=headers)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Party, Party, SqliteStore]]:
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red Forces", "ru")
    _, blue = parties.add_party(store, "blue", "Blue Coalition", "en")
    with TestClient(create_app(store, max_body=64 * 1024, clock=sample_morning())) as client:
        yield client, Party(client, red), Party(client, blue), store


CLOCK = ("--clock-start", SAMPLE_MORNING)


def assert_problem(response: httpx.Response | httpx2.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem (from the test client, httpx2, or a real server, httpx)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("urn:tansiq:problem:")
    assert body["title"] and body["detail"]
    return body


def test_two_parties_file_and_both_see_the_conflict(api: Any) -> None:
    _, red, blue, _ = api
    first = red.post("/v1/operations", collection(disc("strike", 40.0)))
    assert first.status_code == 201
    assert first.headers["location"] == f"/v1/operations/{first.json()['id']}"
    assert first.headers["etag"] == '"1"' and first.json()["conflicts"] == []
    second = blue.post("/v1/sites", collection(disc("clinic", 40.004)))
    assert second.status_code == 201
    (seen_by_blue,) = second.json()["conflicts"]
    other = seen_by_blue["other"]
    assert other["party"] == {"id": "red", "name": "Red Forces", "contact": ""}
    assert other["kind"] == "patrol"
    # all blue learns of red's strike: the part of it within the separation (0) of the
    # clinic, i.e. where the two 500 m discs overlap: every point within 500 m of both
    geod = Geod(ellps="WGS84")
    ring = other["region"]["coordinates"][0]
    for centre in ((40.0, 35.0), (40.004, 35.0)):
        _, _, far = geod.inv([centre[0]] * len(ring), [centre[1]] * len(ring),
                             [p[0] for p in ring], [p[1] for p in ring])  # fmt: skip
        assert max(far) <= 501.0
    assert seen_by_blue["mine"]["region"]["type"] == "Polygon"
    assert seen_by_blue["mine"]["feature"] == "clinic"
    (seen_by_red,) = red.get("/v1/conflicts").json()["conflicts"]
    assert seen_by_red["id"] == seen_by_blue["id"] and seen_by_red["mine"]["feature"] == "strike"
    # need-to-know: neither side is told the other's filing or feature ids
    assert first.json()["id"] not in json.dumps(seen_by_blue)
    assert second.json()["id"] not in json.dumps(seen_by_red)


def test_another_partys_filing_looks_exactly_like_a_missing_one(api: Any) -> None:
    _, red, blue, _ = api
    filed = red.post("/v1/operations", collection(disc("strike", 40.0))).json()["id"]
    missing = "operation-000000000000"
    for method in ("get", "history", "put", "delete"):
        answers = []
        for target in (filed, missing):
            if method == "get":
                response = blue.get(f"/v1/operations/{target}")
            elif method == "history":
                response = blue.get(f"/v1/operations/{target}/history")
            elif method == "put":
                response = blue.put(f"/v1/operations/{target}", collection(disc("x", 41.0)), 1)
            else:
                response = blue.delete(f"/v1/operations/{target}", 1)
            body = assert_problem(response, 404)
            answers.append((body["title"], body["detail"].replace(target, "ID")))
        assert answers[0] == answers[1], method
    # and the owner reads it in full, under its own category only
    assert red.get(f"/v1/operations/{filed}").json()["body"]["features"][0]["id"] == "strike"
    assert_problem(red.get(f"/v1/sites/{filed}"), 404)
    assert_problem(red.put(f"/v1/sites/{filed}", collection(disc("strike", 41.0)), 1), 404)
    assert_problem(red.delete(f"/v1/zones/{filed}", 1), 404)
    assert red.get(f"/v1/operations/{filed}").json()["version"] == 1


def test_replace_and_cancel_need_the_current_version(api: Any) -> None:
    _, red, blue, _ = api
    blue.post("/v1/sites", collection(disc("clinic", 40.0)))
    filed = red.post("/v1/operations", collection(disc("strike", 40.0))).json()
    path = f"/v1/operations/{filed['id']}"
    assert_problem(red.put(path, collection(disc("strike", 44.0)), None), 428)
    assert_problem(red.put(path, collection(disc("strike", 44.0)), 7), 412)
    moved = red.put(path, collection(disc("strike", 44.0)), 1)
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert moved.json()["conflicts"] == [] and moved.headers["etag"] == '"2"'
    assert [c["state"] for c in blue.get("/v1/conflicts").json()["conflicts"]] == ["resolved"]
    cancelled = red.delete(path, 2)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert_problem(red.put(path, collection(disc("strike", 40.0)), 3), 409)
    versions = red.get(f"{path}/history").json()["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [
        (1, "active"),
        (2, "active"),
        (3, "cancelled"),
    ]
    # paged by version, for an operation updated every few minutes for a week
    first = red.get(f"{path}/history", limit=2).json()
    assert [v["version"] for v in first["versions"]] == [1, 2] and first["next_after"] == 2
    rest = red.get(f"{path}/history", after=first["next_after"]).json()
    assert rest == {"versions": versions[2:], "next_after": None}
    for query in ({"limit": 0}, {"limit": 201}, {"after": -1}, {"after": 2**63}):
        problem = assert_problem(red.get(f"{path}/history", **query), 422)
        assert problem["errors"][0]["field"] == f"query.{next(iter(query))}"


def test_acknowledgement_is_per_side_and_only_for_the_sides(api: Any, tmp_path: Path) -> None:
    client, red, blue, store = api
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    conflict = blue.post("/v1/sites", collection(disc("clinic", 40.0))).json()["conflicts"][0]
    acked = red.client.post(f"/v1/conflicts/{conflict['id']}/ack", headers=red.headers)
    assert acked.status_code == 200
    assert acked.json()["acknowledged"]["by_me"] is not None
    assert acked.json()["acknowledged"]["by_other"] is None
    seen = blue.get("/v1/conflicts").json()["conflicts"][0]["acknowledged"]
    assert seen["by_me"] is None and seen["by_other"] == acked.json()["acknowledged"]["by_me"]
    _, green_token = parties.add_party(store, "green", "Green", "ar")
    green = Party(client, green_token)
    assert_problem(client.post(f"/v1/conflicts/{conflict['id']}/ack", headers=green.headers), 404)
    assert green.get("/v1/conflicts").json()["conflicts"] == []


def test_an_acknowledgement_is_of_the_version_the_party_saw(api: Any) -> None:
    """Red reads a conflict; blue moves its site before red's ack arrives. An ack
    naming the version red saw must not record red as having seen the new shape."""
    client, red, blue, store = api
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    filed = blue.post("/v1/sites", collection(disc("clinic", 40.0))).json()
    site, conflict_id = filed["id"], filed["conflicts"][0]["id"]
    seen = red.get(f"/v1/conflicts/{conflict_id}")
    assert seen.status_code == 200 and seen.headers["etag"] == 'W/"1"'
    assert seen.json()["version"] == 1 and seen.json()["id"] == conflict_id
    moved = blue.put(f"/v1/sites/{site}", collection(disc("clinic", 40.004)), 1).json()
    assert moved["conflicts"][0]["version"] == 2  # what it shows changed
    ack = red.client.post(
        f"/v1/conflicts/{conflict_id}/ack", headers={**red.headers, "If-Match": '"1"'}
    )
    problem = assert_problem(ack, 412)
    assert problem["errors"][0]["field"] == "If-Match"
    assert f"conflict {conflict_id} is at version 2, not 1" in problem["detail"]
    # the version in a body or a query was ignored, and the ack recorded against
    # version 2, which red never saw (a reviewer): refused, naming what to send
    in_body = red.client.post(
        f"/v1/conflicts/{conflict_id}/ack", json={"version": 1}, headers=red.headers
    )
    assert assert_problem(in_body, 400)["detail"] == (
        "body: none is taken here; send the version seen as If-Match"
    )
    in_query = red.client.post(
        f"/v1/conflicts/{conflict_id}/ack", params={"version": 1}, headers=red.headers
    )
    assert assert_problem(in_query, 400)["errors"] == [
        {"field": "version", "detail": "not a parameter here (this request takes: none)"}
    ]
    # any route: a misspelt filter answered unfiltered (every conflict, any state)
    misspelt = assert_problem(red.get("/v1/conflicts", stat="open"), 400)
    assert misspelt["errors"] == [{
        "field": "stat",
        "detail": "not a parameter here (this request takes: after, bbox, end, limit, start,"
        " state)",
    }]  # fmt: skip
    labelled = {
        **red.headers, "Content-Type": "application/x-www-form-urlencoded", "If-Match": "1"
    }
    empty = red.client.post(f"/v1/conflicts/{conflict_id}/ack", content=b"", headers=labelled)
    assert_problem(empty, 412)  # an empty body, however labelled, is no body: If-Match rules
    assert red.get(f"/v1/conflicts/{conflict_id}").json()["acknowledged"]["by_me"] is None
    acks = [
        red.client.post(
            f"/v1/conflicts/{conflict_id}/ack", headers={**red.headers, "If-Match": version}
        )
        for version in ("2", 'W/"2"')
    ]
    for ack in acks:
        assert ack.status_code == 200 and ack.headers["etag"] == 'W/"2"'
        assert ack.json()["version"] == 2
    first = acks[0].json()["acknowledged"]["by_me"]
    assert first is not None  # the first counts; acknowledging again changes nothing
    assert acks[1].json()["acknowledged"]["by_me"] == first
    assert blue.get(f"/v1/conflicts/{conflict_id}").json()["acknowledged"]["by_other"] == first
    bad = red.client.post(
        f"/v1/conflicts/{conflict_id}/ack", headers={**red.headers, "If-Match": "two"}
    )
    assert assert_problem(bad, 400)["errors"][0]["field"] == "If-Match"
    blue.delete(f"/v1/sites/{site}", 2)
    withdrawn = red.get(f"/v1/conflicts/{conflict_id}").json()
    assert (withdrawn["state"], withdrawn["version"]) == ("withdrawn", 3)
    # an acknowledgement only clears when what it was given to changes: withdrawing does
    assert withdrawn["acknowledged"]["by_me"] == first
    late = red.client.post(
        f"/v1/conflicts/{conflict_id}/ack", headers={**red.headers, "If-Match": "2"}
    )
    assert assert_problem(late, 412)["detail"].startswith(f"conflict {conflict_id} is at version 3")
    # one not a side of it reads it exactly as an id that was never given out
    _, green_token = parties.add_party(store, "green", "Green", "ar")
    green = Party(client, green_token)
    other = assert_problem(green.get(f"/v1/conflicts/{conflict_id}"), 404)
    never = assert_problem(green.get("/v1/conflicts/1"), 404)
    assert other["detail"] == f"no conflict with id {conflict_id}"
    assert {**other, "detail": ""} == {**never, "detail": ""}
    assert never["detail"] == "no conflict with id 1"


def test_a_filing_sent_again_with_its_key_is_answered_not_filed_twice(api: Any) -> None:
    """Blue's answer is lost; blue sends the same filing again with the same
    Idempotency-Key: it is answered as the first time, and red is told of one site."""
    client, red, blue, store = api
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    site = collection(disc("clinic", 40.0))

    def send(body: str, key: str, path: str = "/v1/sites", who: Party = blue) -> Any:
        headers = {**who.headers, "Content-Type": "application/geo+json", "Idempotency-Key": key}
        return client.post(path, content=body, headers=headers)

    first = send(site, "clinic-2017-09-16")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    for key in ("clinic-2017-09-16", '"clinic-2017-09-16"'):  # a bare or a quoted key
        again = send(site, key)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
    assert len(red.get("/v1/conflicts").json()["conflicts"]) == 1
    assert len(store.active_filings()) == 2
    # the same key with another body, or another category, is refused, nothing filed
    for body, path in ((collection(disc("clinic", 40.01)), "/v1/sites"), (site, "/v1/zones")):
        problem = assert_problem(send(body, "clinic-2017-09-16", path), 422)
        assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert len(store.active_filings()) == 2
    # keys are each party's own: red's first use of the same key files
    red_site = send(collection(disc("depot", 41.0)), "clinic-2017-09-16", who=red)
    assert red_site.status_code == 201 and "idempotent-replayed" not in red_site.headers
    # a replay shows the first version and the conflicts it opened as they are now
    red_op = red.get("/v1/operations").json()["operations"][0]
    red.put(f"/v1/operations/{red_op['id']}", collection(disc("strike", 40.002)), 1)
    moved = send(site, "clinic-2017-09-16").json()
    assert (moved["id"], moved["version"]) == (first.json()["id"], 1)
    assert [c["version"] for c in moved["conflicts"]] == [2]  # redrawn since
    # once cancelled, a late retry is neither filed again nor told its filing stands
    blue.delete(f"/v1/sites/{first.json()['id']}", 1)
    gone = assert_problem(send(site, "clinic-2017-09-16"), 409)
    assert gone["type"] == "urn:tansiq:problem:keyed-filing-cancelled"
    assert gone["filing"] == first.json()["id"]  # its own: it may read the history
    assert gone["detail"] == (
        f"Idempotency-Key: 'clinic-2017-09-16' made filing {first.json()['id']!r}, since"
        " cancelled; a new filing needs a new key"
    )
    for bad in ("", "two words", "x" * 256):
        problem = assert_problem(send(site, bad), 400)
        assert problem["errors"][0]["field"] == "Idempotency-Key"
    # a byte past ASCII is not trimmed away into another key ("é" in UTF-8 here)
    odd = [("Idempotency-Key", b"clinic-2017-09-16 \xc3\xa9"), *blue.headers.items()]
    problem = assert_problem(client.post("/v1/sites", content=site, headers=odd), 400)
    assert problem["detail"].startswith("Idempotency-Key: 'clinic-2017-09-16 \u00e9' must be")
    twice = [("Idempotency-Key", "a"), ("Idempotency-Key", "b"), *blue.headers.items()]
    problem = assert_problem(client.post("/v1/sites", content=site, headers=twice), 400)
    assert problem["detail"] == "Idempotency-Key: sent more than once; send one key"
    assert len(store.active_filings()) == 2  # red's strike and red's depot


def test_a_party_lists_its_own_filings_and_only_its_own(api: Any) -> None:
    """An operations centre that lost track (a new console) reads back what it filed."""
    _, red, blue, _ = api
    mine = [red.post("/v1/operations", collection(disc(f"op{k}", 40.0 + k))).json()["id"]
            for k in range(5)]  # fmt: skip
    site = red.post("/v1/sites", collection(disc("depot", 50.0))).json()["id"]
    blue.post("/v1/operations", collection(disc("theirs", 40.0)))
    red.put(f"/v1/operations/{mine[0]}", collection(disc("op0", 40.5)), 1)
    red.delete(f"/v1/operations/{mine[1]}", 1)
    listed = red.get("/v1/operations", limit=2).json()
    assert [f["id"] for f in listed["operations"]] == sorted(mine)[:2]
    assert listed["next_after"] == sorted(mine)[1]
    rest = red.get("/v1/operations", after=listed["next_after"]).json()
    assert [f["id"] for f in rest["operations"]] == sorted(mine)[2:]
    assert rest["next_after"] is None
    everything = {f["id"]: f for f in listed["operations"] + rest["operations"]}
    assert (everything[mine[0]]["version"], everything[mine[0]]["state"]) == (2, "active")
    assert everything[mine[0]]["body"]["features"][0]["geometry"]["coordinates"] == [40.5, 35.0]
    assert everything[mine[1]]["state"] == "cancelled"
    active = red.get("/v1/operations", state="active").json()["operations"]
    assert sorted(f["id"] for f in active) == sorted(set(mine) - {mine[1]})
    assert [f["id"] for f in red.get("/v1/sites").json()["sites"]] == [site]
    assert red.get("/v1/zones").json() == {"zones": [], "next_after": None}
    # blue sees only blue's, whatever page it asks for
    theirs = blue.get("/v1/operations").json()["operations"]
    assert len(theirs) == 1 and theirs[0]["id"] not in mine
    assert blue.get("/v1/sites", after="").json()["sites"] == []
    for query in ({"limit": 0}, {"limit": 201}, {"state": "open"}, {"after": "x" * 101}):
        problem = assert_problem(red.get("/v1/operations", **query), 422)
        assert problem["errors"][0]["field"] == f"query.{next(iter(query))}"


def test_what_is_shared_with_a_party_is_paged(api: Any) -> None:
    """Sites shared by a humanitarian organisation can run to thousands: GET /v1/shared
    is paged by id like a party's own filings, those shared by name and with all
    together; cancelled ones and one's own are not listed."""
    _, red, blue, _ = api

    def site(name: str, share: object) -> str:
        body = json.loads(collection(disc(name, 38.0)))
        body["share"] = share
        answer = red.post("/v1/sites", json.dumps(body))
        assert answer.status_code == 201
        return str(answer.json()["id"])

    shared = [site(f"s{k}", ["blue"] if k % 2 else "all") for k in range(6)]
    gone = site("gone", ["blue"])
    red.delete(f"/v1/sites/{gone}", 1)
    own = {**json.loads(collection(disc("own", 38.0))), "share": "all"}
    assert blue.post("/v1/sites", json.dumps(own)).status_code == 201
    pages, after = [], ""
    while True:
        page = blue.get("/v1/shared", limit=2, **({"after": after} if after else {})).json()
        pages.append([f["id"] for f in page["filings"]])
        after = page["next_after"]
        if after is None:
            break
    assert pages == [sorted(shared)[k : k + 2] for k in range(0, len(shared), 2)]
    assert [f["id"] for f in blue.get("/v1/shared").json()["filings"]] == sorted(shared)
    for query in ({"limit": 0}, {"limit": 201}, {"after": "x" * 101}):
        problem = assert_problem(blue.get("/v1/shared", **query), 422)
        assert problem["errors"][0]["field"] == f"query.{next(iter(query))}"


def test_even_a_server_error_says_not_to_store_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Cache-Control: no-store` wraps Starlette's own error layer: an unexpected failure's
    500 carries it like every other answer under /v1 (it went out without: a review)."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, token = parties.add_party(store, "red", "Red Forces", "ru")

    def broken(*_: Any) -> Any:
        raise RuntimeError("a fault nobody foresaw")

    app = create_app(store, clock=sample_morning())
    with TestClient(app, raise_server_exceptions=False) as client:
        monkeypatch.setattr(parties, "authenticate", broken)
        failed = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (failed.status_code, failed.headers.get_list("cache-control")) == (500, ["no-store"])


def test_bad_requests_are_problems_naming_the_field_and_store_nothing(api: Any) -> None:
    _, red, _, store = api
    invalid = red.post("/v1/operations", collection(disc("x", 200.0)))
    body = assert_problem(invalid, 422)
    assert any("feature 'x'" in e["detail"] for e in body["errors"])
    assert_problem(red.post("/v1/operations", "{not json"), 400)
    too_big = collection(*(disc(f"f{k}", 40.0 + k * 1e-3) for k in range(2000)))
    assert_problem(red.post("/v1/operations", too_big), 413)
    assert_problem(red.get("/v1/conflicts", state="bogus"), 422)
    assert store.active_filings() == []


def test_a_body_that_says_two_things_is_refused_not_read_as_one(api: Any) -> None:
    _, red, _, store = api
    once = collection(disc("x", 40.0))
    twice = once.replace('"radius_m": 500', '"radius_m": 50, "radius_m": 5000')
    body = assert_problem(red.post("/v1/operations", twice), 422)
    assert any("member 'radius_m' is given twice" in e["detail"] for e in body["errors"])
    filed = red.post("/v1/operations", once).json()
    replaced = red.put(f"/v1/operations/{filed['id']}", twice, filed["version"])
    assert_problem(replaced, 422)
    assert [(f.id, f.version) for f in store.active_filings()] == [(filed["id"], 1)]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic cmVkOnJlZA=="}],
)
def test_every_route_refuses_without_a_valid_token(api: Any, headers: dict[str, str]) -> None:
    client = api[0]
    for method, path in (
        ("GET", "/v1/conflicts"),
        ("POST", "/v1/operations"),
        ("GET", "/v1/sites/site-000000000000"),
        ("PUT", "/v1/zones/zone-000000000000"),
        ("DELETE", "/v1/operations/operation-000000000000"),
        ("POST", "/v1/conflicts/1/ack"),
        ("GET", "/v1/conflicts/1"),
        ("GET", "/v1/operations"),
    ):
        response = client.request(method, path, headers=headers, content=collection())
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert body["detail"] == "missing, unknown or revoked API token"


def test_conflicts_are_paged(api: Any) -> None:
    _, red, blue, _ = api
    red.post("/v1/operations", collection(*(disc(f"s{k}", 40.0) for k in range(5))))
    blue.post("/v1/sites", collection(disc("clinic", 40.0)))
    first = red.get("/v1/conflicts", limit=2).json()
    assert len(first["conflicts"]) == 2 and first["next_after"] is not None
    rest = red.get("/v1/conflicts", limit=10, after=first["next_after"]).json()
    assert len(rest["conflicts"]) == 3 and rest["next_after"] is None


def test_a_page_of_conflicts_reads_only_so_many_and_says_where_it_stopped(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A party of a large theater has millions of conflicts: a page reads them a chunk
    at a time and at most so many (here 2 and 4), so a filter that few meet gives short
    pages, even empty ones, whose next_after goes on; following it finds every match."""
    import tansiq.service.theater as theater_module

    client, red, blue, _ = api
    lons = [40.0 + k * 0.1 for k in range(7)]
    red.post("/v1/operations", collection(*(disc(f"r{k}", lon) for k, lon in enumerate(lons))))
    blue.post("/v1/sites", collection(*(disc(f"b{k}", lon) for k, lon in enumerate(lons))))
    every = [c["id"] for c in red.get("/v1/conflicts").json()["conflicts"]]
    assert len(every) == 7
    monkeypatch.setattr(theater_module, "_CHUNK", 2)
    client.app.state.theater.conflicts_scanned = 4

    def follow(**query: Any) -> list[list[int]]:
        pages, after = [], None
        while True:
            answer = red.get("/v1/conflicts", **query, **({"after": after} if after else {}))
            body = answer.json()
            pages.append([c["id"] for c in body["conflicts"]])
            after = body["next_after"]
            if after is None:
                return pages

    assert [i for page in follow(limit=3) for i in page] == every  # as before, in id order
    far_east = follow(bbox="40.55,34.9,40.65,35.1")
    assert far_east[0] == []  # stopped short, and went on
    assert [i for page in far_east for i in page] == [every[-1]]


def test_pages_follow_the_order_conflicts_opened_in_whichever_side_opened_them(
    api: Any,
) -> None:
    """Red's conflicts alternate sides (red's change opens one, blue's the next): read
    a side at a time and merged, pages must still be in id order, none skipped, and a
    window starting at the very end of the asked range is in it (bounds included)."""
    client, red, blue, _ = api
    red.post("/v1/operations", collection(disc("a", 40.0)))
    blue.post("/v1/operations", collection(disc("b", 40.0)))
    red.post("/v1/operations", collection(disc("c", 40.0)))
    blue.post("/v1/operations", collection(disc("d", 40.0)))
    red.post("/v1/operations", collection(disc("e", 40.0)))
    from tansiq.service.views import instant

    theater = client.app.state.theater
    record = theater._store.get_party("red")
    every = theater.conflicts(record)
    assert len(every) == 6 and {c.party_a for c in every} == {"red", "blue"}
    shown, after = [], None
    while True:
        body = red.get("/v1/conflicts", limit=1, **({"after": after} if after else {})).json()
        shown += [(c["opened_at"], c["mine"]["feature"]) for c in body["conflicts"]]
        after = body["next_after"]
        if after is None:
            break
    # the store's order (ids are shown permuted: compared by when and where they opened)
    expected = [
        (instant(c.opened_at), (c.volume_a if c.party_a == "red" else c.volume_b).split("/")[1])
        for c in every
    ]
    assert shown == expected
    # the discs' windows start at 06:00: a range ending exactly then keeps them
    edge = red.get("/v1/conflicts", end="2017-09-16T06:00:00Z").json()["conflicts"]
    assert len(edge) == 6


def test_openapi_describes_every_route(api: Any) -> None:
    client = api[0]
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/operations",
        "/v1/sites/{filing_id}",
        "/v1/conflicts/{conflict_id}",
        "/v1/conflicts/{conflict_id}/ack",
    ):
        assert path in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200



def test_tansiq_serve_answers_over_http(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    made = subprocess.run(
        [str(TANSIQ), "party", "add", "red", "--name", "Red", "--lang", "en", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    port = free_local_port()
    server = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port), *CLOCK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url, process=server, poll_s=0.2)
        filed = httpx.post(
            f"{url}/v1/operations",
            content=collection(disc("a", 40.0)),
            headers={**auth, "Content-Type": "application/geo+json"},
        )
        assert filed.status_code == 201, filed.text
        assert httpx.get(f"{url}/v1/conflicts").status_code == 401
        here = {"url": "http://127.0.0.1:9/tansiq"}  # a receiver on this machine: refused
        refused = httpx.put(f"{url}/v1/webhook", json=here, headers=auth)
        assert refused.status_code == 400 and "--webhooks-to-private" in refused.text
    finally:
        server.terminate()
        server.wait(timeout=30)
    # started again, it says how much it read before it serves
    again = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port), *CLOCK,
         "--webhooks-to-private"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert again.stderr is not None
        assert again.stderr.readline().startswith(f"reading {db}")
        assert again.stderr.readline().startswith("1 active volumes indexed in ")
        wait_until_answering(url, process=again, poll_s=0.2)
        assert httpx.put(f"{url}/v1/webhook", json=here, headers=auth).status_code == 200
        # a second server on the same store would miss the first one's filings: refused
        second = subprocess.run(
            [str(TANSIQ), "serve", "--db", str(db), "--port", str(free_local_port()), *CLOCK],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 1
        assert "is already served by another process" in second.stderr
        assert "Traceback" not in second.stderr
        assert httpx.get(f"{url}/v1/me", headers=auth).status_code == 200  # the first serves on
    finally:
        again.terminate()
        again.wait(timeout=30)


def test_tansiq_serve_takes_every_host_uvicorn_takes() -> None:
    """An empty host is every interface to asyncio (and so to uvicorn): not refused."""
    from tansiq.cli.serve import _refuse_unless_listenable

    for host in ("", "0.0.0.0", "127.0.0.1", "localhost"):
        _refuse_unless_listenable(host, free_local_port())


def test_a_client_that_stops_reading_is_dropped_by_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event stream whose client vanished or stopped reading kept its socket and its
    task for some 15 minutes, or for good (a reviewer). Every connection to `tansiq
    serve` has a TCP user timeout (``UNACKNOWLEDGED_LIMIT_S``, 60 s; 1 s here): data
    left unacknowledged, or behind a window kept closed, that long drops it."""
    import asyncio

    from tansiq.cli import serve

    monkeypatch.setattr(serve, "UNACKNOWLEDGED_LIMIT_S", 1)
    (listening,) = serve._listening("127.0.0.1", free_local_port())
    outcome: list[str] = []

    async def run() -> None:
        ended = asyncio.Event()

        async def send_until_dropped(_: Any, writer: asyncio.StreamWriter) -> None:
            sent = writer.get_extra_info("socket")
            # set on the listening socket, taken by each connection from it
            outcome.append(f"{sent.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)} ms")
            started = time.monotonic()
            try:
                while time.monotonic() - started < 10:
                    writer.write(b": keep-alive\n\n" * 4096)
                    await writer.drain()
                outcome.append("still open after 10 s")
            except OSError as exc:
                outcome.append(f"dropped after {time.monotonic() - started:.0f} s: {exc.errno}")
            ended.set()

        server = await asyncio.start_server(send_until_dropped, sock=listening)
        with socket.socket() as reader:  # connects, and never reads
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.connect(listening.getsockname())
            await asyncio.wait_for(ended.wait(), 60)
        server.close()

    asyncio.run(run())
    limit, said = outcome
    assert limit == "1000 ms"
    assert said.startswith("dropped after") and said.endswith(f": {errno.ETIMEDOUT}"), said


def test_an_address_given_twice_is_listened_on_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name on two lines of /etc/hosts (glibc's `multi on`) resolves to one address
    twice: binding it twice refused to serve, "address already in use" (a reviewer)."""
    from tansiq.cli import serve

    resolve = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: resolve(*a, **k) * 2)
    sockets = serve._listening("127.0.0.1", free_local_port())
    try:
        assert len(sockets) == 1
    finally:
        for one in sockets:
            one.close()


def test_tansiq_serve_on_a_taken_port_says_so_before_reading_the_store(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [str(TANSIQ), "serve", "--db", str(db), "--port", str(port)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert not db.exists()  # refused before the store was opened (seconds at 1M)


def test_a_coordinator_sets_the_rules_and_every_pair_is_judged_again(api: Any) -> None:
    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    coordinator = Party(client, token)
    red.post("/v1/operations", collection(disc("strike", 40.0, kind="air_strike")))
    # 1 km east: no conflict while every minimum is 0
    blue.post("/v1/sites", collection(disc("hq", 40.011, kind="partner_position")))
    assert blue.get("/v1/conflicts").json()["conflicts"] == []
    rules = {"separation": [{"between": ["air_strike", "partner_position"], "horizontal_m": 2000}]}
    refused = red.client.put("/v1/theater/rules", json=rules, headers=red.headers)
    assert_problem(refused, 403)
    done = client.put("/v1/theater/rules", json=rules, headers=coordinator.headers)
    assert done.status_code == 200
    assert done.json()["judged_again"] == {
        "kinds": [["air_strike", "partner_position"]],
        "opened": 1, "resolved": 0, "changed": 0, "kept": 0,
        "volumes": 2, "volumes_judged": 2, "done": True,
    }  # fmt: skip
    assert coordinator.get("/v1/theater/rules").json()["judged_again"] == done.json()[
        "judged_again"
    ]
    # a party is told whether the catch-up is over, and not which kinds the parties
    # hold or how many conflicts and volumes they have (a reviewer read them so)
    seen = red.get("/v1/theater/rules").json()
    assert seen["separation"][0]["horizontal_m"] == 2000
    assert seen["judged_again"] == {"done": True}
    (opened,) = blue.get("/v1/conflicts").json()["conflicts"]
    assert opened["state"] == "open" and opened["gaps"]["horizontal_m"] > 0
    # relaxing them again resolves it
    relaxed = client.put("/v1/theater/rules", json={"separation": []}, headers=coordinator.headers)
    assert relaxed.json()["judged_again"]["resolved"] == 1
    assert [c["state"] for c in blue.get("/v1/conflicts").json()["conflicts"]] == ["resolved"]
    # a new lead time alone judges nothing again
    lead = {"separation": [], "lead_time_h": 6}
    later = client.put("/v1/theater/rules", json=lead, headers=coordinator.headers).json()
    assert later["lead_time_h"] == 6 and later["judged_again"]["kinds"] == []
    broken = {"separation": [{"between": ["a"], "horizontal_m": -1}]}
    answer = client.put("/v1/theater/rules", json=broken, headers=coordinator.headers)
    body = assert_problem(answer, 422)
    assert all(e["detail"].startswith("separation[0]") for e in body["errors"])
    # a slip of the keyboard would make every pair on Earth a conflict: refused, named
    slip = {"separation": [
        {"between": ["*", "*"], "horizontal_m": 1_000_000, "vertical_m": 100_000,
         "time_s": 30 * 86_400},
        {"between": ["air_strike", "*"], "horizontal_m": 2e9, "time_s": 1e300},
    ]}  # fmt: skip
    answer = client.put("/v1/theater/rules", json=slip, headers=coordinator.headers)
    body = assert_problem(answer, 422)
    assert [e["field"] for e in body["errors"]] == [
        "separation[1].horizontal_m", "separation[1].time_s",
    ]  # fmt: skip
    said = body["errors"][0]["detail"]
    assert said.endswith("must be at most 1000000 (1,000 km), got 2000000000")
    just_over = {"separation": [{"between": ["*", "*"], "horizontal_m": 1_000_000.5}]}
    answer = client.put("/v1/theater/rules", json=just_over, headers=coordinator.headers)
    assert assert_problem(answer, 422)["detail"].endswith("got 1000000.5")
    assert red.get("/v1/theater/rules").json()["lead_time_h"] == 6  # nothing changed
    assert red.get("/v1/theater/rules").json()["separation"] == []


def test_every_change_of_the_rules_is_kept_with_who_set_it_and_when(api: Any) -> None:
    """The rules in force when a conflict opened (or did not) settle a dispute as much as
    the filings do: every change is kept, whoever made it, and any party reads them."""
    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    coordinator = Party(client, token)
    unset = red.get("/v1/theater/rules").json()
    assert (unset["version"], unset["set_by"], unset["set_at"]) == (None, None, None)
    assert red.get("/v1/theater/rules/history").json() == {"changes": [], "next_after": None}
    wide = {"separation": [{"between": ["air_strike", "*"], "horizontal_m": 5000}]}
    assert client.put("/v1/theater/rules", json=wide, headers=coordinator.headers).is_success
    narrow = {"separation": [{"between": ["air_strike", "*"], "horizontal_m": 3000}],
              "lead_time_h": 6}  # fmt: skip
    done = client.put("/v1/theater/rules", json=narrow, headers=coordinator.headers).json()
    un = {"id": "un", "name": "UN coordinator"}
    assert (done["version"], done["set_by"]) == (2, un)
    assert done["set_at"].startswith("2017-09-16T00:0")  # the service's clock (it runs)
    # refused changes are not changes: kept neither in force nor in the history
    assert_problem(red.client.put("/v1/theater/rules", json=wide, headers=red.headers), 403)
    broken = {"separation": [{"between": ["a"], "horizontal_m": -1}]}
    assert_problem(client.put("/v1/theater/rules", json=broken, headers=coordinator.headers), 422)
    assert blue.get("/v1/theater/rules").json()["version"] == 2
    every = blue.get("/v1/theater/rules/history").json()
    assert every["next_after"] is None
    assert [
        (c["version"], c["separation"][0]["horizontal_m"], c["lead_time_h"], c["set_by"])
        for c in every["changes"]
    ] == [(1, 5000, 0, un), (2, 3000, 6, un)]
    assert every["changes"][0]["separation"] == red.get("/v1/theater/rules/history").json()[
        "changes"
    ][0]["separation"] == [
        {"between": ["air_strike", "*"], "horizontal_m": 5000.0, "vertical_m": 0.0, "time_s": 0.0}
    ]
    # paged by version
    first = red.get("/v1/theater/rules/history", limit=1).json()
    assert [c["version"] for c in first["changes"]] == [1] and first["next_after"] == 1
    rest = red.get("/v1/theater/rules/history", limit=1, after=1).json()
    assert [c["version"] for c in rest["changes"]] == [2] and rest["next_after"] is None
    problem = assert_problem(red.get("/v1/theater/rules/history", limit=0), 422)
    assert [e["field"] for e in problem["errors"]] == ["query.limit"]
    assert_problem(client.get("/v1/theater/rules/history"), 401)


def test_each_answer_to_a_change_of_rules_names_its_own_change(api: Any) -> None:
    """Two coordinators setting rules at once: an answer built from the rules in force
    after the change named the other's change as this one (a reviewer: 4 answers of
    80). Each names what its own request set, by whom."""
    client, _, _, store = api
    tokens = {w: parties.add_party(store, w, w, "en", "coordinator")[1] for w in ("un1", "un2")}
    headers = {who: {"Authorization": f"Bearer {token}"} for who, token in tokens.items()}
    answers: list[tuple[str, float, Any]] = []

    def put(who: str, metres: float) -> None:
        rules = {"separation": [{"between": ["*", "*"], "horizontal_m": metres}]}
        answer = client.put("/v1/theater/rules", json=rules, headers=headers[who])
        answers.append((who, metres, answer.json()))

    for round_ in range(15):
        both = [
            threading.Thread(target=put, args=(who, 1000.0 + 2 * round_ + k))
            for k, who in enumerate(("un1", "un2"))
        ]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
    assert len(answers) == 30
    for who, metres, answer in answers:
        assert answer["set_by"]["id"] == who
        assert answer["separation"][0]["horizontal_m"] == metres
        change = store.get_rules_change(answer["version"])
        assert change is not None and change.party_id == who


def test_while_new_rules_hold_the_theater_filings_are_refused_at_once_and_reads_go_on(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New rules hold the theater while the index made for them is brought up to date
    (long only if the picture had to be read again meanwhile: then it is made under the
    lock, seconds at 1M). A filing then is told so with a 503 and Retry-After (nothing
    filed) instead of hanging; reads do not wait. (Held open here by an Event.)"""
    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    coordinator = Party(client, token)
    red.post("/v1/operations", collection(disc("strike", 40.0, kind="air_strike")))
    theater = client.app.state.theater
    theater.busy_wait_s = 0.3
    inside, go_on = threading.Event(), threading.Event()
    made = theater._index_brought_up_to_date

    def held(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        go_on.wait(30)
        return made(*args, **kwargs)

    monkeypatch.setattr(theater, "_index_brought_up_to_date", held)
    rules = {"separation": [{"between": ["air_strike", "patrol"], "horizontal_m": 2000}]}
    answers: list[Any] = []
    setting = threading.Thread(
        target=lambda: answers.append(
            client.put("/v1/theater/rules", json=rules, headers=coordinator.headers)
        )
    )
    setting.start()
    try:
        assert inside.wait(30)
        refused = blue.post("/v1/operations", collection(disc("patrol", 40.011)))
        problem = assert_problem(refused, 503)
        assert problem["type"] == "urn:tansiq:problem:theater-busy"
        assert problem["detail"].startswith("a change of the theater's rules has held the")
        assert int(refused.headers["retry-after"]) >= 1
        assert blue.get("/v1/conflicts").status_code == 200  # reads go on
        assert [f.party_id for f in store.active_filings()] == ["red"]  # nothing filed
    finally:
        go_on.set()
        setting.join(30)
    assert answers[0].status_code == 200
    filed = blue.post("/v1/operations", collection(disc("patrol", 40.011)))
    assert filed.status_code == 201 and len(filed.json()["conflicts"]) == 1  # under the new rules


def test_new_rules_not_judged_again_within_the_answer_go_on_after_a_202(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change of rules whose pairs take longer to judge again than the answer waits is
    answered 202: the rules are in force, GET /v1/theater/rules says how far the
    catch-up has got, and it ends in the theater's own thread."""
    import tansiq.api.app as app_module

    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    coordinator = Party(client, token)
    theater = client.app.state.theater
    theater.catch_up_slice_s = 0.0  # a volume a slice
    monkeypatch.setattr(app_module, "RULES_ANSWER_WAIT_S", 0.0)
    red.post("/v1/operations", collection(disc("strike", 40.0, kind="air_strike")))
    blue.post("/v1/sites", collection(disc("hq", 40.011, kind="partner_position")))
    rules = {"separation": [{"between": ["air_strike", "partner_position"], "horizontal_m": 2000}]}
    answer = client.put("/v1/theater/rules", json=rules, headers=coordinator.headers)
    assert answer.status_code == 202
    said = answer.json()
    assert said["separation"][0]["horizontal_m"] == 2000  # in force now
    assert said["judged_again"]["done"] is False and said["judged_again"]["volumes"] == 2
    assert said["judged_again"]["volumes_judged"] == 1
    for _ in range(500):
        seen = coordinator.get("/v1/theater/rules").json()["judged_again"]
        if seen["done"]:
            break
        time.sleep(0.01)
    assert seen["volumes_judged"] == 2 and seen["opened"] == 1
    assert blue.get("/v1/theater/rules").json()["judged_again"] == {"done": True}
    (opened,) = blue.get("/v1/conflicts").json()["conflicts"]
    assert opened["state"] == "open"


def test_the_theater_lead_time_flags_conflicts_notified_too_late(api: Any) -> None:
    """The clock reads 2017-09-16T00:00Z; with a 12-hour lead time, a conflict whose
    window starts at 06:00 was notified 6 hours ahead: late, accepted, flagged."""
    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    coordinator = Party(client, token)
    rules = {"separation": [], "lead_time_h": 12}
    done = client.put("/v1/theater/rules", json=rules, headers=coordinator.headers)
    assert done.status_code == 200 and done.json()["lead_time_h"] == 12
    assert red.get("/v1/theater/rules").json()["lead_time_h"] == 12
    morning = {"start": "2017-09-16T06:00:00Z", "end": "2017-09-16T08:00:00Z"}
    red.post("/v1/operations", collection(disc("dawn", 40.0, **morning)))
    (late,) = blue.post("/v1/sites", collection(disc("camp", 40.0))).json()["conflicts"]
    assert late["state"] == "open" and late["late_notice"] is True
    # judged under the change of rules just made: the history's version of it
    assert late["rules_version"] == done.json()["version"] == 1
    (change,) = red.get("/v1/theater/rules/history").json()["changes"]
    assert change["version"] == late["rules_version"] and change["lead_time_h"] == 12
    evening = {"start": "2017-09-16T20:00:00Z", "end": "2017-09-16T22:00:00Z"}
    red.post("/v1/operations", collection(disc("dusk", 41.0, **evening)))
    (timely,) = blue.post("/v1/sites", collection(disc("depot", 41.0))).json()["conflicts"]
    assert timely["late_notice"] is False
    for bad in (-1, "12", True):
        refused = client.put(
            "/v1/theater/rules",
            json={"separation": [], "lead_time_h": bad},
            headers=coordinator.headers,
        )
        detail = assert_problem(refused, 400)["detail"]
        assert "lead_time_h: must be a number of hours >= 0" in detail
    assert red.get("/v1/theater/rules").json()["lead_time_h"] == 12  # nothing changed


def test_an_answer_tells_which_conflicts_its_change_opened(api: Any) -> None:
    """The conflicts a change opened carry its filed_at as their opened_at; the ones a
    replacement kept carry the time they were opened."""
    _, red, blue, _ = api
    red.post("/v1/operations", collection(disc("a", 40.0)))
    made = blue.post("/v1/operations", collection(disc("b", 40.0)))
    assert made.status_code == 201
    (opened,) = made.json()["conflicts"]
    assert opened["opened_at"] == made.json()["filed_at"]
    moved = blue.put(
        f"/v1/operations/{made.json()['id']}", collection(disc("b", 40.0001)), version=1
    )
    assert moved.status_code == 200
    (kept,) = moved.json()["conflicts"]
    assert kept["id"] == opened["id"] and kept["state"] == "open"
    assert kept["opened_at"] == opened["opened_at"] != moved.json()["filed_at"]
    assert moved.json()["filed_at"] > made.json()["filed_at"]


def test_the_other_side_is_shown_how_to_reach_the_party(api: Any) -> None:
    client, red, _, store = api
    _, token = parties.add_party(store, "ngo", "Relief NGO", "ar", contact="+963 11 555 0100 (ops)")
    ngo = Party(client, token)
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    (conflict,) = ngo.post("/v1/sites", collection(disc("clinic", 40.0))).json()["conflicts"]
    (seen_by_red,) = red.get("/v1/conflicts").json()["conflicts"]
    assert seen_by_red["other"]["party"]["contact"] == "+963 11 555 0100 (ops)"
    assert conflict["other"]["party"]["contact"] == ""


def test_sites_and_zones_are_shared_only_with_whom_they_name(api: Any) -> None:
    client, red, blue, store = api
    _, token = parties.add_party(store, "green", "Green", "en")
    green = Party(client, token)

    def shared(body: dict[str, Any]) -> str:
        return json.dumps(body)

    hospital = json.loads(collection(disc("hospital", 38.0)))
    hospital["share"] = ["blue"]
    camp = json.loads(collection(disc("camp", 38.5)))
    camp["share"] = "all"
    site = red.post("/v1/sites", shared(hospital)).json()["id"]
    zone = red.post("/v1/zones", shared(camp)).json()["id"]
    red.post("/v1/operations", collection(disc("secret", 39.0)))
    seen_by_blue = {f["id"]: f for f in blue.get("/v1/shared").json()["filings"]}
    assert set(seen_by_blue) == {site, zone}
    assert seen_by_blue[site]["owner"]["name"] == "Red Forces"
    assert seen_by_blue[site]["body"]["features"][0]["id"] == "hospital"
    assert {f["id"] for f in green.get("/v1/shared").json()["filings"]} == {zone}
    assert red.get("/v1/shared").json()["filings"] == []  # one's own are not "shared with"
    # sharing follows the latest version, and a cancelled filing is shared no more
    hospital["share"] = ["green"]
    red.put(f"/v1/sites/{site}", shared(hospital), 1)
    assert {f["id"] for f in blue.get("/v1/shared").json()["filings"]} == {zone}
    red.delete(f"/v1/zones/{zone}", 1)
    assert {f["id"] for f in green.get("/v1/shared").json()["filings"]} == {site}
    # operations are never shared; unknown parties are named
    secret = json.loads(collection(disc("x", 39.5)))
    secret["share"] = "all"
    assert_problem(red.post("/v1/operations", shared(secret)), 400)
    hospital["share"] = ["nobody"]
    body = assert_problem(red.post("/v1/sites", shared(hospital)), 400)
    assert "share: no party 'nobody'" in body["detail"]


def test_operations_entering_zones_are_flagged_late_or_barred(api: Any) -> None:
    client, red, blue, _ = api
    zone = json.loads(collection(disc("corridor", 40.0, radius_m=2000)))
    zone["features"][0]["properties"].update({"notice_h": 24, "no_entry": ["red"]})
    assert blue.post("/v1/zones", json.dumps(zone)).status_code == 201
    # the theater's clock reads the sample morning, 2017-09-16T00:00Z
    soon, later = "2017-09-16T01:00:00Z", "2017-09-19T00:00:00Z"
    late = red.post("/v1/operations", collection(disc("raid", 40.0, start=soon)))
    assert late.status_code == 201  # late notices are accepted...
    (flagged,) = late.json()["conflicts"]
    assert flagged["late_notice"] is True and flagged["no_entry"] is True  # ...and flagged
    ngo = parties.add_party(api[3], "ngo", "NGO", "ar")[1]
    on_time = Party(client, ngo).post(
        "/v1/operations", collection(disc("aid", 40.0, start=later))
    )
    (fine,) = [c for c in on_time.json()["conflicts"] if c["other"]["party"]["id"] == "blue"]
    assert fine["late_notice"] is False and fine["no_entry"] is False
    # the zone's side sees the same flags
    seen = blue.get("/v1/conflicts").json()["conflicts"]
    flags = {(c["late_notice"], c["no_entry"]) for c in seen}
    assert flags == {(True, True), (False, False)}
    bad = json.loads(collection(disc("z", 41.0)))
    bad["features"][0]["properties"].update({"notice_h": "soon", "no_entry": "red"})
    body = assert_problem(blue.post("/v1/zones", json.dumps(bad)), 400)
    assert "properties.notice_h: must be a number of hours >= 0" in body["detail"]
    assert 'properties.no_entry: must be "all" or a list of party ids' in body["detail"]
    # a replacement is held to the same rules, and nothing of it is stored
    zone_id = blue.get("/v1/conflicts").json()["conflicts"][0]["mine"]["filing"]
    assert_problem(blue.put(f"/v1/zones/{zone_id}", json.dumps(bad), 1), 400)
    assert blue.get(f"/v1/zones/{zone_id}").json()["version"] == 1


def test_past_operations_are_shown_expired_kept_and_no_longer_counted(api: Any) -> None:
    _, red, blue, _ = api
    # the theater's clock reads the sample morning, 2017-09-16T00:00Z
    yesterday = {"start": "2017-09-15T04:00:00Z", "end": "2017-09-15T06:00:00Z"}
    past = red.post("/v1/operations", collection(disc("old", 40.0, **yesterday))).json()["id"]
    coming = red.post(
        "/v1/operations", collection(disc("new", 41.0, end="2017-09-17T00:00:00Z"))
    ).json()["id"]
    site = red.post("/v1/sites", collection(disc("camp", 42.0))).json()["id"]
    old = red.get(f"/v1/operations/{past}").json()
    assert old["expired"] is True and old["ends_at"] == "2017-09-15T06:00:00Z"
    assert old["state"] == "active"  # still in the record
    assert red.get(f"/v1/operations/{coming}").json()["expired"] is False
    # ...but no longer counted: the same place and time, filed now, meets nothing there
    replay = blue.post("/v1/operations", collection(disc("b-old", 40.0, **yesterday)))
    assert replay.status_code == 201 and replay.json()["conflicts"] == []
    # while the operation still to come is found
    ahead = blue.post("/v1/operations", collection(disc("b-new", 41.0)))
    assert [c["mine"]["feature"] for c in ahead.json()["conflicts"]] == ["b-new"]
    camp = red.get(f"/v1/sites/{site}").json()
    assert camp["expired"] is False and camp["ends_at"] is None  # unbounded: never ends
    # a site or zone past its window stops counting too, and says so (it said it did
    # not: found by a reviewer)
    for category in ("sites", "zones"):
        made = red.post(f"/v1/{category}", collection(disc(f"{category}-old", 43.0, **yesterday)))
        shown = red.get(f"/v1/{category}/{made.json()['id']}").json()
        assert shown["expired"] is True and shown["ends_at"] == "2017-09-15T06:00:00Z"


def conflict_features(party: Party, **params: Any) -> list[str]:
    """The caller's own feature of each conflict it is shown under these filters, by id."""
    response = party.get("/v1/conflicts", **params)
    assert response.status_code == 200, response.text
    return [c["mine"]["feature"] for c in response.json()["conflicts"]]


def test_conflicts_are_filtered_by_time_window(api: Any) -> None:
    _, red, blue, _ = api
    day = "2017-09-16T{}:00:00Z"
    red.post(
        "/v1/operations",
        collection(
            disc("dawn", 40.0, start=day.format("04"), end=day.format("06")),
            disc("dusk", 41.0, start=day.format("18"), end=day.format("20")),
            disc("always", 42.0),  # no times: its conflict's window is unbounded
        ),
    )
    blue.post("/v1/sites", collection(*(disc(f"site{k}", 40.0 + k) for k in range(3))))
    assert conflict_features(red) == ["dawn", "dusk", "always"]
    assert conflict_features(red, start=day.format("07")) == ["dusk", "always"]
    assert conflict_features(red, end=day.format("07")) == ["dawn", "always"]
    assert conflict_features(red, start=day.format("05"), end=day.format("05")) == [
        "dawn",
        "always",
    ]
    # the bounds are inclusive: a window that ends when the range starts meets it
    assert conflict_features(red, start=day.format("20"), end=day.format("23")) == [
        "dusk",
        "always",
    ]
    # the offset counts: 20:30+03:00 is 17:30Z, before dusk ends
    assert conflict_features(red, start="2017-09-16T20:30:00+03:00") == ["dusk", "always"]
    assert conflict_features(red, start="2017-09-17T00:00:00Z", end="2017-09-18T00:00:00Z") == [
        "always"
    ]
    # the other side is filtered by the same windows
    assert conflict_features(blue, end=day.format("07")) == ["site0", "site2"]
    # paging counts only what the filter keeps
    first = red.get("/v1/conflicts", start=day.format("07"), limit=1).json()
    assert [c["mine"]["feature"] for c in first["conflicts"]] == ["dusk"]
    rest = red.get("/v1/conflicts", start=day.format("07"), limit=1, after=first["next_after"])
    assert [c["mine"]["feature"] for c in rest.json()["conflicts"]] == ["always"]
    # a filtered page that is full says where it stopped, without reading on to know
    # whether more follow; the next page says there are none
    end = red.get("/v1/conflicts", start=day.format("07"), after=rest.json()["next_after"])
    assert end.json() == {"conflicts": [], "next_after": None}


def test_conflicts_are_filtered_by_area(api: Any) -> None:
    _, red, blue, _ = api
    red.post("/v1/operations", collection(disc("west", 40.0), disc("east", 44.0)))
    blue.post("/v1/sites", collection(disc("camp", 40.0), disc("depot", 44.0)))
    assert conflict_features(red, bbox="39,34,41,36") == ["west"]
    assert conflict_features(red, bbox="43.9,34.9,44.1,35.1") == ["east"]
    assert conflict_features(red, bbox="39,34,45,36") == ["west", "east"]
    assert conflict_features(red, bbox="0,0,10,10") == []
    assert conflict_features(red, bbox="39,36,45,40") == []  # right longitudes, too far north
    # the overlap region counts, not its centre: 500 m east of 40° E is about 40.0055° E
    assert conflict_features(red, bbox="40.003,34,41,36") == ["west"]
    assert conflict_features(red, bbox="40.01,34,41,36") == []
    assert conflict_features(blue, bbox="39,34,41,36") == ["camp"]
    # a box without width or height, edges included: a point, a meridian, a parallel
    # (their union as polygons was empty: found by a reviewer)
    assert conflict_features(red, bbox="40,35,40,35") == ["west"]
    assert conflict_features(red, bbox="40,34,40,36") == ["west"]
    assert conflict_features(red, bbox="39,35,45,35") == ["west", "east"]
    # combined with the other filters, and paged after filtering
    assert conflict_features(red, bbox="39,34,45,36", state="resolved") == []
    page = red.get("/v1/conflicts", bbox="43,34,45,36", limit=1).json()
    assert [c["mine"]["feature"] for c in page["conflicts"]] == ["east"]
    end = red.get("/v1/conflicts", bbox="43,34,45,36", after=page["next_after"]).json()
    assert end == {"conflicts": [], "next_after": None}


def test_a_box_west_of_east_crosses_the_antimeridian(api: Any) -> None:
    _, red, blue, _ = api
    red.post("/v1/operations", collection(disc("dateline", 179.999), disc("inland", 40.0)))
    blue.post("/v1/sites", collection(disc("atoll", -179.999), disc("town", 40.0)))
    assert conflict_features(red) == ["dateline", "inland"]
    assert conflict_features(red, bbox="179.5,34,-179.5,36") == ["dateline"]
    # either half of the box alone finds the conflict that straddles 180°
    assert conflict_features(red, bbox="179.5,34,180,36") == ["dateline"]
    assert conflict_features(red, bbox="-180,34,-179.5,36") == ["dateline"]
    assert conflict_features(blue, bbox="-180,34,-179.5,36") == ["atoll"]
    # 50° E eastwards across 180° to 30° E: everything but 30..50° E
    assert conflict_features(red, bbox="50,34,30,36") == ["dateline"]
    # the same numbers with west below east: only 30..50° E
    assert conflict_features(red, bbox="30,34,50,36") == ["inland"]
    assert conflict_features(red, bbox="35,34,-170,36") == ["dateline", "inland"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"start": "2017-09-16T04:00:00"}, "query.start", "no UTC offset"),
        ({"end": "2017-09-16T04:00:00"}, "query.end", "no UTC offset"),
        ({"start": "yesterday"}, "query.start", "not an RFC 3339 date-time"),
        ({"end": "2017-09-16"}, "query.end", "a date without a time"),
        ({"end": "2017-02-30T04:00:00Z"}, "query.end", "has day 30"),
        ({"end": "2017-09-16T09:00:00 03:00"}, "query.end", "send it as %2B"),
        (
            {"start": "2017-09-16T06:00:00Z", "end": "2017-09-16T04:00:00Z"},
            "query.start",
            "after end",
        ),
        ({"bbox": "1,2,3"}, "query.bbox", "4 numbers"),
        ({"bbox": "1,2,3,4,5"}, "query.bbox", "4 numbers"),
        ({"bbox": "east,2,3,4"}, "query.bbox", "min_lon: 'east' is not a number"),
        ({"bbox": "1,2,3,nan"}, "query.bbox", "max_lat: 'nan' is not a number"),
        ({"bbox": "181,0,182,1"}, "query.bbox", "min_lon: 181 is outside [-180, 180]"),
        ({"bbox": "0,0,-180.5,1"}, "query.bbox", "max_lon: -180.5 is outside [-180, 180]"),
        ({"bbox": "0,-91,1,0"}, "query.bbox", "min_lat: -91 is outside [-90, 90]"),
        ({"bbox": "0,10,1,5"}, "query.bbox", "min_lat 10 is above max_lat 5"),
    ],
)
def test_bad_conflict_filters_are_problems_naming_the_field(
    api: Any, params: dict[str, str], field: str, words: str
) -> None:
    _, red, blue, _ = api
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    blue.post("/v1/sites", collection(disc("clinic", 40.0)))
    body = assert_problem(red.get("/v1/conflicts", **params), 422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert words in body["errors"][0]["detail"]
    assert body["detail"].startswith(f"{field}: ")


def test_filters_never_show_a_party_anothers_conflicts(api: Any) -> None:
    client, red, blue, store = api
    red.post("/v1/operations", collection(disc("strike", 40.0)))
    blue.post("/v1/sites", collection(disc("clinic", 40.0), disc("school", 42.0)))
    _, green_token = parties.add_party(store, "green", "Green", "ar")
    green = Party(client, green_token)
    green.post("/v1/operations", collection(disc("convoy", 42.0)))
    everything = {
        "start": "1970-01-01T00:00:00Z",
        "end": "2100-01-01T00:00:00Z",
        "bbox": "-180,-90,180,90",
    }
    _, yellow_token = parties.add_party(store, "yellow", "Yellow", "en")
    yellow = Party(client, yellow_token)  # a side of nothing
    for params in ({}, everything, {"bbox": "-180,-90,180,90"}, {"bbox": "170,-90,-170,90"}):
        assert conflict_features(yellow, **params) == []
    # red and green each see only the conflict they are a side of, never the other's
    assert conflict_features(red, **everything) == ["strike"]
    assert conflict_features(red, bbox="41,34,43,36") == []
    assert conflict_features(green, **everything) == ["convoy"]
    assert conflict_features(green, bbox="39,34,41,36") == []
    assert sorted(conflict_features(blue, **everything)) == ["clinic", "school"]


def test_a_box_meeting_either_sides_region_finds_the_conflict(api: Any) -> None:
    client, red, blue, store = api
    _, token = parties.add_party(store, "un", "UN coordinator", "en", "coordinator")
    rules = {"separation": [{"between": ["air_strike", "partner_position"], "horizontal_m": 2000}]}
    client.put("/v1/theater/rules", json=rules, headers=Party(client, token).headers)
    red.post("/v1/operations", collection(disc("strike", 40.0, kind="air_strike")))
    blue.post("/v1/sites", collection(disc("hq", 40.011, kind="partner_position")))
    (seen,) = red.get("/v1/conflicts").json()["conflicts"]
    # 1 km apart: each side's region is its own disc, and the two do not reach 40.008° E
    assert max(p[0] for p in seen["mine"]["region"]["coordinates"][0]) < 40.008
    assert min(p[0] for p in seen["other"]["region"]["coordinates"][0]) > 40.003
    assert conflict_features(red, bbox="39.99,34,40.003,36") == ["strike"]  # mine only
    assert conflict_features(red, bbox="40.008,34,40.02,36") == ["strike"]  # theirs only
    assert conflict_features(blue, bbox="39.99,34,40.003,36") == ["hq"]
    assert conflict_features(red, bbox="40.03,34,40.04,36") == []


def test_a_body_with_a_byte_order_mark_is_read_as_json_and_stored_without_it(api: Any) -> None:
    _, red, _, store = api
    filed = red.post("/v1/operations", "\ufeff" + collection(disc("x", 40.0)))
    assert filed.status_code == 201, filed.text
    assert store.get_filing(filed.json()["id"]).body.startswith("{")
    shared = "\ufeff" + json.dumps({"type": "FeatureCollection", "share": "all",
                                    "features": [disc("s", 41.0)]})  # fmt: skip
    assert red.post("/v1/sites", shared).status_code == 201


def test_a_repeated_member_is_named_where_the_filer_wrote_it(api: Any) -> None:
    _, red, _, _ = api
    text = collection(disc("x", 40.0))[:-1] + ', "share": {"zz": 1, "zz": 2}}'
    refused = red.post("/v1/sites", text)
    assert refused.status_code in (400, 422)
    assert "share" in refused.json()["detail"] and "tansiq.parties" not in refused.text
