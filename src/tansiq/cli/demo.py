"""``tansiq demo``: the service end to end on a fresh embedded store, in one command.

The parties of a scenario get their tokens, the server starts on a free local
port, every party listens on its event stream, each feature is filed over HTTP
as its own party, and each party is shown the conflicts as it sees them (of the
other side only what a conflict discloses) and what was pushed to it live. The
store is left in place to explore with ``tansiq serve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from tansiq.cli.load import CATEGORIES
from tansiq.cli.local_server import ServerNotAnswering, free_local_port, wait_until_answering
from tansiq.errors import InputError, StoreInUse
from tansiq.scenario.reader import load_scenario
from tansiq.scenario.timestamps import TimestampError, parse_rfc3339
from tansiq.service.rules import rules_json
from tansiq.store.serving_lock import ServingLock

#: the sample scenario (relative to the working directory: the repository's root)
SAMPLE = Path("examples/deir-ez-zor.geojson")
#: the sample is 16 September 2017: the demo's clock starts that morning
CLOCK_START = "2017-09-16T00:00:00Z"
#: marks a store made by ``tansiq demo``, the only kind it will delete and make again
DEMO_SETTING = "demo"
COORDINATOR = "coordinator"  # the id of the demo's coordinator, unless a party has it


@click.command()
@click.argument(
    "scenario", type=click.Path(dir_okay=False, path_type=Path), default=SAMPLE, required=False
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("tansiq-demo.db"),
    show_default=True,
    help="The demo's store: made afresh on each run (a store not made by the demo is refused).",
)
@click.option(
    "--clock-start", metavar="TIME", default=CLOCK_START, show_default=True,
    help="The theater's clock starts at TIME (RFC 3339).",
)  # fmt: skip
def demo(scenario: Path, db: Path, clock_start: str) -> None:
    """Run the service on SCENARIO (default: the Deir ez-Zor sample) end to end.

    Makes a fresh embedded store (--db), one party per party of the scenario plus
    a coordinator who sets its separation rules, starts the API on a free local
    port, files every feature over HTTP as its own party while each party listens
    on its event stream, and prints what each party is shown.
    """
    import uvicorn

    from tansiq.api import create_app
    from tansiq.service.clocks import exercise_clock
    from tansiq.store import SqliteStore

    if not scenario.exists():
        raise InputError(
            f"{scenario}: no such file (run `tansiq demo` from the repository's root, or name"
            " a scenario file)"
        )
    loaded = load_scenario(scenario)
    try:
        start = parse_rfc3339(clock_start)
    except TimestampError as exc:
        raise click.BadParameter(f"{clock_start!r} {exc}", param_hint="--clock-start") from None
    coordinator = _coordinator_id({p.id for p in loaded.parties})
    _check_parties(loaded)
    tokens = _make_store(db, loaded, coordinator)
    names = {p.id: p.name for p in loaded.parties}
    out = Console()
    if not out.is_terminal:
        out = Console(width=200)  # a pipe or a log: do not cut ids to fit 80 columns
    out.print(f"[bold]store[/] {db}: {len(loaded.parties)} parties and a coordinator")

    store = SqliteStore(db)
    try:
        port = free_local_port()
        url = f"http://127.0.0.1:{port}"
        app = create_app(store, clock=exercise_clock(start))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                           timeout_graceful_shutdown=2)
        )  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        listeners: Listeners | None = None
        try:
            wait_until_answering(url, timeout_s=30)
            out.print(f"[bold]serving[/] {url}, the theater's clock at {clock_start}")
            listeners = Listeners(url, tokens, list(names))
            _file(url, tokens, coordinator, scenario, loaded, out)
            seen = {p: _conflicts(url, tokens[p]) for p in names}
            listeners.wait_for({p: len(items) for p, items in seen.items()})
            acknowledger = loaded.parties[-1].id
            acked = _acknowledge_all(url, tokens[acknowledger], seen[acknowledger])
            out.print(
                f"[bold]acknowledged[/] {names[acknowledger]} has seen its {acked} conflict(s)"
            )
            for party_id in names:
                _show(_conflicts(url, tokens[party_id]), names[party_id],
                      listeners.pushed[party_id], out)  # fmt: skip
        except (httpx.HTTPError, threading.BrokenBarrierError, ServerNotAnswering) as exc:
            raise click.ClickException(f"the demo's server at {url}: {exc!r}") from None
        finally:
            if listeners is not None:
                listeners.close()
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        store.close()
    out.print(
        f"\nThe store stays in {db}. Explore it: [bold]tansiq serve --db {db} --clock-start"
        f" {clock_start}[/], then /docs in a browser; `tansiq party token ID --db {db}` gives"
        " a party a token."
    )


def _coordinator_id(taken: set[str]) -> str:
    name, n = COORDINATOR, 1
    while name in taken:
        n += 1
        name = f"{COORDINATOR}-{n}"
    return name


def _check_parties(loaded: Any) -> None:
    """The scenario's parties as the service will make them: every problem named at once."""
    from tansiq.service.parties import party_problems

    problems = [
        f"scenario party {p.id!r}: {field}: {message}"
        for p in loaded.parties
        for field, message in party_problems(p.id, p.name, p.lang, "party")
    ]
    if problems:
        raise InputError("; ".join(problems))


def _make_store(db: Path, loaded: Any, coordinator: str) -> dict[str, str]:
    """Make the demo's store with its parties and return their tokens.

    It is made beside ``db`` and renamed into place once whole, so that a run cut
    short leaves either the previous demo store or none, never a half-made one.
    """
    from tansiq.service import parties
    from tansiq.store import SqliteStore

    making = db.with_name(db.name + ".making")
    _fresh(db)
    _fresh(making)
    store = SqliteStore(making)
    try:
        store.set_setting(DEMO_SETTING, "1")
        tokens = {
            p.id: parties.add_party(store, p.id, p.name, p.lang)[1] for p in loaded.parties
        }
        tokens[coordinator] = parties.add_party(
            store, coordinator, "Theater coordinator", "en", "coordinator"
        )[1]
    finally:
        store.close()
    os.replace(making, db)
    return tokens


def _fresh(db: Path) -> None:
    """Remove a previous demo's store; refuse to touch any other file, or one in use."""
    if not db.exists():
        return
    import sqlite3

    serving = ServingLock(str(db))
    if serving.path is not None and Path(serving.path).exists():  # served once, or now
        try:
            serving.take()
        except StoreInUse:
            raise InputError(
                f"--db: {db} is being served (by `tansiq serve`?): stop that server, or"
                " name another file"
            ) from None
    try:
        # a store some process has open has its -wal and -shm beside it; so has one
        # whose process was killed. SQLite removes them when the last connection
        # closes: opened and closed here, they stay only if another process has it open
        left_open = _wal_files(db)
        try:
            # with none, the file holds everything: read as it is (immutable), since a
            # read-only connection to a WAL store makes -wal and -shm it cannot remove,
            # which the next look took for a store left open (a reviewer)
            uri = db.resolve().as_uri() + ("" if left_open else "?mode=ro&immutable=1")
            raw = sqlite3.connect(uri, uri=True)
            try:
                query = "SELECT value FROM setting WHERE name = ?"
                row = raw.execute(query, (DEMO_SETTING,)).fetchone()
            finally:
                raw.close()
        except sqlite3.Error:
            row = None
        if left_open and _wal_files(db):
            raise InputError(
                f"--db: {db} is open in another process: close it there, or name another"
                " file"
            )
    finally:
        serving.release()
    if row is None:
        raise InputError(
            f"--db: {db} exists and was not made by `tansiq demo`: it is left alone;"
            " name another file"
        )
    db.unlink()


def _wal_files(db: Path) -> bool:
    return any(Path(f"{db}{suffix}").exists() for suffix in ("-wal", "-shm"))



class Listeners:
    """Each party's open event stream (``GET /v1/events``), and the kinds of event each
    has received, as they arrive."""

    def __init__(self, url: str, tokens: dict[str, str], party_ids: list[str]) -> None:
        self.pushed: dict[str, list[str]] = {p: [] for p in party_ids}
        self._sockets: list[socket.socket] = []
        self._ready = threading.Barrier(len(party_ids) + 1, timeout=10)
        self._threads = [
            threading.Thread(
                target=self._listen, args=(url, p, {"Authorization": f"Bearer {tokens[p]}"}),
                daemon=True,
            )
            for p in party_ids
        ]  # fmt: skip
        for thread in self._threads:
            thread.start()
        self._ready.wait()

    def _listen(self, url: str, party_id: str, headers: dict[str, str]) -> None:
        try:
            with httpx.stream("GET", f"{url}/v1/events", headers=headers, timeout=None) as r:
                r.raise_for_status()
                self._sockets.append(r.extensions["network_stream"].get_extra_info("socket"))
                self._ready.wait()
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        self.pushed[party_id].append(json.loads(line[6:])["kind"])
        except Exception:  # the stream was shut (by close() or by the server) or refused
            self._ready.abort()  # a stream that never opened fails the demo, at once

    def wait_for(self, expected: dict[str, int], timeout_s: float = 10.0) -> None:
        """Until each party has received at least ``expected[party]`` events."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(len(self.pushed[p]) >= n for p, n in expected.items()):
                return
            time.sleep(0.02)

    def close(self) -> None:
        """Shut the streams' sockets (closing a client from another thread would not end
        a read that is waiting), so the server sees them go and stops at once."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


def _conflicts(url: str, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{url}/v1/conflicts", headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["conflicts"]
    return items


def _acknowledge_all(url: str, token: str, items: list[dict[str, Any]]) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        for c in items:
            # the version it was shown: a conflict changed since is not acknowledged (412)
            seen = {"If-Match": str(c["version"])}
            ack = client.post(f"/v1/conflicts/{c['id']}/ack", headers=seen)
            ack.raise_for_status()
    return len(items)


def _file(
    url: str, tokens: dict[str, str], coordinator: str, scenario: Path, loaded: Any, out: Console
) -> None:
    features: list[dict[str, Any]] = json.loads(scenario.read_bytes())["features"]
    with httpx.Client(base_url=url, timeout=60.0) as client:
        answer = client.put(
            "/v1/theater/rules",
            json={"separation": rules_json(loaded.separation)},
            headers={"Authorization": f"Bearer {tokens[coordinator]}"},
        )
        if answer.status_code != 200:
            raise click.ClickException(f"setting the rules: {answer.status_code} {answer.text}")
        out.print(f"[bold]rules[/] the coordinator set {len(loaded.separation)} separation rules")
        for feature, volume in zip(features, loaded.volumes, strict=True):
            category = feature.get("properties", {}).get("category", "operation")
            answer = client.post(
                f"/v1/{CATEGORIES.get(category, 'operations')}",
                content=json.dumps({"type": "FeatureCollection", "features": [feature]}),
                headers={"Authorization": f"Bearer {tokens[volume.party]}"},
            )
            if answer.status_code != 201:
                raise click.ClickException(
                    f"filing {volume.id!r}: {answer.status_code} {answer.text}"
                )
            made = answer.json()
            out.print(
                f"[bold]filed[/] {volume.party} {volume.kind} {volume.id!r} as {made['id']}:"
                f" {len(made['conflicts'])} conflict(s)"
            )


def _show(items: list[dict[str, Any]], name: str, pushed: list[str], out: Console) -> None:
    table = Table(title=f"{name}: {len(items)} conflict(s), {len(pushed)} pushed live")
    columns = ("id", "mine", "my kind", "their kind", "other party", "window (UTC)", "gap m",
               "state", "seen by them")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for c in items:
        window = f"{c['window']['start'][11:16]}–{c['window']['end'][11:16]}"
        seen = c["acknowledged"]["by_other"]
        table.add_row(
            str(c["id"]), c["mine"]["feature"], c["mine"]["kind"], c["other"]["kind"],
            c["other"]["party"]["name"], window, f"{c['gaps']['horizontal_m']:.0f}", c["state"],
            seen[11:19] if seen else "no",
        )  # fmt: skip
    out.print(table)
