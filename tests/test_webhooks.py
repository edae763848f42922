"""Webhooks: events POSTed to a party's own URL, retried until its server takes them."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from samples import sample_morning
from tansiq.api import create_app
from tansiq.service import parties, webhooks
from tansiq.service.public_ids import PublicIds
from tansiq.service.webhook_targets import NotGlobal, is_public, targets, through_proxy
from tansiq.service.webhooks import WebhookSender, looked_up, post_within
from tansiq.store import SqliteStore


class Receiver:
    """A real HTTP server that answers 500 to the first ``failures`` requests; with a
    ``gate``, each request waits for it to open before it is answered."""

    def __init__(
        self, failures: int, gate: threading.Event | None = None, port: int = 0, status: int = 500
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hosts: list[str] = []  # each request's Host header
        self.paths: list[str] = []  # each request's target, absolute when it is a proxy
        self.accepted: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.hosts.append(self.headers["Host"])
                outer.paths.append(self.path)
                if gate is not None:
                    gate.wait(timeout=60)
                ok = len(outer.requests) > failures
                if ok:
                    outer.accepted.append(body)
                self.send_response(204 if ok else status)
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
    with TestClient(create_app(store, clock=sample_morning(), webhooks_to_private=True)) as client:
        as_red = {"Authorization": f"Bearer {red}"}
        as_blue = {"Authorization": f"Bearer {blue}"}
        bad = client.put("/v1/webhook", json={"url": "ftp://x"}, headers=as_red)
        assert bad.status_code == 400 and "url:" in bad.json()["detail"]
        assert client.put("/v1/webhook", json={"url": receiver.url}, headers=as_red).is_success
        assert client.get("/v1/webhook", headers=as_red).json() == {
            "url": receiver.url, "delivered_through": None, "failing": None,
        }  # fmt: skip
        client.post("/v1/sites", content=disc("clinic"), headers=as_blue)
        client.post("/v1/operations", content=disc("strike"), headers=as_red)
        deadline = time.monotonic() + 30
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        (event,) = receiver.accepted
        assert event["kind"] == "conflict.opened"
        # its two refusals were said while they lasted (a receiver failing for ever was
        # retried for ever without a word to the party: a reviewer); now what was taken
        assert _until(
            lambda: client.get("/v1/webhook", headers=as_red).json()["failing"] is None, 5.0
        )
        seen = client.get("/v1/webhook", headers=as_red).json()
        assert seen["delivered_through"] == event["id"]
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
    event for each side); its webhooks may go to this machine, where the receivers are."""
    yield from _server(tmp_path, to_private=True)


@pytest.fixture
def guarded(tmp_path: Path) -> Any:
    """The same, as ``tansiq serve`` starts by default: webhooks to public addresses only."""
    yield from _server(tmp_path, to_private=False)


def _server(tmp_path: Path, to_private: bool) -> Any:
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red", "en")
    _, blue = parties.add_party(store, "blue", "Blue", "ar")
    app = create_app(store, clock=sample_morning(), webhooks_to_private=to_private)
    with TestClient(app) as client:
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


def test_a_webhook_that_fails_says_so_and_why(two: Any) -> None:
    """A redirect is not followed and a 500 is not a delivery: both were retried for ever
    with no word to the party (a reviewer). GET /v1/webhook says since when and why."""
    client, _, _, as_blue, conflict = two
    moved = Receiver(failures=10**6, status=307)
    assert client.put("/v1/webhook", json={"url": moved.url}, headers=as_blue).is_success
    conflict()
    assert _until(lambda: client.get("/v1/webhook", headers=as_blue).json()["failing"], 10.0)
    seen = client.get("/v1/webhook", headers=as_blue).json()
    assert seen["failing"]["reason"] == (
        "answered 307: a redirect, which is not followed (give the URL it leads to)"
    )
    assert seen["failing"]["since"].startswith("2017-09-16T") and seen["delivered_through"] is None
    broken = Receiver(failures=10**6)
    assert client.put("/v1/webhook", json={"url": broken.url}, headers=as_blue).is_success
    assert client.get("/v1/webhook", headers=as_blue).json()["failing"] is None  # a new URL
    conflict()
    assert _until(lambda: client.get("/v1/webhook", headers=as_blue).json()["failing"], 10.0)
    assert client.get("/v1/webhook", headers=as_blue).json()["failing"]["reason"] == "answered 500"
    moved.server.shutdown()
    broken.server.shutdown()


def test_a_receiver_that_answers_a_byte_at_a_time_is_given_up_on(
    two: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each byte of its answer came within the timeout of a read, so the POST never
    ended, and the party's courier never looked at its webhook again: a new URL got
    nothing until a restart (a reviewer). A POST now has a deadline in all."""
    client, _, _, as_blue, conflict = two
    monkeypatch.setattr(webhooks, "POST_DEADLINE_S", 1.5)
    trickling = socket.create_server(("127.0.0.1", 0))
    talks: list[socket.socket] = []

    def trickle() -> None:
        while True:
            try:
                talk, _ = trickling.accept()
            except OSError:
                return  # closed: the test is over
            talks.append(talk)

            def answer(talk: socket.socket = talk) -> None:
                with talk, contextlib.suppress(OSError):  # (the courier hangs up)
                    talk.recv(65536)
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                        time.sleep(0.3)  # well within the 5 s of a read, every time
                        talk.sendall(bytes([byte]))

            threading.Thread(target=answer, daemon=True).start()

    threading.Thread(target=trickle, daemon=True).start()
    slow = f"http://127.0.0.1:{trickling.getsockname()[1]}/tansiq"
    assert client.put("/v1/webhook", json={"url": slow}, headers=as_blue).is_success
    conflict()
    assert _until(lambda: talks, 10.0)  # the courier is in its POST
    fine = Receiver(failures=0)
    assert client.put("/v1/webhook", json={"url": fine.url}, headers=as_blue).is_success
    conflict()  # a new URL gets the events after it is set
    # the slow POST given up on at its deadline, the new URL gets them (the slow one
    # would have finished answering after some 12 s)
    assert _until(lambda: fine.accepted, 6.0)
    assert fine.accepted[0]["kind"] == "conflict.opened"
    trickling.close()
    fine.server.shutdown()


def test_a_new_webhook_says_nothing_of_other_parties_events(two: Any) -> None:
    """A new webhook started after the store's last event, whoever's, and GET
    /v1/webhook showed that event only if it was the caller's: null or not, it told
    the caller whether another party had had an event since its own last one (a
    reviewer, a new URL a probe). It starts after the caller's own last event now."""
    client, store, as_red, _, conflict = two
    conflict()  # an event for red, and one for blue
    shown = PublicIds.of(store)
    (red_last,) = [shown.show("event", e.id) for e in store.events_after("red", 0)]

    def probe(n: int) -> Any:
        url = f"http://127.0.0.1:9/probe{n}"  # nothing listens; nothing is to be sent
        assert client.put("/v1/webhook", json={"url": url}, headers=as_red).is_success
        return client.get("/v1/webhook", headers=as_red).json()["delivered_through"]

    assert probe(1) == red_last
    # a conflict of two other parties, 50 km away from red's: their events, not red's
    for party, path in (("green", "/v1/sites"), ("gold", "/v1/operations")):
        token = parties.add_party(store, party, party.title(), "en")[1]
        far = json.loads(disc(f"far-{party}"))
        far["features"][0]["geometry"]["coordinates"] = [40.5, 35.0]
        answer = client.post(path, json=far, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, answer.text
    assert store.events_after("green", 0) and len(store.events_after("red", 0)) == 1
    assert probe(2) == red_last  # the same: nothing said of green's and gold's


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


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/tansiq",
        "http://localhost/tansiq",  # a name: resolved, then refused for where it leads
        "http://[::1]:8080/",
        "http://10.1.2.3/",
        "https://192.168.0.10:8443/hook",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata address
        "http://100.64.0.1/",  # shared address space
        "http://0.0.0.0:9/",
        "http://224.0.0.1/",  # multicast
    ],
)
def test_by_default_a_webhook_to_this_machine_or_its_network_is_refused(
    guarded: Any, url: str
) -> None:
    client, store, _, as_blue, _ = guarded
    answer = client.put("/v1/webhook", json={"url": url}, headers=as_blue)
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("url: ") and "not a public address" in detail
    assert "--webhooks-to-private" in detail
    assert store.webhooks() == []


def test_by_default_no_event_is_posted_to_a_private_address_whatever_was_stored(
    guarded: Any,
) -> None:
    """Checked again before every POST: a URL stored when its name led elsewhere (or by
    an older server) gets nothing once it leads to this machine; the same receiver gets
    every event from a server that allows it (the tests above)."""
    _, store, _, _, conflict = guarded
    receiver = Receiver(failures=0)
    store.set_webhook("blue", receiver.url, 0)
    conflict()
    conflict()
    assert len(store.events_after("blue", 0)) == 4
    time.sleep(3.0)  # the courier has looked and tried (it retries after 1 s, 2 s, ...)
    assert receiver.requests == []
    receiver.server.shutdown()


def test_a_post_goes_to_an_address_that_was_checked() -> None:
    """Pinned: each target's URL names an address the resolver gave (so a second
    resolution cannot lead elsewhere); the Host header and TLS keep the name."""

    def resolver(host: str, port: int) -> list[str]:
        return {"example.org": ["93.184.216.34", "2606:2800:220:1::"], "mixed.example": [
            "93.184.216.34", "10.0.0.7"]}.get(host, [host])  # fmt: skip

    assert targets("https://example.org/hook?x=1", resolver=resolver) == [
        ("https://93.184.216.34/hook?x=1", "example.org", "example.org"),
        ("https://[2606:2800:220:1::]/hook?x=1", "example.org", "example.org"),
    ]
    (plain,) = targets("http://example.org:8080/hook", resolver=lambda h, p: ["93.184.216.34"])
    assert plain == ("http://93.184.216.34:8080/hook", "example.org:8080", None)
    (v6,) = targets("https://[2606:4700:4700::1111]/h", resolver=resolver)
    assert v6 == ("https://[2606:4700:4700::1111]/h", "[2606:4700:4700::1111]", None)
    (idn,) = targets("https://bücher.example/h", resolver=lambda h, p: ["93.184.216.34"])
    assert idn == ("https://93.184.216.34/h", "xn--bcher-kva.example", "xn--bcher-kva.example")
    with pytest.raises(NotGlobal, match=r"mixed.example \(10.0.0.7\) is not a public"):
        targets("http://mixed.example/", resolver=resolver)
    assert len(targets("http://mixed.example/", to_private=True, resolver=resolver)) == 2
    with pytest.raises(OSError):
        targets("http://nowhere.invalid/", resolver=lambda host, port: [])


def test_a_webhook_named_by_host_is_posted_to_its_address_with_its_name(two: Any) -> None:
    """A real POST through the pinned path: to the address `localhost` resolves to (the
    next one if the first, ::1 here perhaps, refuses), with the name in the Host header."""
    client, store, _, as_blue, conflict = two
    receiver = Receiver(failures=0)
    port = receiver.server.server_address[1]
    url = f"http://localhost:{port}/tansiq"
    assert client.put("/v1/webhook", json={"url": url}, headers=as_blue).is_success
    conflict()
    assert _until(lambda: receiver.accepted, 10.0)  # the conflict's event for blue
    assert receiver.hosts == [f"localhost:{port}"]
    last = store.events_after("blue", 0)[-1].id
    assert _until(lambda: store.webhook_of("blue") == (url, last), 10.0)  # marked after
    receiver.server.shutdown()


def test_a_webhook_removed_and_set_again_gets_its_courier_in_one_look(tmp_path: Path) -> None:
    """The supervisor's one look after a PUT starts the new courier even when the old
    one (its webhook removed) has ended but is still listed; it used to spend that
    look dropping the old one, and the new waited for the next, a second later."""
    store = SqliteStore(tmp_path / "tansiq.db")
    parties.add_party(store, "blue", "Blue", "en")
    sender = WebhookSender(store, PublicIds(b"k" * 32), to_private=True)
    # the supervisor's thread is never started: each look is called here
    store.set_webhook("blue", "http://127.0.0.1:9/a", 0)
    sender._supervise()
    old = sender._couriers["blue"]
    store.set_webhook("blue", None)
    old.wake.set()  # it looks, finds no webhook and ends
    old.thread.join(timeout=10)
    assert not old.thread.is_alive() and sender._couriers["blue"] is old
    store.set_webhook("blue", "http://127.0.0.1:9/b", 0)
    sender._supervise()  # one look
    new = sender._couriers.get("blue")
    assert new is not None and new is not old and new.thread.is_alive()
    sender._stop.set()  # the courier ends
    new.wake.set()
    new.thread.join(timeout=10)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),  # mapped: as the IPv4 address it maps
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a", False),
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("fec0::1", False),  # site-local
        ("ff02::1", False),
        ("100.64.0.1", False),
    ],
)
def test_only_public_addresses_whatever_their_ipv6_form(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_through_a_proxy_of_the_environment_a_webhook_goes_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy connects (from where it stands) and TLS checks the name: pinned to an
    address, an https POST through a proxy's tunnel failed its certificate check (a
    second review). Here a real HTTP proxy (the receiver) takes the POST by name."""
    proxy = Receiver(failures=0)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = "http://localhost:8080/tansiq"  # a name this machine resolves (to itself)
    assert through_proxy(url)
    unknown = "http://receiver.invalid/tansiq"

    async def post_both() -> tuple[str | None, str | None]:
        async with httpx.AsyncClient(timeout=5.0) as client:  # it reads the environment
            # a name only the proxy can resolve (nothing resolves .invalid here) goes too
            return (
                await post_within(client, url, {"id": 1}, looked_up(url, True)),
                await post_within(client, unknown, {"id": 2}, looked_up(unknown, False)),
            )

    assert asyncio.run(post_both()) == (None, None)  # both taken
    # the names went to the proxy, not the address one resolves to
    assert proxy.paths == [url, unknown] and proxy.accepted == [{"id": 1}, {"id": 2}]
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert not through_proxy(url)
    proxy.server.shutdown()


def test_a_receivers_answer_is_never_read_into_the_server(two: Any) -> None:
    """A receiver answering 200 with a body of 256 MB: the event counts as delivered
    once the status is in, and the body is left unread (the server read it whole: 300
    MB took 900 MB of its memory; found by a reviewer). The receiver sees its answer
    cut short, a few MB in at most (socket buffers)."""
    client, _, as_red, _, conflict = two
    sent: list[int] = []
    requests: list[str] = []

    class Talkative(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", str(256 << 20))
            self.end_headers()
            written = 0
            try:
                for _ in range(256):
                    self.wfile.write(b"x" * (1 << 20))
                    written += 1 << 20
            except OSError:
                pass  # the server hung up: what it did not want is not sent
            sent.append(written)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Talkative)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tansiq"
    assert client.put("/v1/webhook", json={"url": url}, headers=as_red).is_success
    conflict()
    assert _until(lambda: sent, 20.0)
    assert sent[0] < 64 << 20
    time.sleep(1.5)  # delivered: not sent again
    assert len(requests) == 1
    server.shutdown()


@pytest.fixture
def with_spare(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore, Any, str]]:
    """A server with red (and a second token of red's, ``spare``), blue and a
    coordinator, un: each one's Authorization header, and the spare token's id."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red", "en")
    spare_id, spare = parties.issue_token(store, "red")
    _, blue = parties.add_party(store, "blue", "Blue", "ar")
    _, un = parties.add_party(store, "un", "UN", "en", "coordinator")
    tokens = {"red": red, "spare": spare, "blue": blue, "un": un}
    headers = {who: {"Authorization": f"Bearer {token}"} for who, token in tokens.items()}
    with TestClient(create_app(store, clock=sample_morning(), webhooks_to_private=True)) as client:
        yield client, store, headers, spare_id


def test_revoking_a_partys_last_token_removes_its_webhook(with_spare: Any) -> None:
    """Whoever set a party's webhook (with a token since stolen, say) stops receiving
    its conflicts once every token of the party is revoked (they kept coming: found
    by a reviewer); revoking one of two, not the one that set it, leaves it."""
    client, store, headers, spare_id = with_spare
    receiver = Receiver(failures=0)
    assert client.put("/v1/webhook", json={"url": receiver.url}, headers=headers["red"]).is_success
    client.post("/v1/sites", content=disc("clinic"), headers=headers["blue"])
    client.post("/v1/operations", content=disc("strike"), headers=headers["red"])
    assert _until(lambda: receiver.accepted, 10.0)
    one = client.delete(f"/v1/parties/red/tokens/{spare_id}", headers=headers["un"])
    assert one.json() == {"revoked": 1} and store.webhook_of("red") is not None
    every = client.delete("/v1/parties/red/tokens", headers=headers["un"])
    assert every.json() == {"revoked": 1} and store.webhook_of("red") is None
    client.post("/v1/sites", content=disc("clinic-2"), headers=headers["blue"])
    time.sleep(1.5)  # a courier would have sent it by now
    assert len(receiver.accepted) == 1
    receiver.server.shutdown()


def test_revoking_the_token_that_set_a_webhook_removes_it(with_spare: Any) -> None:
    """A webhook set with a token since stolen kept receiving the party's conflicts when
    that token alone was revoked, the usual answer to a theft (a reviewer). The token
    that set it is kept with it; setting the same URL again with another token moves it
    to that one. A webhook set before the store kept its token goes at any revocation."""
    client, store, headers, stolen_id = with_spare
    thief = Receiver(failures=0)
    assert client.put("/v1/webhook", json={"url": thief.url}, headers=headers["spare"]).is_success
    assert store.webhook_token("red") == stolen_id
    client.post("/v1/sites", content=disc("clinic"), headers=headers["blue"])
    client.post("/v1/operations", content=disc("strike"), headers=headers["red"])
    assert _until(lambda: thief.accepted, 10.0)
    revoked = client.delete(f"/v1/parties/red/tokens/{stolen_id}", headers=headers["un"])
    assert revoked.json() == {"revoked": 1}
    assert client.get("/v1/webhook", headers=headers["red"]).json()["url"] is None
    client.post("/v1/sites", content=disc("clinic-2"), headers=headers["blue"])
    time.sleep(1.5)  # a courier would have sent it by now
    assert len(thief.accepted) == 1
    # the same URL set again by the party's own token is held by that token
    other_id, other = parties.issue_token(store, "red")
    as_other = {"Authorization": f"Bearer {other}"}
    assert client.put("/v1/webhook", json={"url": thief.url}, headers=as_other).is_success
    assert client.put("/v1/webhook", json={"url": thief.url}, headers=headers["red"]).is_success
    parties.revoke_tokens(store, "red", other_id)
    assert client.get("/v1/webhook", headers=headers["red"]).json()["url"] == thief.url
    # set before schema 10 (no token kept): any revocation of the party's removes it
    store.set_webhook("red", thief.url, store.last_event_of("red"))
    last_id, _ = parties.issue_token(store, "red")
    parties.revoke_tokens(store, "red", last_id)
    assert store.webhook_of("red") is None
    thief.server.shutdown()


def test_no_webhook_outlives_the_partys_tokens(tmp_path: Path) -> None:
    """A PUT whose token was revoked after it was checked (its body held back) sets
    nothing; a webhook left from before (every token already revoked) goes at the next
    revocation, even one that revokes nothing (found by a reviewer)."""
    from tansiq.errors import Unauthorized
    from tansiq.service import webhooks

    store = SqliteStore(tmp_path / "tansiq.db")
    red, _ = parties.add_party(store, "red", "Red", "en")
    parties.revoke_tokens(store, "red", None)
    with pytest.raises(Unauthorized):
        webhooks.set_webhook(store, red, "http://127.0.0.1:9/tansiq", to_private=True)
    assert store.webhook_of("red") is None
    store.set_webhook("red", "http://127.0.0.1:9/tansiq")  # as an older version left it
    assert parties.revoke_tokens(store, "red", None) == 0
    assert store.webhook_of("red") is None
    webhooks.set_webhook(store, red, None)  # removing one needs no live token


def test_couriers_share_one_loop_and_a_post_keeps_its_deadline(tmp_path: Path) -> None:
    """A loop for each courier cost three more file descriptors each, and the server ran
    out of them at some 180 parties with webhooks (a reviewer). A POST that is never
    answered is given up at its deadline."""
    store = SqliteStore(tmp_path / "tansiq.db")
    everyone = [f"p{k}" for k in range(40)]
    for party in everyone:
        parties.add_party(store, party, party, "en")
        store.set_webhook(party, "http://127.0.0.1:9/nobody", 0)  # nothing listens there
    sender = WebhookSender(store, PublicIds(b"k" * 32), to_private=True)
    before = len(os.listdir("/proc/self/fd"))
    sender.start()  # one courier a party, each looking at its webhook
    time.sleep(1.5)
    grown = len(os.listdir("/proc/self/fd")) - before
    sender.stop()
    # each courier reads the store on a connection of its own (the file, its -wal and
    # -shm: 3 at most); one loop for all of them adds a few, not three a courier
    assert grown <= 3 * len(everyone) + 8, grown

    silent = socket.create_server(("127.0.0.1", 0))  # takes the connection, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/x"

    async def post() -> tuple[str | None, float]:
        async with httpx.AsyncClient(timeout=5.0) as client:
            started = time.monotonic()
            said = await post_within(client, url, {}, looked_up(url, True), deadline_s=0.5)
            return said, time.monotonic() - started

    said, took = asyncio.run(post())
    assert said == "no answer within 0.5 s" and took < 2.0
    silent.close()


def test_a_slow_lookup_holds_only_its_own_partys_webhook(
    two: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host lookups ran on the shared loop's executor, six threads here: six parties
    whose hosts did not answer stopped every other party's webhooks, and the process
    could not exit until the lookups ended (a reviewer). Each courier looks its host
    up on its own thread."""
    client, _, as_red, as_blue, conflict = two
    looked_on: list[str] = []

    def slow_for_blue(url: str, *args: Any, **kwargs: Any) -> Any:
        looked_on.append(threading.current_thread().name)
        if url.endswith("/blue"):
            time.sleep(3.0)  # a resolver that does not answer soon
        return targets(url, *args, **kwargs)

    monkeypatch.setattr(webhooks, "targets", slow_for_blue)
    reds, blues = Receiver(failures=0), Receiver(failures=0)
    assert client.put("/v1/webhook", json={"url": reds.url}, headers=as_red).is_success
    blue_url = blues.url.replace("/tansiq", "/blue")
    assert client.put("/v1/webhook", json={"url": blue_url}, headers=as_blue).is_success
    conflict()
    assert _until(lambda: reds.accepted, 2.0)  # while blue's lookup still waits
    assert _until(lambda: blues.accepted, 10.0)  # and blue's, once its lookup answered
    assert set(looked_on) <= {"tansiq-webhook-red", "tansiq-webhook-blue"}, looked_on
    reds.server.shutdown()
    blues.server.shutdown()


def test_a_stop_cancels_posts_going_and_leaves_no_thread(tmp_path: Path) -> None:
    """A stop while a receiver took its time: the courier went on POSTing (and writing to
    the store) after the server had stopped, and left a loop running for good (a
    reviewer). POSTs going are cancelled (sent again after a restart) and every webhook
    thread ends."""
    store = SqliteStore(tmp_path / "tansiq.db")
    _, red = parties.add_party(store, "red", "Red", "en")
    _, blue = parties.add_party(store, "blue", "Blue", "ar")
    gate = threading.Event()  # never opened: each POST waits
    slow = Receiver(failures=0, gate=gate)
    app = create_app(store, clock=sample_morning(), webhooks_to_private=True)
    with TestClient(app) as client:
        as_red, as_blue = {"Authorization": f"Bearer {red}"}, {"Authorization": f"Bearer {blue}"}
        assert client.put("/v1/webhook", json={"url": slow.url}, headers=as_blue).is_success
        for n in range(3):
            client.post("/v1/sites", content=disc(f"clinic{n}"), headers=as_blue)
            client.post("/v1/operations", content=disc(f"strike{n}"), headers=as_red)
        assert _until(lambda: slow.requests, 10.0)  # a POST is going
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    assert took < 7.0, took  # not the 15 s of a POST's deadline, nor its batch's
    time.sleep(0.5)
    sender = app.state.webhooks  # (other tests' threads may share this process)
    assert sender._posts._thread is None and not sender._thread.is_alive()
    assert [p for p, c in sender._couriers.items() if c.thread.is_alive()] == []
    assert store.webhook_of("blue") is not None and store.webhook_of("blue")[1] == 0  # type: ignore[index]
    gate.set()
    slow.server.shutdown()
