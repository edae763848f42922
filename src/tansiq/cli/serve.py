"""``tansiq serve``: the HTTP API over a store file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from tansiq.cli.party import DB_OPTION


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
def serve(
    db: Path, host: str, port: int, clock_start: str | None, webhooks_to_private: bool
) -> None:
    """Serve the Tansiq API (OpenAPI at /openapi.json, browsable docs at /docs).

    Every filing is checked against everything the other parties have filed and
    stored with its conflicts in one transaction. Operations whose window has
    ended stop counting. Create parties and their tokens with `tansiq party add`.
    One process holds the theater in memory: a second server on the same store
    file is refused (stop the first).
    """
    import uvicorn

    from tansiq.api import create_app
    from tansiq.scenario.timestamps import TimestampError, parse_rfc3339
    from tansiq.service.clocks import exercise_clock, real_time
    from tansiq.store import SqliteStore

    clock = real_time
    if clock_start is not None:
        try:
            clock = exercise_clock(parse_rfc3339(clock_start))
        except TimestampError as exc:
            raise click.BadParameter(f"{clock_start!r} {exc}", param_hint="--clock-start") from None
    # the first start on a machine also compiles the engine (engine/warmup.py): seconds more
    click.echo(f"reading {db} ...", err=True)
    started = time.perf_counter()
    app = create_app(SqliteStore(db), clock=clock, webhooks_to_private=webhooks_to_private)
    took = time.perf_counter() - started
    click.echo(
        f"{app.state.theater.active_volumes:,} active volumes indexed in {took:.1f} s;"
        f" serving {db} on http://{host}:{port} (docs at /docs)",
        err=True,
    )
    # event streams never end on their own: give them a few seconds on shutdown, then close
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
