"""Webhooks: each party may have its events POSTed to a URL of its own, with retries.

Each party with a webhook has a courier thread of its own, which sends its
events in order, one at a time, and records in the store the last one the
party's server acknowledged (any 2xx); an event is therefore delivered at least
once, and a receiver de-duplicates by its ``id``. A failure (a refused
connection, a timeout, a non-2xx answer, a URL that cannot be resolved) is
retried after 1, 2, 4, ... seconds, at most a minute apart; a POST that has not
been answered within :data:`POST_DEADLINE_S` in all is a failure too. A slow or failing
receiver holds up only its own party (one thread sent for every party until a
second review found a receiver that took 4 s an event delaying the others by
23 s). Before each POST the courier reads the party's URL again: an event is
never sent to a URL the party has replaced or removed, and a new URL starts
without the old one's back-off.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

import httpx

from tansiq.errors import InputError, Unauthorized
from tansiq.service import parties
from tansiq.service.public_ids import PublicIds
from tansiq.service.views import conflict_view, dumps
from tansiq.service.webhook_targets import (
    PRIVATE_HINT,
    NotGlobal,
    Resolver,
    Target,
    resolve,
    targets,
    through_proxy,
)
from tansiq.store import PartyRecord, SqliteStore

MAX_BACKOFF_S = 60.0
#: the longest each step of a POST may take (connecting, sending, each read)
TIMEOUT_S = 5.0
#: the longest a POST may take in all: a receiver that answered a byte every few
#: seconds passed every step's timeout and held its party's courier for good, a new URL
#: included (a reviewer)
POST_DEADLINE_S = 15.0
#: longest webhook URL accepted (a URL is not a place for data)
MAX_URL = 2048
#: events read from the store at a time, per party
BATCH = 50

_log = logging.getLogger(__name__)
T = TypeVar("T")


def set_webhook(
    store: SqliteStore,
    party: PartyRecord,
    url: str | None,
    to_private: bool = False,
    resolver: Resolver = resolve,
    token_id: str | None = None,
) -> None:
    """Send the party's events from now on to ``url`` (``None``: stop), as set with the
    token ``token_id`` (revoking it removes the webhook: :func:`parties.revoke_tokens`).
    A new URL starts with the events after it is set; the party's current URL again
    changes nothing but the token it is held by.
    Unless ``to_private``, a host that resolves to an address that is not public is
    refused (:mod:`tansiq.service.webhook_targets`); one that does not resolve now is
    taken, and checked again before every POST."""
    if url is not None:
        shown = repr(url) if len(url) <= 80 else repr(url[:80]) + "..."
        if len(url) > MAX_URL:
            raise InputError(f"url: {shown} is longer than {MAX_URL} characters")
        try:
            parsed = httpx.URL(url)
            host, port = parsed.host, parsed.port  # IDNA errors surface here
        except (httpx.InvalidURL, ValueError, TypeError):
            parsed, host, port = None, "", None
        if (
            parsed is None
            or parsed.scheme not in ("http", "https")
            or not _host_name_ok(host)
            or any(c.isspace() for c in url)
            or (port is not None and not 0 < port < 65536)
        ):
            raise InputError(f"url: {shown} must be an http:// or https:// URL")
        if not to_private:
            try:
                targets(url, to_private, resolver)
            except NotGlobal as exc:
                raise InputError(f"url: {exc}; {PRIVATE_HINT}") from None
            except (OSError, UnicodeError):
                pass  # not resolvable now: delivery waits and retries, checking each time
    with store.transaction():
        # the token was checked before the body was read: one revoked meanwhile (every
        # token of the party, from the CLI, say) must not set a webhook that then
        # outlives them (found by a reviewer); see parties.revoke_tokens
        if url is not None and not parties.has_live_token(store, party.id):
            raise Unauthorized()
        setter = None if token_id is None else store.get_token(token_id)
        if url is not None and setter is not None and setter.revoked_at is not None:
            raise Unauthorized()  # (revoked since the request's own look)
        current = store.webhook_of(party.id)
        if url is not None and current is not None and current[0] == url:
            # the same URL again (a client re-applying its settings): nothing is lost,
            # and it is now held by this token
            store.set_webhook(party.id, url, current[1], token_id)
            return
        # after the party's own last event, not the store's: a webhook set then read back
        # told whether another party had had an event since the caller's last (its
        # delivered_through null or not; a reviewer), and the events sent are the same
        store.set_webhook(party.id, url, store.last_event_of(party.id), token_id)


def _host_name_ok(host: str) -> bool:
    """A host a resolver takes: an IP address, or a name of labels of 1 to 63 characters
    and 253 in all (``a..b`` and 64-character labels made the resolver raise)."""
    if ":" in host:  # an IPv6 address (httpx has checked it)
        return True
    labels = host.removesuffix(".").split(".")
    return 0 < len(host) <= 253 and all(0 < len(label) <= 63 for label in labels)


class Failing(NamedTuple):
    """A party's webhook failing: since when (the service's clock), at which URL, and
    why the last POST failed. A receiver that answers 3xx, or 500 for ever, was retried
    for ever with no word to the party (a reviewer): ``GET /v1/webhook`` says this."""

    since: float
    url: str
    reason: str


class WebhookStatus(NamedTuple):
    """A party's webhook as the party sees it."""

    url: str | None
    #: the store id of the party's last event its receiver took (None: none yet)
    delivered_through: int | None
    failing: Failing | None


class WebhookSender:
    """Keeps one courier per party with a webhook (started and stopped as webhooks are
    set and removed: looked at every second and whenever one is set or removed)."""

    def __init__(
        self,
        store: SqliteStore,
        ids: PublicIds,
        to_private: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ids = ids
        self._clock = clock
        self._to_private = to_private  # see webhook_targets
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._couriers: dict[str, _Courier] = {}
        self._posts = _PostLoop()
        self._thread: threading.Thread | None = None  # the supervisor, once started

    def start(self) -> None:
        """Start (again, after :meth:`stop`: an app's lifespan may be entered twice)."""
        self._stop.clear()
        self._posts.start()
        self._thread = threading.Thread(target=self._run, name="tansiq-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every thread. POSTs still going are cancelled: an event is marked
        delivered only once its receiver took it, so a cancelled one is sent again after
        the restart (at least once, as always), and a stop is not kept waiting by a slow
        receiver (one let a courier go on POSTing, and writing to the store, after the
        server had stopped: a reviewer). A courier in its host's lookup ends after it."""
        self._stop.set()
        self._wake.set()
        self._posts.stop()
        deadline = time.monotonic() + 1.0  # (a courier in a lookup is not waited for)
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_S)
        with self._lock:
            couriers = list(self._couriers.values())
        for courier in couriers:
            courier.wake.set()
        for courier in couriers:
            courier.thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def wake(self, events: Sequence[object] = ()) -> None:
        """New events were committed (called from the committing thread: only flags):
        each courier looks for its party's. The supervisor is not woken: which parties
        have webhooks changes only by :meth:`webhooks_changed` (asking the store on
        every commit was 2 % of a loaded server's samples, with no webhook at all)."""
        with self._lock:
            couriers = list(self._couriers.values())
        for courier in couriers:
            courier.wake.set()

    def status(self, party_id: str) -> WebhookStatus:
        """What the party is told of its own webhook (``GET /v1/webhook``)."""
        current = self._store.webhook_of(party_id)
        if current is None:
            return WebhookStatus(None, None, None)
        url, delivered = current
        # a new webhook starts after the party's own last event; one set before
        # 2026-12-02 started after the store's last, whoever's: that one is not the
        # party's to be shown
        last = self._store.get_event(delivered) if delivered else None
        with self._lock:
            courier = self._couriers.get(party_id)
        failing = None if courier is None else courier.failing
        return WebhookStatus(
            url,
            delivered if last is not None and last.party_id == party_id else None,
            failing if failing is not None and failing.url == url else None,
        )

    def webhooks_changed(self) -> None:
        """A webhook was set or removed: couriers are started or let go now, not within
        the second (the supervisor also looks every second, whoever set it), and a
        courier waiting out a back-off looks at its webhook again at once."""
        self.wake()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._supervise()
            except Exception:  # the store failing now must not end webhooks for good
                _log.exception("looking at the webhooks failed; trying again in a second")
            self._wake.wait(timeout=1.0)

    def _supervise(self) -> None:
        wanted = {party_id for party_id, _, _ in self._store.webhooks()}
        with self._lock:
            # the ended first (their webhooks were removed): a webhook set again since
            # gets its new courier in this same pass, not a second later (a review
            # found the new one waiting for the next look)
            for party_id, courier in list(self._couriers.items()):
                if not courier.thread.is_alive():
                    del self._couriers[party_id]
            for party_id in wanted - self._couriers.keys():
                courier = _Courier(
                    self._store,
                    self._ids,
                    party_id,
                    self._stop,
                    self._to_private,
                    self._posts,
                    self._clock,
                )
                self._couriers[party_id] = courier
                courier.thread.start()


class _PostLoop:
    """One asyncio loop, on a thread of its own, that runs every courier's POSTs: so
    that a POST can be given up as a whole (httpx's timeouts bound each step; asyncio's,
    the whole), and with one loop for all (a loop each cost a courier three more file
    descriptors, a selector and its wake-up pair, and the server ran out of them at
    some 180 parties with webhooks, where it had served 480; a reviewer). Started by
    the first POST."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: the works submitted and not yet done (cancelled by :meth:`stop`)
        self._going: set[concurrent.futures.Future[Any]] = set()

    def run(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """``work``'s result, run on the loop (from a courier's thread); raises
        :class:`PostLoopStopped` once the loop is stopped (it is not started again
        behind the sender's back: a late courier did, and left a loop running), and
        ``concurrent.futures.CancelledError`` if a stop cancelled it."""
        with self._lock:  # checked and submitted at once: a stop comes before or after
            if self._stopped:
                work.close()  # never run
                raise PostLoopStopped()
            going = asyncio.run_coroutine_threadsafe(work, self._started())
            self._going.add(going)
        going.add_done_callback(self._done)
        return going.result(timeout)

    def _done(self, going: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._going.discard(going)

    def start(self) -> None:
        with self._lock:
            self._stopped = False

    def _started(self) -> asyncio.AbstractEventLoop:
        """The loop, started if it was not (called under the lock)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="tansiq-webhook-posts", daemon=True
            )
            self._thread.start()
        return self._loop

    def stop(self) -> None:
        """Cancel every POST still going (its courier is told, and ends), let them close
        their connections, then stop. Only the works submitted are cancelled: cancelling
        every task of the loop cancelled the inner ones as well, inside httpx's own
        cleanup, and left their sockets open (a reviewer)."""
        with self._lock:
            self._stopped = True
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
            going = list(self._going)
        if loop is None or thread is None:
            return
        for work in going:
            work.cancel()
        with contextlib.suppress(Exception):  # (their cleanup, a moment at most)
            asyncio.run_coroutine_threadsafe(_settled(), loop).result(TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=TIMEOUT_S)
        if not thread.is_alive():
            loop.close()


class PostLoopStopped(RuntimeError):
    """The webhooks' loop is stopped: the server is stopping."""


async def _settled() -> None:
    """Once every other task of the loop has ended (the cancelled ones closing)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await asyncio.gather(*others, return_exceptions=True)


class _Courier:
    """Sends one party's events to its webhook, in order, until the webhook is removed."""

    def __init__(
        self,
        store: SqliteStore,
        ids: PublicIds,
        party_id: str,
        stop: threading.Event,
        to_private: bool,
        posts: _PostLoop,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.party_id = party_id
        self._posts = posts
        self._to_private = to_private
        self._clock = clock
        #: set by this courier's thread, read by the API's (one attribute: no lock)
        self.failing: Failing | None = None
        self.wake = threading.Event()
        self._store = store
        self._ids = ids
        self._stop = stop
        self._url: str | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self.thread = threading.Thread(
            target=self._run, name=f"tansiq-webhook-{party_id}", daemon=True
        )

    def _run(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        try:
            while not self._stop.is_set():
                self.wake.clear()
                try:
                    wait = self._round()
                except Exception:  # a store error, say: this party's delivery waits
                    _log.exception("webhook of party %r failed; retrying", self.party_id)
                    wait = self._failed()
                if wait is None:
                    return  # the webhook was removed
                self.wake.wait(timeout=wait)
        finally:
            self._close_client()
            self._store.release_reader()  # couriers come and go with webhooks

    def _close_client(self) -> None:
        try:
            self._posts.run(self._client.aclose(), TIMEOUT_S)
        except Exception:  # the loop stopped (the server is stopping): nothing to keep
            _log.debug("closing the webhook client of %r failed", self.party_id, exc_info=True)

    def _round(self) -> float | None:
        """Send what is due; return how long to wait (None: the webhook is gone)."""
        current = self._store.webhook_of(self.party_id)
        if current is None:
            return None
        url, delivered = current
        if url != self._url:  # a new URL starts afresh, without the old one's back-off
            self._url, self._backoff, self._retry_at = url, 0.0, 0.0
            self.failing = None
            # and with connections of its own: pooled by address, a kept one would
            # carry the new name over TLS that proved the old one (a second review)
            self._close_client()
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        now = time.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        party = self._store.get_party(self.party_id)
        if party is None:
            return 1.0
        events = self._store.events_with_conflicts(self.party_id, delivered, limit=BATCH)
        for event, conflict in events:
            now_current = self._store.webhook_of(self.party_id)
            if now_current is None or now_current[0] != url:
                return 0.0  # replaced or removed meanwhile: never send to the old URL
            body = {
                "id": self._ids.show("event", event.id),
                "kind": event.kind,
                "conflict": conflict_view(conflict, party, self._store, self._ids),
            }
            if self._stop.is_set():
                return None  # the server is stopping: not one POST more (a reviewer)
            addresses = looked_up(url, self._to_private)  # on this thread: see looked_up
            try:
                failure = self._posts.run(
                    post_within(self._client, url, body, addresses, POST_DEADLINE_S),
                    POST_DEADLINE_S + 5,
                )
            except (PostLoopStopped, concurrent.futures.CancelledError):
                return None  # the server is stopping: its loop cancelled the POST
            except concurrent.futures.TimeoutError:
                failure = f"no answer within {POST_DEADLINE_S:g} s"
            if failure is not None:
                since = self.failing.since if self.failing is not None else self._clock()
                self.failing = Failing(since, url, failure)
                return self._failed()
            self._store.mark_delivered(self.party_id, event.id, url)
            self._backoff, self._retry_at = 0.0, 0.0
            self.failing = None
        return 0.0 if len(events) == BATCH else 1.0

    def _failed(self) -> float:
        self._backoff = min(MAX_BACKOFF_S, max(1.0, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff
        return self._backoff


class Addresses(NamedTuple):
    """Where a webhook's POST goes: the checked addresses of its host, or ``None``
    (through the environment's proxy, by name), or why it cannot go (``failure``)."""

    targets: list[Target] | None
    failure: str | None = None


def looked_up(url: str, to_private: bool) -> Addresses:
    """The host of ``url`` resolved and, unless ``to_private``, every address checked.

    It blocks (the system's resolver): a courier calls it on its own thread, so that a
    slow lookup holds only its own party. On the loop's shared executor, six parties
    whose hosts did not answer their lookups stopped every other party's webhooks, and
    the process could not exit until the lookups ended (a reviewer)."""
    try:
        if through_proxy(url):  # the proxy connects, by name; TLS checks the name
            # what resolves here must be public; a name only the proxy resolves (a
            # closed network's usual way) is the proxy's to reach
            if not to_private:  # (allowed anywhere: nothing to resolve here)
                with contextlib.suppress(OSError):
                    targets(url, to_private)
            return Addresses(None)
        return Addresses(targets(url, to_private))
    except NotGlobal as exc:
        _log.warning("webhook not sent: %s; %s", exc, PRIVATE_HINT)
        return Addresses(None, f"{exc}; {PRIVATE_HINT}")
    except (OSError, UnicodeError):  # no such name, or one the resolver refuses
        return Addresses(None, "its host does not resolve")


async def post_within(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, object],
    addresses: Addresses,
    deadline_s: float = POST_DEADLINE_S,
) -> str | None:
    """:func:`_post`, given up if not answered within ``deadline_s``."""
    if addresses.failure is not None:
        return addresses.failure
    try:
        return await asyncio.wait_for(_post(client, url, body, addresses.targets), deadline_s)
    except TimeoutError:
        return f"no answer within {deadline_s:g} s"


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, object],
    addresses: list[Target] | None,
) -> str | None:
    """POST one event: None if the receiver took it, else why not (it is retried). It
    goes to an address that was checked (:func:`looked_up`), the next one if it refuses
    the connection; with none, through the proxy by name."""
    content = dumps(body)
    try:
        if addresses is None:
            return _said(
                await _status(
                    client, url, content=content, headers={"Content-Type": "application/json"}
                )
            )
        for target in addresses:
            headers = {"Content-Type": "application/json", "Host": target.host_header}
            sni = target.sni_hostname
            extensions = {} if sni is None else {"sni_hostname": sni}
            try:
                return _said(
                    await _status(
                        client, target.url, content=content, headers=headers,
                        extensions=extensions,
                    )
                )  # fmt: skip
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue  # nothing was sent: the next address (as connecting by name does)
        return "no address of its host takes connections"
    except httpx.TimeoutException:
        return "it did not answer in time"
    except httpx.ConnectError:
        return "could not connect"
    except Exception as exc:  # a broken answer, say
        return f"the POST failed ({type(exc).__name__})"


def _said(status: int) -> str | None:
    """Why an answer with this status is not a delivery (None: it is)."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"answered {status}: a redirect, which is not followed (give the URL it leads to)"
    return f"answered {status}"


async def _status(client: httpx.AsyncClient, url: str, **request: Any) -> int:
    """POST and look at the status only: the answer's body is never read (a receiver
    answering 300 MB took 900 MB of the server's memory: found by a reviewer)."""
    async with client.stream("POST", url, **request) as answer:
        return answer.status_code
