"""``GET /v1/events``: each party's live stream of what concerns it (Server-Sent Events).

Events are rows of the store, written in the transaction of the change that made
them. A stream first sends those after the client's ``Last-Event-ID`` (or
``?after=``), read from the store; once it has caught up it is fed from memory:
the theater hands each committed batch's events, with their conflicts, to
:class:`LiveEvents`, which drops them in the mailbox of every open stream of
the parties concerned. (Reading each event back from the store, on a worker
thread, was about a third of a loaded server's time: docs/benchmarks.md.) A
client that reconnects with the last id it saw misses nothing; one that
reconnects without gets everything again.

A live event shows its conflict as the change that made it left it; an event
read back from the store shows the conflict as it is now. A stream that falls
more than :data:`MAILBOX_LIMIT` events behind reads from the store again.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tansiq.errors import InputError, TooManyStreams
from tansiq.service.outcomes import LiveEvent
from tansiq.service.public_ids import PublicIds
from tansiq.service.views import conflict_view, dumps
from tansiq.store import ConflictRecord, PartyRecord, SqliteStore

#: a comment line this often keeps proxies from closing an idle stream, seconds
HEARTBEAT_S = 15.0
#: the route of the event streams (``tansiq serve`` tells them by it at a stop)
PATH = "/v1/events"
#: events a stream's mailbox holds before the stream is sent back to the store
MAILBOX_LIMIT = 256
#: how often an idle stream asks whether its client has gone, seconds
RECHECK_S = 1.0
#: event streams one party may hold open at once (every stream of a party sends all
#: its events: a console, its standby and a few scripts need a handful); a new one
#: beyond them closes the party's oldest
STREAMS_PER_PARTY = 16
#: streams of one party not yet ended, live or given way: beyond, a new one is refused
#: (:class:`TooManyStreams`). A stream that gave way while stuck in a write to a client
#: that does not read ends only when the kernel drops its connection, and each holds its
#: socket, task and batch until then
STREAMS_HELD_PER_PARTY = 2 * STREAMS_PER_PARTY
#: the comment an oldest stream ends with when a newer one of its party takes its place
GIVEN_WAY = (
    f": closed: your party opened more than {STREAMS_PER_PARTY} event streams, and this"
    " is the oldest; reconnect with Last-Event-ID to resume\n\n"
)


class Shared:
    """A live event as every open stream of its party sends it: rendered by the first
    that sends it, once (each stream rendered it again: 200 streams of one party held
    the event loop, and every other party's requests, 0.19 s for one filing; a
    reviewer)."""

    __slots__ = ("_text", "event")

    def __init__(self, event: LiveEvent) -> None:
        self.event = event
        self._text: str | None = None

    def text(self, party: PartyRecord, store: SqliteStore, ids: PublicIds) -> str:
        if self._text is None:
            event = self.event
            self._text = _event_text(event.id, event.kind, event.conflict, party, store, ids)
        return self._text


class Mailbox:
    """The live events of one open stream not yet sent (filled on the event loop)."""

    def __init__(self) -> None:
        self.events: list[Shared] = []
        self.overflowed = False
        self.ready = asyncio.Event()
        #: a newer stream of its party took its place: it ends
        self.given_way = False

    def put(self, event: Shared) -> None:
        if len(self.events) >= MAILBOX_LIMIT:
            self.events.clear()  # the store has them all: the stream reads them there
            self.overflowed = True
        elif not self.overflowed:
            self.events.append(event)
        self.ready.set()

    def take(self) -> list[Shared]:
        taken, self.events = self.events, []
        return taken


class LiveEvents:
    """Hands committed events (from the committing worker thread) to the mailboxes of
    the open streams of the parties they concern; other streams sleep on."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        #: each party's live streams' mailboxes, oldest first (a dict as an ordered set)
        self._mailboxes: dict[str, dict[Mailbox, None]] = {}
        #: each party's streams not yet ended: the live ones and those that gave way
        self._held: dict[str, set[Mailbox]] = {}
        #: the server is stopping: every stream ends (its client reconnects with the
        #: last id it saw), so that the server's shutdown does not wait for them
        self.closing = False

    def close_threadsafe(self) -> None:
        """End every open stream, now and as they open (the server is stopping: left
        open, they were cancelled after the shutdown's grace, and uvicorn printed each
        as an exception; a reviewer)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._close)
        else:
            self.closing = True

    def _close(self) -> None:
        self.closing = True
        for mailboxes in self._mailboxes.values():
            for mailbox in mailboxes:
                mailbox.ready.set()

    def register(
        self, party_id: str, limit: int | None = None, held_limit: int | None = None
    ) -> Mailbox:
        """A mailbox for a new stream of the party. If the party holds ``limit`` open
        already, its oldest stream gives way: its place is taken at once, and it ends
        (at its next turn, with :data:`GIVEN_WAY`).

        Why not refuse the new one: a stream whose client vanished without closing (a
        cut link, a dropped NAT entry) is not known to be dead until the kernel gives up
        on its socket, some 15 minutes with Linux's defaults, and one whose client
        stopped reading waits in its write for as long as the client likes, a revoked
        token's included; refusing new streams let such streams lock every client of
        the party out of its events (a reviewer, with a cut virtual link). A console
        reconnecting is never refused; at worst a live stream of a party running more
        than ``limit`` clients is closed, and its client resumes from its last id.

        A stream that gave way while stuck in a write ends only when the kernel drops
        its connection: beyond ``held_limit`` streams not yet ended, a new one is
        refused (:class:`TooManyStreams`), so that one token cannot open them without
        end (a reviewer)."""
        self.check(party_id, held_limit)
        self._loop = asyncio.get_running_loop()
        mailboxes = self._mailboxes.setdefault(party_id, {})
        while limit is not None and len(mailboxes) >= limit:
            oldest = next(iter(mailboxes))
            del mailboxes[oldest]
            oldest.given_way = True
            oldest.ready.set()
        mailbox = Mailbox()
        mailboxes[mailbox] = None
        self._held.setdefault(party_id, set()).add(mailbox)
        return mailbox

    def open_streams(self, party_id: str) -> int:
        return len(self._mailboxes.get(party_id, ()))

    def check(self, party_id: str, held_limit: int | None) -> None:
        """:class:`TooManyStreams` if the party holds ``held_limit`` streams not ended."""
        held = len(self._held.get(party_id, ()))
        if held_limit is not None and held >= held_limit:
            raise TooManyStreams(held)

    def held_streams(self, party_id: str) -> int:
        return len(self._held.get(party_id, ()))

    def unregister(self, party_id: str, mailbox: Mailbox) -> None:
        """The stream has ended (called again for it, it does nothing)."""
        mailboxes = self._mailboxes.get(party_id, {})
        mailboxes.pop(mailbox, None)
        if not mailboxes:
            self._mailboxes.pop(party_id, None)
        held = self._held.get(party_id, set())
        held.discard(mailbox)
        if not held:
            self._held.pop(party_id, None)

    def deliver_threadsafe(self, events: Sequence[LiveEvent]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, events)

    def _deliver(self, events: Sequence[LiveEvent]) -> None:
        for event in events:
            mailboxes = self._mailboxes.get(event.party_id)
            if mailboxes:
                shared = Shared(event)  # (an event concerns one party: all its streams)
                for mailbox in mailboxes:
                    mailbox.put(shared)


class StreamAnswer(StreamingResponse):
    """A stream's answer, which gives its mailbox back however it ends: the stream's
    own ``finally`` never runs if the stream never started (its client gone before
    the first write), and the party's count of open streams would keep it."""

    def __init__(
        self, content: AsyncGenerator[str, None], live: LiveEvents, party_id: str, mailbox: Mailbox
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=STREAM_HEADERS)
        self._given_back = partial(live.unregister, party_id, mailbox)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._given_back()


async def nothing() -> AsyncGenerator[str, None]:
    """A stream's body as HEAD sends it."""
    return
    yield  # (a generator that yields nothing)


#: headers of a stream's answer (``X-Accel-Buffering``: nginx passes each event on at once)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def resume_point(
    last_event_id: str | None,
    after: int | None,
    largest: int,
    own: Callable[[int], int | None],
) -> int:
    """Where a stream starts (a store id): after ``Last-Event-ID`` if the client sent
    one, else ``after``; both are event ids as parties are shown them.

    It must be the id of one of the caller's own events (``own`` gives its store id,
    :meth:`PublicIds.own_event`): every whole number reads as some store id, and
    resuming after a mistaken one (an id from another store, or from before ids were
    masked) would skip events without a word. Anything else is refused, naming the
    header or parameter, before the stream starts (the same refusal for another
    party's id and a missing one)."""
    text = (last_event_id or "").strip()
    if not text or text == "0":  # no id is shown as 0: from the start, as after=0 is
        if not after:
            return 0
        start = own(after)
        if start is None:
            raise InputError(f"after: {after} is not the id of one of your events")
        return start
    value = whole_number(text, largest)
    start = None if value is None else own(value)
    if start is None:
        raise InputError(f"Last-Event-ID: {shown(text)} is not the id of one of your events")
    return start


def whole_number(text: str, largest: int) -> int | None:
    """``text`` as a whole number from 0 to ``largest``, or None: ASCII digits only
    (``str.isdigit`` alone takes '²', which ``int`` refuses), and no longer than
    ``largest`` is (``int`` refuses more than 4,300 digits)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    value = int(text)
    return value if value <= largest else None


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut short (a header may be kilobytes)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


async def stream(
    store: SqliteStore,
    party: PartyRecord,
    start: int,
    live: LiveEvents,
    disconnected: Any,
    ids: PublicIds,
    allowed: Callable[[], bool] = lambda: True,
    mailbox: Mailbox | None = None,
) -> AsyncGenerator[str, None]:
    """The party's events after ``start``, for as long as the client listens and
    ``allowed()`` (its token still valid) holds: a revoked token's stream ends before
    it sends anything more. ``allowed()`` is asked when the stream starts, at every
    heartbeat, and before a write whenever the store's count of revocations has moved
    since it was last asked (a read of one row: asking at most once a second let a
    revoked token's stream send for that second, 13,000 events of a backlog; a
    reviewer). ``mailbox``: one :meth:`LiveEvents.register` gave the request (the
    route takes it, so that the party's oldest stream gives way before this one
    starts); the stream registers one itself, with no limit, if none is given.
    Either way it is unregistered when the stream ends."""
    # registered before the first read of the store: whatever commits after that read
    # began is in the mailbox, whatever committed before it is in the store
    if mailbox is None:
        mailbox = live.register(party.id)
    last = start
    from_store = True
    looked = time.monotonic()
    # read before the first look at the token: a revocation after that look moves it
    revocations = store.revocations()

    async def still_allowed(now: bool = False) -> bool:
        nonlocal revocations
        if not now:
            seen = store.revocations()
            if seen == revocations:
                return True
            revocations = seen
        return await run_in_threadpool(allowed)

    try:
        if not await still_allowed(now=True):  # revoked since the request's own look
            return
        yield ": tansiq events\n\n"
        while not live.closing and not mailbox.given_way:
            mailbox.ready.clear()
            if from_store or mailbox.overflowed:
                mailbox.overflowed = False
                mailbox.events.clear()
                batch = await run_in_threadpool(_render_stored, store, party, last, ids)
                from_store = bool(batch)  # until the store has nothing more to send
            else:
                fresh = [e for e in mailbox.take() if e.event.id > last]
                batch = [(e.event.id, e.text(party, store, ids)) for e in fresh]
            if batch:
                if not await still_allowed():
                    return
                # one write for the batch: each goes through the whole ASGI stack
                yield "".join(text for _, text in batch)
                last = batch[-1][0]
                continue
            if from_store or mailbox.events or mailbox.overflowed:
                continue
            if time.monotonic() - looked >= RECHECK_S:
                # at most once a second: starlette also ends the stream when the client
                # goes, and asking after every batch was 4 % of a loaded server's time
                looked = time.monotonic()
                if await disconnected():
                    return
            try:
                await asyncio.wait_for(mailbox.ready.wait(), timeout=HEARTBEAT_S)
            except TimeoutError:
                if not await still_allowed(now=True):
                    return
                yield ": keep-alive\n\n"
                from_store = True  # and, idle, a look at the store: a safety net
        if mailbox.given_way:
            yield GIVEN_WAY
    finally:
        live.unregister(party.id, mailbox)


def _render_stored(
    store: SqliteStore, party: PartyRecord, after: int, ids: PublicIds
) -> list[tuple[int, str]]:
    return [
        (event.id, _event_text(event.id, event.kind, conflict, party, store, ids))
        for event, conflict in store.events_with_conflicts(party.id, after, limit=500)
    ]


def _event_text(
    event_id: int,
    kind: str,
    conflict: ConflictRecord,
    party: PartyRecord,
    store: SqliteStore,
    ids: PublicIds,
) -> str:
    data = dumps({"kind": kind, "conflict": conflict_view(conflict, party, store, ids)})
    return f"id: {ids.show('event', event_id)}\nevent: {kind}\ndata: {data}\n\n"
