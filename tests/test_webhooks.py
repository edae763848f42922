"""Webhooks: events POSTed to a party's own URL, retried until its server takes them."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from samples import sample_morning
from tansiq.api import create_app
from tansiq.service import parties
from tansiq.store import SqliteStore


class Receiver:
    """A real HTTP server that answers 500 to the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                ok = len(outer.requests) > failures
                if ok:
                    outer.accepted.append(body)
                self.send_response(204 if ok else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
