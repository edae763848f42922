"""`tansiq serve --processes 2`: the theater in a process of its own answers as one
process does, its refusals included, and the server stops when it is lost."""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any

import httpx
import pytest

import tansiq.api.admin
import tansiq.api.app
import tansiq.api.events
import tansiq.errors
from tansiq.cli.local_server import free_local_port
from tansiq.errors import TansiqError, TheaterLost
from tansiq.service import parties
from tansiq.service.theater_process import CALLS, RemoteTheater, serve_theater
from tansiq.store import PartyRecord, SqliteStore
from test_crash import TANSIQ, children, gone, start_server
from test_events import disc, listen

#: a sample argument for each type an error's __init__ takes
SAMPLES: dict[Any, Any] = {
    str: "v-1",
    int: 7,
    float: 2.5,
    OSError: OSError(28, "No space left on device"),
    Sequence[str]: ["features[0]: radius_m must be > 0"],
    Sequence[tuple[str, str]] | None: [("features[0].properties.radius_m", "> 0")],
}


def every_error() -> list[type[TansiqError]]:
    import tansiq.api.app  # noqa: F401  (its errors are subclasses too)

    found, todo = [], [TansiqError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


@pytest.mark.parametrize("kind", every_error(), ids=lambda kind: kind.__name__)
def test_every_error_crosses_between_processes_as_it_was(kind: type[TansiqError]) -> None:
    """An error the theater raises in its process is raised again, the same, in the HTTP
    process: its class, message, status, headers and the members its problem names."""
    if kind.__init__ is Exception.__init__:  # taken as Exception's: a message
        made = kind("the store is full")
    else:
        hints = typing.get_type_hints(kind.__init__)
        names = [n for n in inspect.signature(kind.__init__).parameters if n != "self"]
        made = kind(*(SAMPLES[hints[name]] for name in names))
    again = pickle.loads(pickle.dumps(made))
    assert type(again) is kind
    assert str(again) == str(made) and again.args == made.args
    assert again.http_status == made.http_status
    assert again.http_headers == made.http_headers
    assert again.problem_members == made.problem_members
    assert vars(again).keys() == vars(made).keys()


def test_the_api_calls_nothing_of_the_theater_that_its_process_does_not_run() -> None:
    """Every ``theater.X`` the API uses is a call the theater's process runs (or one the
    handle has itself): one missing would fail only with two processes, in use."""
    own = {"subscribe", "close", "now"}
    used: set[str] = set()
    for module in (tansiq.api.app, tansiq.api.admin, tansiq.api.events):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "theater"
            ):
                used.add(node.attr)
    assert used and used <= CALLS | own, used - CALLS - own


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """The same store's contents served by one process and by two, side by side."""
    urls, processes = [], []
    tokens: dict[str, str] = {}
    for n in (1, 2):
        db = tmp_path / f"tansiq-{n}.db"
        store = SqliteStore(db)
        for party in ("red", "blue"):
            _, token = parties.add_party(store, party, party.title(), "en")
            tokens[f"{party}-{n}"] = token
        store.close()
        port = free_local_port()
        processes.append(start_server(db, port, n))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        yield urls[0], urls[1], tokens
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def test_two_processes_answer_as_one_refusals_included(
    two_servers: tuple[str, str, dict[str, str]],
) -> None:
    one, two, tokens = two_servers

    def session(url: str, n: int) -> list[tuple[int, Any]]:
        red = {"Authorization": f"Bearer {tokens[f'red-{n}']}"}
        blue = {"Authorization": f"Bearer {tokens[f'blue-{n}']}"}
        answers: list[tuple[int, Any]] = []

        def note(answer: httpx.Response) -> httpx.Response:
            # filing ids and times differ between the two stores
            text = re.sub(r"(operation|site|zone)-[0-9a-f]{12}", "<id>", answer.text)
            body = json.loads(re.sub(r'"(filed_at|ends_at)":"[^"]*"', r'"\1":"<at>"', text))
            if isinstance(body, dict) and "conflicts" in body:
                body["conflicts"] = len(body["conflicts"])
            answers.append((answer.status_code, body))
            return answer

        with httpx.Client(base_url=url, timeout=30) as http:
            site = note(http.post("/v1/sites", content=disc("clinic", 40.0), headers=blue))
            strike = note(http.post("/v1/operations", content=disc("strike", 40.0), headers=red))
            path = f"/v1/operations/{strike.json()['id']}"
            # refusals raised in the theater's process: a stale version, an unknown or
            # another party's filing (the same 404), a body that fails validation
            note(http.put(path, content=disc("strike", 40.5), headers={**red, "If-Match": "9"}))
            note(http.get(path, headers=blue))
            note(http.get("/v1/operations/operation-000000000000", headers=red))
            bad = json.loads(disc("strike", 40.0))
            bad["features"][0]["properties"]["radius_m"] = -5
            note(http.post("/v1/operations", content=json.dumps(bad), headers=red))
            note(http.put(path, content=disc("strike", 41.0), headers={**red, "If-Match": "1"}))
            note(http.get(f"/v1/sites/{site.json()['id']}/history", headers=blue))
            conflicts = http.get("/v1/conflicts", headers=blue).json()["conflicts"]
            answers.append((200, [(c["state"], c["other"]["party"]["id"]) for c in conflicts]))
        return answers

    alone, split = session(one, 1), session(two, 2)
    assert [status for status, _ in split] == [201, 201, 412, 404, 404, 422, 200, 200, 200]
    assert split == alone
    assert split[-1][1] == [("resolved", "red")]  # opened, then resolved by the move


def test_when_the_theaters_process_is_lost_the_server_stops_and_says_why(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tansiq.db"
    store = SqliteStore(db)
    token = parties.add_party(store, "red", "Red", "en")[1]
    store.close()
    port = free_local_port()
    server = start_server(db, port, 2)
    (theater,) = children(server.pid)
    red = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{port}"
    filed = httpx.post(f"{url}/v1/operations", content=disc("a", 40.0), headers=red)
    assert filed.status_code == 201
    events: queue.Queue[Any] = queue.Queue()
    listen(url, token, None, events)
    assert events.get(timeout=30)[1] == 200
    os.kill(theater, signal.SIGKILL)  # the OOM killer, say
    lost_at = time.monotonic()
    assert gone(theater)
    try:
        answer = httpx.post(f"{url}/v1/operations", content=disc("b", 40.0), headers=red)
    except httpx.TransportError:
        pass  # already stopped: refused
    else:
        assert answer.status_code == 503  # not a 500, not a hang
        assert answer.json()["title"] == "The theater is unavailable"
    _, err = server.communicate(timeout=30)
    assert server.returncode == 1  # for a supervisor to start it again
    said = err.decode()
    assert "the theater's process ended unexpectedly" in said, said
    # the open stream ended at once, not cut after the grace with a traceback (a reviewer)
    assert events.get(timeout=10)[0] == "end"
    assert time.monotonic() - lost_at < 2.5
    assert "Traceback" not in said and "Exception in ASGI" not in said, said
    # and the store serves again, nothing lost
    server = start_server(db, port, 2)
    try:
        mine = httpx.get(f"{url}/v1/operations", headers=red).json()["operations"]
        assert len(mine) == 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_store_in_use_is_refused_with_two_processes_as_with_one(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    SqliteStore(db).close()
    port = free_local_port()
    first = start_server(db, port, 1)
    other = str(free_local_port())
    try:
        second = subprocess.run(
            [str(TANSIQ), "serve", "--db", str(db), "--port", other, "--processes", "2"],
            capture_output=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert b"Traceback" not in second.stderr
        assert b"is already served by another process" in second.stderr, second.stderr
    finally:
        first.terminate()
        first.wait(timeout=30)


def test_records_cross_between_processes_field_for_field() -> None:
    """A change's answer and events pickle as their fields (``pickled_as_fields``):
    each comes back equal, field for field, whatever its fields' order."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from pickling import change  # the benchmark's sample change

    answer, events = change(conflicts=3, region_bytes=50)
    party = PartyRecord("red", "Red", "en", "coordinator", 1.5e9, "ops@red.example")
    for value in (answer, events, party, answer.filing):
        again = pickle.loads(pickle.dumps(value))
        assert again == value
    assert pickle.loads(pickle.dumps(answer.conflicts[1])).region_b.startswith("1b")


class _LoadsBadly:
    """Pickles in the theater's process, fails to unpickle in the HTTP process."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (int, ("not a number",))


class _FakeTheater:
    def subscribe(self, listener: Any) -> None:
        pass

    def filing(self, *args: Any) -> Any:
        return _LoadsBadly()

    def cancel(self, *args: Any) -> str:
        return "cancelled"


def test_a_reply_that_cannot_be_read_ends_the_connection_not_every_call(
    tmp_path: Path,
) -> None:
    """A reviewer's defect: the reading thread died on a reply it could not unpickle,
    and every call then waited for good (the server could not even exit)."""
    address, key = str(tmp_path / "t.sock"), os.urandom(32)
    listener = Listener(address, "AF_UNIX", authkey=key)
    threading.Thread(
        target=serve_theater, args=(_FakeTheater(), listener, lambda: None), daemon=True
    ).start()
    lost = threading.Event()
    remote = RemoteTheater(address, key, time.time, lost.set)
    try:
        with ThreadPoolExecutor(1) as pool:
            with pytest.raises(TheaterLost):
                pool.submit(remote.filing).result(timeout=10)
            with pytest.raises(TheaterLost):  # at once: the connection is over
                pool.submit(remote.cancel).result(timeout=10)
        assert lost.is_set()  # the server is told, and stops
    finally:
        remote.close()


#: `tansiq serve` with uvicorn's config slowed by 3 s (nothing else changed): the moment
#: between the store's reading and uvicorn taking over the signals, made wide
SLOW_START = """
import sys, time, uvicorn
made = uvicorn.Config.__init__
def slowly(self, *args, **kwargs):
    sys.stderr.write("[slow]\\n"); sys.stderr.flush(); time.sleep(3); made(self, *args, **kwargs)
uvicorn.Config.__init__ = slowly
from tansiq.cli.main import main
sys.argv = ["tansiq"] + sys.argv[1:]
main()
"""


def slow_start(db: Path, port: int) -> subprocess.Popen[bytes]:
    """``tansiq serve --processes 2`` stopped on its way (at ``[slow]``, before uvicorn)."""
    command = ["serve", "--db", str(db), "--port", str(port), "--processes", "2"]
    server = subprocess.Popen(
        [sys.executable, "-c", SLOW_START, *command],
        stderr=subprocess.PIPE,
    )
    assert server.stderr is not None
    for line in server.stderr:
        if line.startswith(b"[slow]"):
            return server
    raise AssertionError(f"never got that far: {server.wait()}")


def kill_left(*pids: int) -> None:
    """Whatever a failed test left running (a server waiting on its theater's process)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_stopped_before_serving_it_ends_and_frees_the_store(tmp_path: Path) -> None:
    """A reviewer's defect: SIGTERM between the store's reading and uvicorn's start left
    both processes waiting on each other for good, the store held."""
    db = tmp_path / "tansiq.db"
    SqliteStore(db).close()
    server = slow_start(db, free_local_port())
    (theater,) = children(server.pid)
    server.send_signal(signal.SIGTERM)
    try:
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:  # (only then: their ids may be another's once ended)
            kill_left(server.pid, theater)
    assert (server.returncode, err.decode()[-8:]) == (0, "stopped\n"), err
    assert gone(theater)
    again = start_server(db, free_local_port(), 2)  # the store is free
    again.terminate()
    assert again.wait(timeout=30) == 0


def test_lost_before_serving_it_stops_with_status_1(tmp_path: Path) -> None:
    """A reviewer's defect: the theater's process lost before the server existed, and
    the server served on, every call answered 503."""
    db = tmp_path / "tansiq.db"
    SqliteStore(db).close()
    port = free_local_port()
    server = slow_start(db, port)
    (theater,) = children(server.pid)
    os.kill(theater, signal.SIGKILL)
    try:
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:  # (only then: their ids may be another's once ended)
            kill_left(server.pid, theater)
    assert server.returncode == 1
    assert "the theater's process ended unexpectedly" in err.decode(), err
