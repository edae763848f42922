"""Kill the server with SIGKILL in the middle of a load, restart it: every filing that got
a 2xx answer is there, unchanged; none is half-there; conflicts match the volumes; and
every request sent again with its Idempotency-Key, answered or not, ends filed once."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from samples import SAMPLE_MORNING, sample_morning
from tansiq.cli.local_server import free_local_port, wait_until_answering
from tansiq.engine.detect import detect
from tansiq.scenario.model import Party, Scenario
from tansiq.service import parties
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

TANSIQ = Path(sys.executable).with_name("tansiq")



def start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            str(TANSIQ),
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--clock-start",
            SAMPLE_MORNING,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_until_answering(f"http://127.0.0.1:{port}", process=server, poll_s=0.1)
    return server


def body(rng: random.Random, n: int) -> str:
    features = [
        {
            "type": "Feature",
            "id": f"v{k}",
            "geometry": {
                "type": "Point",
                "coordinates": [40.0 + rng.uniform(-0.05, 0.05), 35.0 + rng.uniform(-0.05, 0.05)],
            },
            "properties": {"kind": "patrol", "radius_m": rng.uniform(100, 3000)},
        }
        for k in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


def test_sigkill_mid_load_loses_no_acknowledged_filing(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    tokens = {
        pid: parties.add_party(store, pid, pid.title(), "en")[1] for pid in ("red", "blue", "green")
    }
    store.close()
    port = free_local_port()
    server = start_server(db, port)
    acknowledged: dict[str, tuple[str, str]] = {}  # filing id -> (party, body)
    sent: dict[str, tuple[str, str, str | None]] = {}  # key -> (party, body, id answered)
    lock = threading.Lock()
    stop = threading.Event()

    def filer(party: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                text = body(rng, rng.randint(1, 4))
                key = f"{party}-{seed}-{n}"
                with lock:
                    sent[key] = (party, text, None)  # in flight: maybe filed, maybe not
                try:
                    answer = client.post(
                        "/v1/operations",
                        content=text,
                        headers={"Authorization": f"Bearer {tokens[party]}",
                                 "Idempotency-Key": key},
                    )  # fmt: skip
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code == 201:
                    with lock:
                        acknowledged[answer.json()["id"]] = (party, text)
                        sent[key] = (party, text, answer.json()["id"])

    threads = [
        threading.Thread(target=filer, args=(party, seed))
        for seed, party in enumerate(["red", "blue", "green", "red", "blue", "green"])
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.pid, signal.SIGKILL)  # mid-load: filers are still sending
    server.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acknowledged) >= 40, "the load never got going"

    # restart: every acknowledged filing answers, unchanged, to its owner
    server = start_server(db, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for filing_id, (party, text) in acknowledged.items():
                got = client.get(
                    f"/v1/operations/{filing_id}",
                    headers={"Authorization": f"Bearer {tokens[party]}"},
                )
                assert got.status_code == 200, (filing_id, got.text)
                assert got.json()["body"] == json.loads(text)
            # every request sent again, as a client does after a lost answer: answered
            # ones are replayed with their id; those in flight at the kill were filed
            # once (replayed) or not at all (filed now): never twice
            for key, (party, text, answered) in sent.items():
                again = client.post(
                    "/v1/operations",
                    content=text,
                    headers={"Authorization": f"Bearer {tokens[party]}", "Idempotency-Key": key},
                )
                assert again.status_code == 201, (key, again.text)
                if answered is not None:
                    assert again.headers["idempotent-replayed"] == "true"
                    assert again.json()["id"] == answered
    finally:
        server.terminate()
        server.wait(timeout=30)

    # nothing half-there: the open conflicts are exactly those of the stored volumes
    store = SqliteStore(db)
    stored = store.active_filings()
    assert {f.id for f in stored} >= set(acknowledged)
    assert len(stored) == len(sent)  # one filing per request, whatever the kill cut
    theater = Theater(store, clock=sample_morning())
    volumes = tuple(v for f in stored for v in theater.volumes(f.party_id, f.id, f.body))
    scenario = Scenario("after", tuple(Party(p, p, "en") for p in tokens), (), volumes)
    expected = {(c.a, c.b) for c in detect(scenario)}
    open_pairs = {
        tuple(sorted((c.volume_a, c.volume_b)))
        for party in tokens
        for c in store.conflicts_of_party(party, "open")
    }
    assert open_pairs == expected
