"""``GET /v1/events``: each party's live stream of what concerns it (Server-Sent Events).

Events are rows of the store, written in the transaction of the change that made
them; the stream sends those after the client's ``Last-Event-ID`` (or ``?after=``)
and then waits to be woken by the next commit. A client that reconnects with the
last id it saw misses nothing; one that reconnects without gets everything again.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from tansiq.service.views import conflict_view, dumps
from tansiq.store import PartyRecord, SqliteStore

#: a comment line this often keeps proxies from closing an idle stream, seconds
HEARTBEAT_S = 15.0


class Wakeup:
    """Wakes the waiting streams of the parties a commit (in a worker thread) has made
    events for; the other parties' streams sleep on."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def register(self, party_id: str) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        self._waiters.setdefault(party_id, set()).add(waiter)
        return waiter

    def unregister(self, party_id: str, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(party_id, set())
        waiters.discard(waiter)
        if not waiters:
            self._waiters.pop(party_id, None)

    def notify_threadsafe(self, parties: frozenset[str]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, parties)

    def _wake(self, parties: frozenset[str]) -> None:
        for party_id in parties:
            for waiter in list(self._waiters.get(party_id, ())):
                waiter.set()


def resume_point(last_event_id: str | None, after: int | None) -> int:
    """Where a stream starts: after ``Last-Event-ID`` if the client sent one, else ``after``."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return after or 0


async def stream(
    store: SqliteStore,
    party: PartyRecord,
    start: int,
    wakeup: Wakeup,
    disconnected: Any,
) -> AsyncIterator[str]:
    waiter = wakeup.register(party.id)
    last = start
    try:
        yield ": tansiq events\n\n"
        while True:
            waiter.clear()
            batch = await run_in_threadpool(_render, store, party, last)
            if batch:
                # one write for the batch: each goes through the whole ASGI stack
                yield "".join(text for _, text in batch)
                last = batch[-1][0]
                continue
            if await disconnected():
                return
            try:
                await asyncio.wait_for(waiter.wait(), timeout=HEARTBEAT_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        wakeup.unregister(party.id, waiter)


def _render(store: SqliteStore, party: PartyRecord, after: int) -> list[tuple[int, str]]:
    out = []
    for event, conflict in store.events_with_conflicts(party.id, after, limit=500):
        data = dumps({"kind": event.kind, "conflict": conflict_view(conflict, party, store)})
        out.append((event.id, f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"))
    return out
