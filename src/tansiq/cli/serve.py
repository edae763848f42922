"""``tansiq serve``: the HTTP API over a store file."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Callable, Collection
from pathlib import Path
from types import FrameType

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
    from tansiq.scenario.timestamps import TimestampError, parse_rfc3339
    from tansiq.service.clocks import exercise_clock, real_time

    clock = real_time
    if clock_start is not None:
        try:
            clock = exercise_clock(parse_rfc3339(clock_start))
        except TimestampError as exc:
            raise click.BadParameter(f"{clock_start!r} {exc}", param_hint="--clock-start") from None
    # before the store is read (seconds at 1M): a port taken is said at once, not after
    _refuse_unless_listenable(host, port)
    # uvicorn stops gracefully on Ctrl-C or SIGTERM, then raises the signal again: a
    # server asked to stop has done what was asked, exit status 0 for both (SIGTERM
    # ended the process by the signal, 143: a container's stop reported as a failure;
    # a reviewer). From here on, the store's reading included (seconds at 1M), when a
    # container's stop is likeliest to come
    signal.signal(signal.SIGTERM, _stopped)
    try:
        _serve(db, host, port, clock, webhooks_to_private)
    except (KeyboardInterrupt, _Stopped):
        click.echo("stopped", err=True)


def _serve(
    db: Path, host: str, port: int, clock: Callable[[], float], webhooks_to_private: bool
) -> None:
    import uvicorn

    from tansiq.api import create_app, events
    from tansiq.store import SqliteStore

    # the first start on a machine also compiles the engine (engine/warmup.py): seconds more
    click.echo(f"reading {db} ...", err=True)
    started = time.perf_counter()
    app = create_app(SqliteStore(db), clock=clock, webhooks_to_private=webhooks_to_private)
    took = time.perf_counter() - started
    click.echo(
        f"{app.state.theater.active_volumes:,} active volumes indexed in {took:.1f} s;"
        f" serving {db} on {_url(host, port)} (docs at /docs)",
        err=True,
    )
    live = app.state.live

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            live.close_threadsafe()  # event streams end at once (they never end on their own)
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            async def drop_waiting_streams() -> None:
                while True:  # (one whose writes pause later is dropped too)
                    await asyncio.sleep(WAITING_WRITE_S)
                    _drop_waiting_streams(self.server_state.connections, events.PATH)

            dropping = asyncio.get_running_loop().create_task(drop_waiting_streams())
            try:
                await super().shutdown(sockets)
            finally:
                dropping.cancel()

    # a request still going after a few seconds of shutdown is cut off
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    server = Server(config)
    # bound now, not before the store was read: until the server answers, a client is
    # refused at once rather than left waiting in the listening queue
    sockets = _listening(host, port)
    try:
        server.run(sockets=sockets)
    except SystemExit as stopped:  # uvicorn could not start (it said why): our exit status
        if stopped.code not in (None, 0):
            raise click.ClickException(f"could not serve on {_url(host, port)}") from None
        raise
    finally:
        for listening in sockets:
            listening.close()  # (uvicorn closes them as it stops; this, if it never ran)
    if not server.started:  # as uvicorn.run tells it
        raise click.ClickException(f"could not serve on {_url(host, port)}")


#: how often, from a stop's start, event streams waiting in a write to a client that
#: does not read are dropped (see :func:`_drop_waiting_streams`); uvicorn's grace for
#: requests is 3 s
WAITING_WRITE_S = 1.0
def _drop_waiting_streams(connections: Collection[object], path: str) -> None:
    """Drop every event stream (a request for ``path``) that waits in a write, its
    client not reading.

    At a stop every event stream is told to end, but one waiting in a write to a
    client that does not read cannot: it was cut when uvicorn's grace ran out and
    printed as an ERROR and "Exception in ASGI application" with a traceback (a
    reviewer). Dropped, it ends as a hung-up client's does, quietly; its client
    resumes with Last-Event-ID and misses nothing. Other answers are left their
    grace: a large page to a client that reads slowly was cut half-way, without a
    word (a second reviewer). uvicorn gives an application no handle on its
    connection: its protocol objects' request (``cycle.scope``), flow control
    (``flow``, paused while the client's buffers are full) and transport are read as
    uvicorn 0.55 keeps them, and a connection without them is left to uvicorn
    (tests/test_events.py fails if uvicorn moves them)."""
    for connection in list(connections):
        scope = getattr(getattr(connection, "cycle", None), "scope", None)
        flow = getattr(connection, "flow", None)
        # uvloop's transports are not asyncio.Transport subclasses: what they do is read
        abort = getattr(getattr(connection, "transport", None), "abort", None)
        stream = isinstance(scope, dict) and scope.get("path") == path
        if stream and getattr(flow, "write_paused", False) and callable(abort):
            abort()


class _Stopped(Exception):
    """SIGTERM, raised again by uvicorn once it has stopped."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped()


def _url(host: str, port: int) -> str:
    if not host:
        return f"http://*:{port} (every interface)"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


#: how long data sent to a client may wait unacknowledged, or behind a window the client
#: keeps closed, before the kernel drops the connection (``TCP_USER_TIMEOUT``, set on the
#: listening sockets and so on every connection). An event stream whose client vanished
#: (a cut link) or stopped reading otherwise kept its socket and its task until the
#: kernel gave up, some 15 minutes, or for good (a reviewer); a live stream sends at
#: least a comment every 15 s, so a dead one is dropped within about 75 s
UNACKNOWLEDGED_LIMIT_S = 60


def _refuse_unless_listenable(host: str, port: int) -> None:
    """Bind what uvicorn will bind (every address ``host`` resolves to, as asyncio's
    ``create_server`` does), then let go: a taken port, an address not of this machine
    or a name that does not resolve is refused with its reason (exit status 1)."""
    for listening in _listening(host, port):
        listening.close()


def _listening(host: str, port: int) -> list[socket.socket]:
    """A listening socket for every address ``host`` resolves to, as asyncio's
    ``create_server`` makes them ("" and None: every interface), each with
    :data:`UNACKNOWLEDGED_LIMIT_S`; a taken port, an address not of this machine or a
    name that does not resolve is a :class:`click.ClickException` naming why."""
    where = _url(host, port).removeprefix("http://")
    try:
        # "" is every interface to asyncio, as None is to getaddrinfo (a reviewer)
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"cannot listen on {where}: {reason.lower()}") from None
    # each address once: a name on two lines of /etc/hosts (with glibc's `multi on`) is
    # given twice, and its second bind failed as "address already in use" (a reviewer);
    # asyncio's create_server takes each once too
    unique = dict.fromkeys((family, kind, proto, at) for family, kind, proto, _, at in found)
    made: list[socket.socket] = []
    try:
        for family, kind, proto, address in unique:
            try:
                listening = socket.socket(family, kind, proto)
            except OSError:
                continue  # a family this kernel lacks (no IPv6): asyncio skips it too
            made.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux's; elsewhere the kernel's own
                listening.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, UNACKNOWLEDGED_LIMIT_S * 1000
                )
            try:
                listening.bind(address)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise click.ClickException(f"cannot listen on {where}: {reason.lower()}") from None
            listening.listen(2048)  # uvicorn's backlog
    except BaseException:
        for listening in made:
            listening.close()
        raise
    return made
