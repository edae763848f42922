"""``tansiq serve``: the HTTP API over a store file, in one process or several."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tansiq.cli.party import DB_OPTION

if TYPE_CHECKING:
    from fastapi import FastAPI

#: how ``tansiq serve --workers N`` tells each worker process what to serve (JSON)
WORKER_SETTINGS = "TANSIQ_SERVE_WORKER"


@click.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--clock-start",
    metavar="TIME",
    help="Run the theater's clock from TIME (RFC 3339, e.g. 2017-09-16T00:00:00Z) at real"
    " speed, for an exercise or a replay of past events. Default: the real time.",
)
@click.option(
    "--webhooks-to-private",
    is_flag=True,
    help="Let parties' webhooks go to loopback, private and link-local addresses (receivers"
    " on this machine or its own network). Default: public addresses only.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port. Each holds the theater in memory (its memory"
    " and start-up time, once per process); they take turns to write, each reading what"
    " the others wrote first. Two use two cores for HTTP, bodies and event streams.",
)
def serve(
    db: Path,
    host: str,
    port: int,
    clock_start: str | None,
    webhooks_to_private: bool,
    workers: int,
) -> None:
    """Serve the Tansiq API (OpenAPI at /openapi.json, browsable docs at /docs).

    Every filing is checked against everything the other parties have filed and
    stored with its conflicts in one transaction. Operations whose window has
    ended stop counting. Create parties and their tokens with `tansiq party add`.
    Several servers (or --workers) may serve one store file: each change is
    checked against every change any of them committed before it.
    """
    import uvicorn

    from tansiq.scenario.timestamps import TimestampError, parse_rfc3339
    from tansiq.store import SqliteStore

    offset = 0.0
    if clock_start is not None:
        try:
            offset = parse_rfc3339(clock_start) - time.time()
        except TimestampError as exc:
            raise click.BadParameter(f"{clock_start!r} {exc}", param_hint="--clock-start") from None
    settings = {
        "db": str(db),
        "url": f"http://{host}:{port}",
        "clock_offset": offset,
        "webhooks_to_private": webhooks_to_private,
    }
    # event streams never end on their own: give them a few seconds on shutdown, then close
    common = {"host": host, "port": port, "log_level": "warning", "timeout_graceful_shutdown": 3}
    if workers == 1:
        uvicorn.run(_app(settings), **common)  # type: ignore[arg-type]
        return
    SqliteStore(db).close()  # made or migrated once, and refused here if unusable
    os.environ[WORKER_SETTINGS] = json.dumps(settings)
    click.echo(f"starting {workers} workers on {db} ...", err=True)
    uvicorn.run(
        "tansiq.cli.serve:worker_app", factory=True, workers=workers, **common  # type: ignore[arg-type]
    )


def worker_app() -> FastAPI:
    """The app of one of ``tansiq serve --workers N``'s processes (uvicorn's factory)."""
    return _app(json.loads(os.environ[WORKER_SETTINGS]), f"worker {os.getpid()}: ")


def _app(settings: dict[str, object], who: str = "") -> FastAPI:
    from tansiq.api import create_app
    from tansiq.service.clocks import offset_clock, real_time
    from tansiq.store import SqliteStore

    db = str(settings["db"])
    offset = float(settings["clock_offset"])  # type: ignore[arg-type]
    clock = offset_clock(offset) if offset else real_time
    # the first start on a machine also compiles the engine (engine/warmup.py): seconds more
    click.echo(f"{who}reading {db} ...", err=True)
    started = time.perf_counter()
    app = create_app(
        SqliteStore(db), clock=clock, webhooks_to_private=bool(settings["webhooks_to_private"])
    )
    took = time.perf_counter() - started
    click.echo(
        f"{who}{app.state.theater.active_volumes:,} active volumes indexed in {took:.1f} s;"
        f" serving {db} on {settings['url']} (docs at /docs)",
        err=True,
    )
    return app
