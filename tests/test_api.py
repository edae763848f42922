"""The HTTP API, in process over a real SQLite file, and `tansiq serve` as a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from tansiq.api import create_app
from tansiq.service import parties
from tansiq.store import SqliteStore

TANSIQ = Path(sys.executable).with_name("tansiq")


def disc(fid: str, lon: float, lat: float = 35.0, **props: object) -> dict[str, Any]:
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

    def post(self, path: str, body: str) -> httpx.Response:
        headers = {**self.headers, "Content-Type": "application/geo+json"}
        return self.client.post(path, content=body, headers=headers)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers, params=params)

    def put(self, path: str, body: str, version: int | None) -> httpx.Response:
        headers = dict(self.headers)
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return self.client.put(path, content=body, headers=headers)

    def delete(self, path: str, version: int | None) -> httpx.Response:
        headers = dict(self.headers)
        if version is not None:
            headers["If-Match"] = str(version)
        return self.client.delete(path, headers=headers)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Party, Party, SqliteStore]]:
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red Forces", "ru")
    _, blue = parties.add_party(store, "blue", "Blue Coalition", "en")
    with TestClient(create_app(store, max_body=64 * 1024)) as client:
        yield client, Party(client, red), Party(client, blue), store


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
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


def test_openapi_describes_every_route(api: Any) -> None:
    client = api[0]
    spec = client.get("/openapi.json").json()
    for path in ("/v1/operations", "/v1/sites/{filing_id}", "/v1/conflicts/{conflict_id}/ack"):
        assert path in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_tansiq_serve_answers_over_http(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    made = subprocess.run(
        [str(TANSIQ), "party", "add", "red", "--name", "Red", "--lang", "en", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1.0)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        filed = httpx.post(
            f"{url}/v1/operations",
            content=collection(disc("a", 40.0)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"},
        )
        assert filed.status_code == 201, filed.text
        assert httpx.get(f"{url}/v1/conflicts").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)


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
    assert done.status_code == 200 and done.json()["open_conflicts"] == 1
    assert red.get("/v1/theater/rules").json()["separation"][0]["horizontal_m"] == 2000
    (opened,) = blue.get("/v1/conflicts").json()["conflicts"]
    assert opened["state"] == "open" and opened["gaps"]["horizontal_m"] > 0
    # relaxing them again resolves it
    client.put("/v1/theater/rules", json={"separation": []}, headers=coordinator.headers)
    assert [c["state"] for c in blue.get("/v1/conflicts").json()["conflicts"]] == ["resolved"]
    broken = {"separation": [{"between": ["a"], "horizontal_m": -1}]}
    answer = client.put("/v1/theater/rules", json=broken, headers=coordinator.headers)
    body = assert_problem(answer, 422)
    assert all(e["detail"].startswith("separation[0]") for e in body["errors"])


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
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86400))
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


def test_past_operations_are_shown_expired_and_kept(api: Any) -> None:
    _, red, _, _ = api
    past = red.post(
        "/v1/operations",
        collection(disc("old", 40.0, start="2017-09-16T04:00:00Z", end="2017-09-16T06:00:00Z")),
    ).json()["id"]
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    coming = red.post("/v1/operations", collection(disc("new", 41.0, end=future))).json()["id"]
    site = red.post("/v1/sites", collection(disc("camp", 42.0))).json()["id"]
    old = red.get(f"/v1/operations/{past}").json()
    assert old["expired"] is True and old["ends_at"] == "2017-09-16T06:00:00Z"
    assert old["state"] == "active"  # still in the record, and still judged against
    assert red.get(f"/v1/operations/{coming}").json()["expired"] is False
    camp = red.get(f"/v1/sites/{site}").json()
    assert camp["expired"] is False and camp["ends_at"] is None  # unbounded: never ends
