"""Live events over Server-Sent Events, against a real `tansiq serve`."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tansiq.api.events import GIVEN_WAY, HEARTBEAT_S, STREAMS_PER_PARTY
from tansiq.cli.local_server import free_local_port
from tansiq.service import parties
from tansiq.service.public_ids import PublicIds
from tansiq.store import SqliteStore
from test_crash import TANSIQ, start_server


def disc(fid: str, lon: float) -> str:
    feature = {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
        "properties": {"kind": "patrol", "radius_m": 500},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    tokens = {p: parties.add_party(store, p, p.title(), "en")[1] for p in ("red", "blue")}
    # a second token of blue's, which a test revokes while its stream is open
    tokens["blue-2-id"], tokens["blue-2"] = parties.issue_token(store, "blue")
    store.close()
    port = free_local_port()
    process = start_server(db, port)
    try:
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        process.terminate()
        process.wait(timeout=30)


def listen(url: str, token: str, last_id: str | None, into: queue.Queue[Any]) -> threading.Event:
    """Read the stream in a thread; put (id, event, data, received at) for each event."""
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}"}
    if last_id is not None:
        headers["Last-Event-ID"] = last_id

    def run() -> None:
        try:
            read()
        except httpx.HTTPError:
            return  # the server closed the stream (it is shutting down)

    def read() -> None:
        with httpx.stream("GET", f"{url}/v1/events", headers=headers, timeout=None) as response:
            into.put(("status", response.status_code, response.headers["content-type"], 0.0))
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    if "id" in fields:
                        into.put((fields["id"], fields["event"], fields["data"], time.monotonic()))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        into.put(("end", None, None, time.monotonic()))  # the server ended the stream

    threading.Thread(target=run, daemon=True).start()
    return stop


def test_the_other_side_is_told_live_and_a_reconnect_misses_nothing(
    server: tuple[str, dict[str, str]],
) -> None:
    url, tokens = server
    red = {"Authorization": f"Bearer {tokens['red']}"}
    events: queue.Queue[Any] = queue.Queue()
    stop = listen(url, tokens["blue"], None, events)
    assert events.get(timeout=30)[1:3] == (200, "text/event-stream; charset=utf-8")
    blue_site = httpx.post(
        f"{url}/v1/sites", content=disc("clinic", 40.0),
        headers={"Authorization": f"Bearer {tokens['blue']}"},
    ).json()  # fmt: skip
    filed_at = time.monotonic()
    strike = httpx.post(f"{url}/v1/operations", content=disc("strike", 40.0), headers=red).json()
    event_id, kind, data, received_at = events.get(timeout=30)
    assert kind == "conflict.opened"
    told = json.loads(data)
    assert told["conflict"]["other"]["party"]["id"] == "red"
    assert told["conflict"]["mine"]["filing"] == blue_site["id"]
    assert received_at - filed_at < 5.0  # measured properly in the benchmark
    stop.set()

    # while blue is away, red cancels: the conflict is withdrawn
    httpx.delete(f"{url}/v1/operations/{strike['id']}", headers={**red, "If-Match": "1"})
    again: queue.Queue[Any] = queue.Queue()
    stop_again = listen(url, tokens["blue"], event_id, again)
    assert again.get(timeout=30)[1] == 200
    missed = again.get(timeout=30)
    assert missed[1] == "conflict.withdrawn" and missed[0] != event_id
    assert json.loads(missed[2])["conflict"]["state"] == "withdrawn"
    stop_again.set()


def test_no_answer_of_the_api_is_to_be_stored(server: tuple[str, dict[str, str]]) -> None:
    """What a party reads is for its eyes only: every answer under /v1 says
    `Cache-Control: no-store`, refusals too; the event stream keeps its `no-cache`;
    the public OpenAPI document says nothing."""
    url, tokens = server
    red = {"Authorization": f"Bearer {tokens['red']}"}
    assert httpx.get(f"{url}/v1/me", headers=red).headers["cache-control"] == "no-store"
    refused = httpx.get(f"{url}/v1/me")
    assert (refused.status_code, refused.headers["cache-control"]) == (401, "no-store")
    missing = httpx.get(f"{url}/v1/operations/op-nope", headers=red)
    assert (missing.status_code, missing.headers["cache-control"]) == (404, "no-store")
    assert "cache-control" not in httpx.get(f"{url}/openapi.json").headers
    with httpx.stream("GET", f"{url}/v1/events", headers=red, timeout=10) as stream:
        assert stream.headers.get_list("cache-control") == ["no-cache"]


def test_events_need_a_token(server: tuple[str, dict[str, str]]) -> None:
    url, _ = server
    response = httpx.get(f"{url}/v1/events", timeout=10)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_tansiq_load_files_a_scenario_and_finds_what_tansiq_conflicts_finds(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    tokens = {p: parties.add_party(store, p, p, "en")[1] for p in ("coalition", "ru", "unocha")}
    tokens["un"] = parties.add_party(store, "un", "UN", "en", "coordinator")[1]
    store.close()
    token_file = tmp_path / "tokens.json"
    token_file.write_text(json.dumps(tokens))
    example = Path(__file__).resolve().parent.parent / "examples" / "deir-ez-zor.geojson"
    expected = subprocess.run(
        [str(TANSIQ), "conflicts", str(example), "--json"], capture_output=True, text=True
    )
    want = len(json.loads(expected.stdout)["conflicts"])
    port = free_local_port()
    process = start_server(db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        done = subprocess.run(
            [str(TANSIQ), "load", str(example), "--url", url, "--tokens", str(token_file),
             "--coordinator", "un"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = f"filed 7 of 7 features for 3 parties; {want} conflicts opened"
        assert done.stdout.strip() == summary
        # loading the same file again (as after a lost connection) files nothing twice
        again = subprocess.run(
            [str(TANSIQ), "load", str(example), "--url", url, "--tokens", str(token_file)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == (
            "filed 0 of 7 features for 3 parties (7 filed before, by an earlier load of this"
            " file); 0 conflicts opened"
        )
        reader = SqliteStore(db)
        assert len(reader.active_filings()) == 7
        seen = {c.id for p in ("coalition", "ru", "unocha") for c in reader.conflicts_of_party(p)}
        assert len(seen) == want
        reader.close()
        # a feature withdrawn since is not brought back by a late run (nor said filed)
        ru = {"Authorization": f"Bearer {tokens['ru']}"}
        (withdrawn, *_) = httpx.get(f"{url}/v1/operations", headers=ru).json()["operations"]
        httpx.delete(f"{url}/v1/operations/{withdrawn['id']}", headers={**ru, "If-Match": "1"})
        late = subprocess.run(
            [str(TANSIQ), "load", str(example), "--url", url, "--tokens", str(token_file)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert late.returncode == 1
        assert late.stdout.startswith("filed 0 of 7 features for 3 parties (6 filed before")
        assert "1 feature(s) filed by an earlier load of this file were cancelled since" in (
            late.stderr
        )
        # --again files that one again, and only it; run twice, it files nothing more
        for run, summary in enumerate(("filed 1 of 7 features for 3 parties (6 filed before",
                                       "filed 0 of 7 features for 3 parties (7 filed before")):
            anew = subprocess.run(
                [str(TANSIQ), "load", str(example), "--url", url, "--tokens", str(token_file),
                 "--again"],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert anew.returncode == 0, (run, anew.stderr)
            assert anew.stdout.startswith(summary), (run, anew.stdout)
            assert len(SqliteStore(db).active_filings()) == 7
        missing = subprocess.run(
            [str(TANSIQ), "load", str(example), "--url", url], capture_output=True, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("TANSIQ_TOKEN_")},
        )  # fmt: skip
        assert missing.returncode == 2
        assert "no token for party 'coalition'" in missing.stderr
        assert "$TANSIQ_TOKEN_COALITION" in missing.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_under_concurrent_filers_each_stream_sends_exactly_what_the_store_holds(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    names = ("red", "blue", "green")
    tokens = {p: parties.add_party(store, p, p.title(), "en")[1] for p in names}
    store.close()
    port = free_local_port()
    process = start_server(db, port)
    url = f"http://127.0.0.1:{port}"
    try:
        streams = {p: queue.Queue() for p in names}  # type: dict[str, queue.Queue[Any]]
        stops = [listen(url, tokens[p], None, streams[p]) for p in names]
        for p in names:
            assert streams[p].get(timeout=30)[1] == 200

        statuses: list[int] = []

        def file_and_change(party: str, k: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[party]}"}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                for j in range(12):
                    lon = 40.0 + ((k * 7 + j) % 5) * 1e-3
                    made = http.post("/v1/operations", content=disc(f"o{j}", lon))
                    statuses.append(made.status_code)
                    path, version = f"/v1/operations/{made.json()['id']}", {"If-Match": "1"}
                    if j % 3 == 0:  # moved away: its conflicts are resolved
                        moved = disc(f"o{j}", lon + 0.5)
                        answer = http.put(path, content=moved, headers=version)
                        statuses.append(answer.status_code)
                    elif j % 3 == 1:  # cancelled: its conflicts are withdrawn
                        statuses.append(http.delete(path, headers=version).status_code)

        filers = [threading.Thread(target=file_and_change, args=(p, k))
                  for k, p in enumerate(names * 2)]  # fmt: skip
        for t in filers:
            t.start()
        for t in filers:
            t.join()
        check = SqliteStore(db)
        shown = PublicIds.of(check)  # event ids as the streams show them
        try:
            for p in names:
                stored = [
                    (shown.show("event", e.id), e.kind)
                    for e in check.events_after(p, 0, limit=100_000)
                ]
                got: list[tuple[int, str]] = []
                while len(got) < len(stored):
                    # well inside the keep-alive, when an idle stream looks at the store:
                    # these come from the live feed
                    event_id, kind, _, _ = streams[p].get(timeout=HEARTBEAT_S / 3)
                    got.append((int(event_id), kind))
                assert got == stored  # each once, in order, nothing missing
            time.sleep(0.5)
            assert all(streams[p].empty() for p in names)  # and nothing more
            assert set(statuses) == {200, 201} and len(stored) > 50
            kinds = {kind for _, kind in stored}
            assert kinds == {"conflict.opened", "conflict.resolved", "conflict.withdrawn"}
        finally:
            check.close()
        for stop in stops:
            stop.set()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_revoked_token_stream_ends_before_it_sends_more(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = server
    kept: queue.Queue[Any] = queue.Queue()
    revoked: queue.Queue[Any] = queue.Queue()
    listen(url, tokens["blue"], None, kept)
    listen(url, tokens["blue-2"], None, revoked)
    assert kept.get(timeout=30)[1] == 200 and revoked.get(timeout=30)[1] == 200
    # as `tansiq party revoke-token blue ID` does, on the server's store file
    store = SqliteStore(tmp_path / "tansiq.db")
    assert parties.revoke_tokens(store, "blue", tokens["blue-2-id"]) == 1
    store.close()
    # at once: a stream used to look at its token at most once a second, and sent
    # for that second (a reviewer)
    blue = {"Authorization": f"Bearer {tokens['blue']}"}
    red = {"Authorization": f"Bearer {tokens['red']}"}
    httpx.post(f"{url}/v1/sites", content=disc("clinic", 40.0), headers=blue)
    httpx.post(f"{url}/v1/operations", content=disc("strike", 40.0), headers=red)
    assert kept.get(timeout=30)[1] == "conflict.opened"
    assert revoked.get(timeout=30)[0] == "end"  # nothing sent on the revoked token's stream


def test_tansiq_load_files_nothing_it_could_know_the_server_would_refuse(
    tmp_path: Path,
) -> None:
    """A wrong token, a category typo or a zone's bad rule was found only after the
    features before it were filed (loading again filed those twice); a server out of
    reach was a traceback; `--coordinator` reset the theater's lead time to 0 (found by
    a reviewer)."""
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    tokens = {p: parties.add_party(store, p, p, "en")[1] for p in ("coalition", "ru", "unocha")}
    tokens["un"] = parties.add_party(store, "un", "UN", "en", "coordinator")[1]
    store.close()
    example = Path(__file__).resolve().parent.parent / "examples" / "deir-ez-zor.geojson"
    sample = json.loads(example.read_text())

    def run(tokens_given: dict[str, str], scenario: dict[str, Any], url: str) -> Any:
        (tmp_path / "tokens.json").write_text(json.dumps(tokens_given))
        (tmp_path / "s.geojson").write_text(json.dumps(scenario))
        return subprocess.run(
            [str(TANSIQ), "load", str(tmp_path / "s.geojson"), "--url", url,
             "--tokens", str(tmp_path / "tokens.json"), "--coordinator", "un"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    port = free_local_port()
    process = start_server(db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        un = {"Authorization": f"Bearer {tokens['un']}"}
        httpx.put(f"{url}/v1/theater/rules", json={"separation": [], "lead_time_h": 12}, headers=un)
        swapped = run({**tokens, "ru": tokens["unocha"]}, sample, url)
        assert swapped.returncode == 1 and "party 'ru'" in swapped.stderr
        typo = json.loads(json.dumps(sample))
        typo["features"][-1]["properties"]["category"] = "sitee"
        typo["features"][0]["properties"]["category"] = ["site"]  # not even a string
        refused = run(tokens, typo, url)
        assert refused.returncode == 2 and "properties.category" in refused.stderr
        zone = json.loads(json.dumps(sample))
        zone["features"][-1]["properties"].update(category="zone", notice_h="24")
        refused = run(tokens, zone, url)
        assert refused.returncode == 2 and "properties.notice_h" in refused.stderr
        with closing(sqlite3.connect(db)) as raw:
            assert raw.execute("SELECT count(*) FROM filing").fetchone() == (0,)
        assert run(tokens, sample, url).returncode == 0
        rules = httpx.get(f"{url}/v1/theater/rules", headers=un).json()
        assert rules["lead_time_h"] == 12
    finally:
        process.terminate()
        process.wait(timeout=30)
    away = run(tokens, sample, f"http://127.0.0.1:{port}")
    assert away.returncode == 1 and "Traceback" not in away.stderr
    assert "filed 0 of 7" in away.stderr or "nothing was filed" in away.stderr


def test_tansiq_load_never_shows_a_token_and_says_what_it_did(tmp_path: Path) -> None:
    """A token with a line break (a tokens file written by a script) was refused in a
    message that quoted the whole secret; a pasted "…" was a traceback, as was a page
    that is not a Tansiq server's; Ctrl-C said nothing of what was filed (a reviewer)."""
    example = Path(__file__).resolve().parent.parent / "examples" / "deir-ez-zor.geojson"
    secret = "tsq_0123456789ab_" + "S" * 43

    def run(tokens_given: dict[str, str], url: str, **popen: Any) -> Any:
        (tmp_path / "tokens.json").write_text(json.dumps(tokens_given))
        args = [str(TANSIQ), "load", str(example), "--url", url,
                "--tokens", str(tmp_path / "tokens.json")]  # fmt: skip
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    everyone = ("coalition", "ru", "unocha")
    pasted = run({p: "tsq_3f9a0c1d2e4b_Jx8…" for p in everyone}, "http://127.0.0.1:9")
    out, err = pasted.communicate(timeout=60)
    assert pasted.returncode == 2 and "Traceback" not in err
    assert err.startswith("error: --tokens ") and "is not a Tansiq token" in err
    # a page that is no Tansiq server's (a captive portal, say): nothing filed, said so
    portal = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=portal.serve_forever, daemon=True).start()
    here = f"http://127.0.0.1:{portal.server_address[1]}"
    lost = run({p: secret + "\n" for p in everyone}, here)  # the line break is trimmed
    out, err = lost.communicate(timeout=60)
    assert lost.returncode == 1 and "Traceback" not in err
    assert "is not a Tansiq server: GET /v1/me answered 200 (text/html)" in err
    assert secret not in out + err
    portal.shutdown()
    # a server that does not answer, and Ctrl-C
    silent = socket.create_server(("127.0.0.1", 0))
    silent.settimeout(60)
    waiting = run({p: secret for p in everyone}, f"http://127.0.0.1:{silent.getsockname()[1]}")
    asking, _ = silent.accept()  # whose the first token is: no answer comes
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130 and "Traceback" not in err
    assert "interrupted (filed 0 of 7 features before it)" in err
    asking.close()
    silent.close()


class _HtmlPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = b"<html><body>Sign in to the network</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


def test_a_partys_oldest_stream_gives_way_and_a_head_opens_none(
    server: tuple[str, dict[str, str]],
) -> None:
    """A script reconnecting without closing held a socket and a task of the server's
    for each stream, without end; refusing a stream beyond the limit instead let dead
    streams (a vanished client, one that stops reading) lock the party out of its
    events (a reviewer). HEAD, answered as GET, opened a stream."""
    url, tokens = server
    blue = {"Authorization": f"Bearer {tokens['blue']}"}
    red = {"Authorization": f"Bearer {tokens['red']}"}
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(STREAMS_PER_PARTY + 2):  # the headers GET sends, at once, and no stream
            head = client.head("/v1/events", headers=blue)
            assert (head.status_code, head.content) == (200, b"")
            assert head.headers["content-type"].startswith("text/event-stream")
            assert "content-length" not in head.headers  # GET sends none (a reviewer)

        def stream(headers: dict[str, str]) -> tuple[httpx.Response, Iterator[str]]:
            answer = client.send(client.build_request("GET", "/v1/events", headers=headers),
                                 stream=True)  # fmt: skip
            lines = answer.iter_lines()
            assert answer.status_code == 200 and next(lines) == ": tansiq events"
            return answer, lines

        held = [stream(blue) for _ in range(STREAMS_PER_PARTY)]  # the HEADs took none
        other = stream(red)
        newest = stream(blue)  # one more: the oldest gives way, at once
        oldest_lines = held[0][1]
        said = [line for line in oldest_lines if line]  # read until the server ends it
        assert said == [GIVEN_WAY.strip()]
        # the newest is live, and the other party's stream was not touched
        httpx.post(f"{url}/v1/sites", content=disc("clinic", 40.0), headers=blue)
        httpx.post(f"{url}/v1/operations", content=disc("strike", 40.0), headers=red)
        for _, lines in (newest, other, held[1]):
            assert "event: conflict.opened" in {next(lines) for _ in range(3)}
        for answer, _ in [*held, other, newest]:
            answer.close()


def test_a_server_stopped_while_a_stream_waits_in_a_write_drops_it_and_says_nothing(
    tmp_path: Path,
) -> None:
    """A stream whose client does not read cannot end when the server stops: it waits
    in a write. It was cut when uvicorn's 3 s of grace ran out, and printed as an ERROR
    and "Exception in ASGI application" with a traceback (a reviewer). Now its
    connection is dropped a second into the stop, and the stop is as quiet as any. A
    page of conflicts to a client slow to read is not cut so: it has its grace (cut
    half-way, without a word, by the first fix: a second reviewer)."""
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    tokens = {p: parties.add_party(store, p, p.title(), "en")[1] for p in ("red", "blue")}
    store.close()
    port = free_local_port()
    process = start_server(db, port)
    url = f"http://127.0.0.1:{port}"
    features = [json.loads(disc(f"d{i}", 40.0 + i * 1e-5))["features"][0] for i in range(60)]
    many = json.dumps({"type": "FeatureCollection", "features": features})
    for party, path in (("blue", "/v1/sites"), ("red", "/v1/operations")):
        auth = {"Authorization": f"Bearer {tokens[party]}"}
        filed = httpx.post(url + path, content=many, headers=auth, timeout=120)
        assert filed.status_code == 201, filed.text
    assert len(filed.json()["conflicts"]) == 3600  # blue's 3,600 events: megabytes
    pages: list[bytes] = []
    with socket.socket() as reader, socket.socket() as pager:
        for client, path in ((reader, "/v1/events"), (pager, "/v1/conflicts?limit=1000")):
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", port))
            asked = f"GET {path} HTTP/1.1\r\nHost: tansiq\r\nAuthorization: Bearer {tokens['blue']}"
            client.sendall(f"{asked}\r\n\r\n".encode())
        time.sleep(1.0)  # the server writes until the buffers between them are full

        def read_slowly() -> None:  # the page's reader, back within the 3 s of grace
            time.sleep(1.5)
            pages.append(b"".join(iter(lambda: pager.recv(1 << 16), b"")))

        slow = threading.Thread(target=read_slowly)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGINT)  # the reader never reads its stream
        slow.start()
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - stopped_at
        slow.join(timeout=30)
    said = err.decode()
    assert "Traceback" not in said and "ERROR" not in said, said
    assert said.endswith("stopped\n") and process.returncode == 0
    assert took < 2.5, took  # not after the 3 s of grace
    head, _, page = pages[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    (length,) = re.findall(rb"(?im)^content-length: (\d+)", head)
    assert len(page) == int(length) > 1 << 20  # whole, and megabytes


def test_a_server_stopped_with_streams_open_ends_them_and_says_nothing_more(
    tmp_path: Path,
) -> None:
    """Ctrl-C while a party listened: the server waited out its grace, cancelled the
    stream and printed it as "Exception in ASGI application", two tracebacks (a
    reviewer). Streams now end at once, and the client sees its stream end."""
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    token = parties.add_party(store, "blue", "Blue", "en")[1]
    store.close()
    port = free_local_port()
    process = start_server(db, port)
    ended: queue.Queue[Any] = queue.Queue()
    listen(f"http://127.0.0.1:{port}", token, None, ended)
    assert ended.get(timeout=30)[1] == 200
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    took = time.monotonic() - stopped_at
    said = err.decode()
    assert "Traceback" not in said and "ERROR" not in said, said
    assert said.endswith("stopped\n") and process.returncode == 0  # asked, done: as before
    assert took < 2.5  # not the 3 s grace of a stream left open
    assert ended.get(timeout=10)[0] == "end"  # the client's stream ended
    # SIGTERM (a container's stop) likewise: it ended the process by the signal, 143
    process = start_server(db, port)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert (process.returncode, err.decode()[-8:]) == (0, "stopped\n")
    # and while the store is read, before it serves (seconds at 1M: a reviewer)
    process = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port)], stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    assert process.stderr.readline().startswith(b"reading ")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert (process.returncode, err.decode()[-8:]) == (0, "stopped\n")
