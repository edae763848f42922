"""Webhooks: events POSTed to a party's own URL, retried until its server takes them."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from samples import sample_morning
from tansiq.api import create_app
from tansiq.service import parties
from tansiq.service.public_ids import PublicIds
from tansiq.store import SqliteStore


class Receiver:
    """A real HTTP server that answers 500 to the first ``failures`` requests; with a
    ``gate``, each request waits for it to open before it is answered."""

    def __init__(
        self, failures: int, gate: threading.Event | None = None, port: int = 0
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if gate is not None:
                    gate.wait(timeout=60)
                ok = len(outer.requests) > failures
                if ok:
                    outer.accepted.append(body)
                self.send_response(204 if ok else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tansiq"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def disc(fid: str) -> str:
    feature = {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
        "properties": {"kind": "patrol", "radius_m": 500},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def test_events_reach_the_partys_url_after_retries(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red", "en")
    _, blue = parties.add_party(store, "blue", "Blue", "ar")
    receiver = Receiver(failures=2)
    with TestClient(create_app(store, clock=sample_morning())) as client:
        as_red = {"Authorization": f"Bearer {red}"}
        as_blue = {"Authorization": f"Bearer {blue}"}
        bad = client.put("/v1/webhook", json={"url": "ftp://x"}, headers=as_red)
        assert bad.status_code == 400 and "url:" in bad.json()["detail"]
        assert client.put("/v1/webhook", json={"url": receiver.url}, headers=as_red).is_success
        assert client.get("/v1/webhook", headers=as_red).json() == {"url": receiver.url}
        client.post("/v1/sites", content=disc("clinic"), headers=as_blue)
        client.post("/v1/operations", content=disc("strike"), headers=as_red)
        deadline = time.monotonic() + 30
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        (event,) = receiver.accepted
        assert event["kind"] == "conflict.opened"
        assert event["conflict"]["other"]["party"]["id"] == "blue"
        assert len(receiver.requests) == 3  # two refusals, then taken
        assert all(r["id"] == event["id"] for r in receiver.requests)
        # blue has no webhook: nothing is sent for it; red's is delivered once
        time.sleep(0.5)
        assert len(receiver.accepted) == 1
        assert client.delete("/v1/webhook", headers=as_red).json() == {"url": None}
    receiver.server.shutdown()


def _until(done: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(done())


@pytest.fixture
def two(tmp_path: Path) -> Any:
    """A server with red and blue, and a way for them to make conflicts (each makes one
    event for each side)."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red", "en")
    _, blue = parties.add_party(store, "blue", "Blue", "ar")
    with TestClient(create_app(store, clock=sample_morning())) as client:
        as_red = {"Authorization": f"Bearer {red}"}
        as_blue = {"Authorization": f"Bearer {blue}"}
        made = iter(range(1000))

        def conflict() -> None:
            n = next(made)
            client.post("/v1/sites", content=disc(f"clinic{n}"), headers=as_blue)
            client.post("/v1/operations", content=disc(f"strike{n}"), headers=as_red)

        yield client, store, as_red, as_blue, conflict


def test_a_receiver_that_does_not_answer_holds_up_only_its_own_party(two: Any) -> None:
    client, _, as_red, as_blue, conflict = two
    gate = threading.Event()
    stuck, fine = Receiver(failures=0, gate=gate), Receiver(failures=0)
    # blue's comes first in every list of webhooks (one thread used to send them all)
    assert client.put("/v1/webhook", json={"url": stuck.url}, headers=as_blue).is_success
    assert client.put("/v1/webhook", json={"url": fine.url}, headers=as_red).is_success
    conflict()
    # red's event arrives while blue's receiver still holds its first request
    assert _until(lambda: fine.accepted, 4.0)
    assert _until(lambda: stuck.requests, 4.0) and not stuck.accepted
    gate.set()
    assert _until(lambda: stuck.accepted, 10.0)
    stuck.server.shutdown()
    fine.server.shutdown()


def test_events_never_go_to_a_url_the_party_removed(two: Any) -> None:
    client, _, _, as_blue, conflict = two
    gate = threading.Event()
    old = Receiver(failures=0, gate=gate)
    assert client.put("/v1/webhook", json={"url": old.url}, headers=as_blue).is_success
    for _ in range(3):
        conflict()
    assert _until(lambda: old.requests, 10.0)  # the first is in flight, held
    assert client.delete("/v1/webhook", headers=as_blue).is_success
    gate.set()
    time.sleep(1.5)
    assert len(old.requests) == 1  # the one in flight; none of the other two
    old.server.shutdown()


def test_setting_the_same_url_again_loses_nothing(two: Any) -> None:
    client, store, _, as_blue, conflict = two
    # the port is held (bound, not listening: connections are refused) until the
    # receiver takes it, so that nothing else can take it meanwhile
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    port = reserved.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tansiq"
    assert client.put("/v1/webhook", json={"url": url}, headers=as_blue).is_success
    conflict()
    conflict()  # events for blue, not delivered: nobody listens yet
    assert client.put("/v1/webhook", json={"url": url}, headers=as_blue).is_success
    reserved.close()
    late = Receiver(failures=0, port=port)
    events = store.events_after("blue", 0)
    assert len(events) == 4  # two clinics, two strikes, every pair
    shown = PublicIds.of(store)
    expected = [shown.show("event", e.id) for e in events]
    assert _until(lambda: [e["id"] for e in late.accepted] == expected, 15.0)
    # marked delivered once the receiver has answered (just after it counted the event)
    assert _until(lambda: store.webhook_of("blue") == (url, events[-1].id), 10.0)
    late.server.shutdown()


def test_a_url_no_resolver_takes_stops_no_one_else(two: Any) -> None:
    client, store, as_red, _, conflict = two
    # stored as an older server would have (the API now refuses it): a 64-letter label
    store.set_webhook("blue", "http://" + "a" * 64 + ".example/", 0)
    fine = Receiver(failures=0)
    assert client.put("/v1/webhook", json={"url": fine.url}, headers=as_red).is_success
    conflict()
    assert _until(lambda: fine.accepted, 10.0)
    fine.server.shutdown()
