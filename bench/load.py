"""Load benchmark of the service: filings per second, their latency, and push latency.

    .venv/bin/python bench/load.py --stored 100000 --duration 20 --clients 8

1. A store is filled in-process with ``--stored`` volumes of the synthetic
   theater (``bench/theater.py``), filed as 200-feature filings of its six
   parties under the theater's separation rules. With ``--db PATH`` the store
   is kept there and reused by the next run (a 1M fill takes many minutes).
2. ``tansiq serve`` is started on it (a second process) with its clock at the
   start of the theater's week (2017-09-11), and the time until it answers is
   reported: the restart reads every stored volume's footprint.
3. A load generator (this process, ``--clients`` threads with keep-alive
   connections on ``raw_http``: its own CPU shares the two cores) files into one
   contested square kilometre near Deir ez-Zor that holds about 100 active
   operations of the six parties: each client keeps its share of operations,
   replacing one (moving it, with ``If-Match``) or cancelling and refiling it,
   so the active count stays steady and every filing conflicts with several
   others.
4. Every party listens on ``GET /v1/events`` from the last event of the fill;
   push latency is from the moment a filing's request was sent to the moment
   the other side received the conflict it opened.
5. With ``--floor``, the clients send ``GET /v1/me`` instead (authenticated,
   no store write): what the HTTP stack and the load generator alone allow.

A reused store may hold the contested operations an earlier run left active:
they are cancelled (through the API) before the run, so that every run starts
with the square kilometre as the fill left it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import shapely

import raw_http
from results import write_json
from tansiq.cli.local_server import free_local_port, wait_until_answering
from tansiq.service import parties
from tansiq.service.clocks import exercise_clock
from tansiq.service.public_ids import KEY_SETTING, PublicIds
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import PARTIES, SEPARATION, WEEK_START, _feature_properties, make_volumes

TANSIQ = Path(sys.executable).with_name("tansiq")
#: the contested square kilometre (lon, lat of its south-west corner; ~0.011 x 0.009 deg)
CORNER = (40.14, 35.33)
SIZE_DEG = (0.011, 0.009)
ACTIVE = 100
#: the theater's clock starts with its week, so that none of it has expired
CLOCK_START = "2017-09-11T00:00:00Z"
#: the contested operations' window
CONTESTED_WINDOW = ("2017-09-16T04:00:00Z", "2017-09-16T10:00:00Z")
CONTESTED_END = 1505556000.0  # 2017-09-16T10:00:00Z
#: an event that opened a conflict, as the server writes it (compact JSON): its id
OPENED = re.compile(
    rb'event: conflict\.opened\ndata: \{"kind":"conflict\.opened","conflict":\{"id":(\d+)'
)


def fill(store: SqliteStore, stored: int, coordinator: Any) -> None:
    theater = Theater(store, clock=exercise_clock(WEEK_START))
    theater.set_rules(coordinator, SEPARATION)
    by_party: dict[str, list[dict[str, Any]]] = defaultdict(list)
    volumes = make_volumes(stored, seed=11)
    geojson = shapely.to_geojson(np.array([v.geometry for v in volumes], dtype=object)).tolist()
    for v, g in zip(volumes, geojson, strict=True):
        by_party[v.party].append(
            {
                "type": "Feature",
                "id": v.id,
                "geometry": json.loads(g),
                "properties": _feature_properties(v),
            }
        )
    records = {p.id: store.get_party(p.id) for p in PARTIES}
    t0 = time.perf_counter()
    for party_id, features in by_party.items():
        record = records[party_id]
        assert record is not None
        for lo in range(0, len(features), 200):
            body = {"type": "FeatureCollection", "features": features[lo : lo + 200]}
            theater.file(record, "operation", json.dumps(body))
    theater.close()  # the server opens the store next
    print(f"filled {stored:,} volumes in {time.perf_counter() - t0:.1f} s", flush=True)


def contested(rng: random.Random, fid: str) -> str:
    lon = CORNER[0] + rng.uniform(0, SIZE_DEG[0])
    lat = CORNER[1] + rng.uniform(0, SIZE_DEG[1])
    feature = {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "kind": rng.choice(["convoy", "patrol", "drone_flight", "medical_evacuation"]),
            "radius_m": rng.uniform(20, 80),
            "start": CONTESTED_WINDOW[0],
            "end": CONTESTED_WINDOW[1],
        },
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time a process has used so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cancel_leftovers(db: Path, url: str, tokens: dict[str, str]) -> int:
    """Cancel the contested operations an earlier run on this store left active."""
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT f.id, f.version, v.party_id FROM filing f"
            " JOIN filing_version v ON v.id = f.id AND v.version = f.version"
            " WHERE f.state = 'active' AND v.ends_at = ? AND v.body LIKE '%\"id\": \"op%'",
            (CONTESTED_END,),
        ).fetchall()
    for filing_id, version, party in rows:
        r = httpx.delete(
            f"{url}/v1/operations/{filing_id}",
            headers={"Authorization": f"Bearer {tokens[party]}", "If-Match": str(version)},
        )
        r.raise_for_status()
    return len(rows)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--db", type=Path, help="keep the filled store here and reuse it")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="send GET /v1/me instead of filings: the HTTP stack's and authentication's own rate",
    )
    parser.add_argument(
        "--keys",
        action="store_true",
        help="send an Idempotency-Key (a new one each) with every new filing, as a careful"
        " client does",
    )
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="tansiq-load-")) / "tansiq.db"
    if db.exists():
        store = SqliteStore(db)
        tokens = {p.id: parties.issue_token(store, p.id)[1] for p in PARTIES}
        print(f"reusing {db}", flush=True)
    else:
        store = SqliteStore(db)
        tokens = {p.id: parties.add_party(store, p.id, p.name, "en")[1] for p in PARTIES}
        coordinator, _ = parties.add_party(store, "coordinator", "Coordinator", "en", "coordinator")
        fill(store, args.stored, coordinator)
    store.close()
    # listeners start after the events of the fill (the stored theater's own conflicts)
    with sqlite3.connect(db) as raw:
        # each party's stream resumes after its own last event (a stream may resume
        # only after one of its party's events)
        last_event = {
            p.id: raw.execute(
                "SELECT coalesce(max(id), 0) FROM event WHERE party_id = ?", (p.id,)
            ).fetchone()[0]
            for p in PARTIES
        }
        (stored,) = raw.execute("SELECT count(*) FROM volume").fetchone()

    port = free_local_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port), "--clock-start", CLOCK_START],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_answering(url, timeout_s=600, process=server)
    ready_s = time.perf_counter() - t0
    print(f"server ready in {ready_s:.1f} s", flush=True)
    with sqlite3.connect(db) as raw:  # made by the server when it starts
        (key,) = raw.execute("SELECT value FROM setting WHERE name = ?", (KEY_SETTING,)).fetchone()
    # the streams' resume points as parties are shown event ids
    shown = PublicIds(bytes.fromhex(key))
    resume = {
        p: {"Last-Event-ID": str(shown.show("event", last))} if last else {}
        for p, last in last_event.items()
    }
    left = cancel_leftovers(db, url, tokens)
    if left:
        print(f"cancelled {left} contested operations left active by an earlier run", flush=True)

    received: dict[tuple[str, int], float] = {}

    streams: list[raw_http.Connection] = []

    def listen(party: str) -> None:
        # raw_http and a regular expression, not http.client and a JSON parser: the
        # generator's own CPU per filing is part of what two cores allow (reported as
        # loadgen_cpu_ms_per_filing); a conflict's id is the first member of its view
        headers = {"Authorization": f"Bearer {tokens[party]}", **resume[party]}
        pending = bytearray()

        def on_body(piece: bytes) -> None:
            now = time.perf_counter()
            pending.extend(piece)
            end = pending.rfind(b"\n\n")
            if end >= 0:
                for match in OPENED.finditer(pending, 0, end):
                    received[(party, int(match.group(1)))] = now
                del pending[: end + 2]

        conn = raw_http.Connection("127.0.0.1", port)
        streams.append(conn)
        try:
            conn.stream("/v1/events", headers, on_body)
        except OSError:
            return
        finally:
            conn.close()

    for p in PARTIES:
        threading.Thread(target=listen, args=(p.id,), daemon=True).start()
    time.sleep(1.0)

    latencies: list[float] = []
    statuses: dict[int, int] = defaultdict(int)
    sent: list[tuple[float, str, list[tuple[str, int]]]] = []
    lock = threading.Lock()
    share = ACTIVE // args.clients
    results: queue.Queue[None] = queue.Queue()

    def client(k: int) -> None:
        rng = random.Random(k)
        party = PARTIES[k % len(PARTIES)].id
        headers = {"Authorization": f"Bearer {tokens[party]}"}
        mine: list[tuple[str, int] | None] = [None] * share
        conn = raw_http.Connection("127.0.0.1", port)

        def call(method: str, path: str, body: str | None = None, version: int | None = None,
                 extra: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
            extra = dict(extra or {})
            if version is not None:
                extra["If-Match"] = str(version)
            if body is not None:
                extra["Content-Type"] = "application/json"
            data = None if body is None else body.encode()
            return conn.request(method, path, {**headers, **extra}, data)

        end = time.perf_counter() + args.duration
        while args.floor and time.perf_counter() < end:
            t = time.perf_counter()
            status, _ = call("GET", "/v1/me")
            with lock:
                latencies.append(time.perf_counter() - t)
                statuses[status] += 1
        while time.perf_counter() < end:
            slot = rng.randrange(share)
            held = mine[slot]
            t = time.perf_counter()
            if held is None:
                keyed = {"Idempotency-Key": uuid.uuid4().hex} if args.keys else {}
                status, content = call(
                    "POST", "/v1/operations", contested(rng, f"op{slot}"), extra=keyed
                )
            elif rng.random() < 0.7:
                path = f"/v1/operations/{held[0]}"
                status, content = call("PUT", path, contested(rng, f"op{slot}"), held[1])
            else:
                status, content = call("DELETE", f"/v1/operations/{held[0]}", None, held[1])
            took = time.perf_counter() - t
            with lock:
                latencies.append(took)
                statuses[status] += 1
            if status in (200, 201):
                answer = orjson.loads(content)
                mine[slot] = None if answer["state"] == "cancelled" else (
                    answer["id"], answer["version"]
                )
                # a replacement's answer also lists the conflicts it kept: only those
                # this change opened (stamped with its time) are pushed because of it
                opened = [
                    (c["other"]["party"]["id"], c["id"])
                    for c in answer["conflicts"]
                    if c["state"] == "open" and c["opened_at"] == answer["filed_at"]
                ]
                with lock:
                    sent.append((t, party, opened))
        conn.close()
        results.put(None)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    cpu_start = (cpu_seconds(server.pid), time.process_time())
    t_start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t_start
    server_user, server_system = (
        end - start for end, start in zip(cpu_seconds(server.pid), cpu_start[0], strict=True)
    )
    server_cpu = server_user + server_system
    loadgen_cpu = time.process_time() - cpu_start[1]
    # let the last pushes arrive: those still missing after 10 s count as lost
    expected = {(other, conflict_id) for _, _, opened in sent for other, conflict_id in opened}
    deadline = time.perf_counter() + 10.0
    while time.perf_counter() < deadline and not expected <= received.keys():
        time.sleep(0.05)
    for stream in streams:
        stream.close()
    server.terminate()
    server.wait(timeout=30)

    ok = statuses.get(200, 0) + statuses.get(201, 0)
    lat_ms = np.array(latencies) * 1000
    push_ms = []
    missing = 0
    for t, _, opened in sent:
        for other, conflict_id in opened:
            got = received.get((other, conflict_id))
            if got is None:
                missing += 1
            else:
                push_ms.append((got - t) * 1000)
    result = {
        "stored": stored,  # active volumes, as the server read them
        "floor": args.floor,
        "keys": args.keys,
        "clients": args.clients,
        "duration_s": wall,
        "server_ready_s": ready_s,
        "requests": len(latencies),
        "ok": ok,
        "statuses": dict(statuses),
        "filings_per_s": ok / wall,
        "latency_ms": {
            "p50": float(np.percentile(lat_ms, 50)),
            "p99": float(np.percentile(lat_ms, 99)),
            "max": float(lat_ms.max()),
        },
        # where two cores went: the server's and this generator's CPU per filing answered
        "server_cpu_ms_per_filing": server_cpu / max(ok, 1) * 1000,
        "server_system_cpu_ms_per_filing": server_system / max(ok, 1) * 1000,  # of which
        "loadgen_cpu_ms_per_filing": loadgen_cpu / max(ok, 1) * 1000,
        "conflicts_opened": sum(len(o) for _, _, o in sent),
        "push_ms": {
            "p50": float(np.percentile(push_ms, 50)) if push_ms else None,
            "p99": float(np.percentile(push_ms, 99)) if push_ms else None,
            "not_received": missing,
        },
    }
    print(json.dumps(result, indent=1))
    write_json("load", result)


if __name__ == "__main__":
    main()
