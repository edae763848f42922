"""Webhooks: each party may have its events POSTed to a URL of its own, with retries.

A background thread sends every party's events in order, one at a time, and
records in the store the last one the party's server acknowledged (any 2xx); an
event is therefore delivered at least once, and a receiver de-duplicates by its
``id``. A failure (a refused connection, a timeout, a non-2xx answer) is retried
after 1, 2, 4, ... seconds, at most a minute apart, while the other parties'
deliveries go on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import httpx

from tansiq.errors import InputError
from tansiq.service.views import conflict_view, dumps
from tansiq.store import PartyRecord, SqliteStore

MAX_BACKOFF_S = 60.0
TIMEOUT_S = 5.0
#: longest webhook URL accepted (a URL is not a place for data)
MAX_URL = 2048


def set_webhook(store: SqliteStore, party: PartyRecord, url: str | None) -> None:
    """Send the party's events from now on to ``url`` (``None``: stop)."""
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
            or not host
            or any(c.isspace() for c in url)
            or (port is not None and not 0 < port < 65536)
        ):
            raise InputError(f"url: {shown} must be an http:// or https:// URL")
    store.set_webhook(party.id, url, store.last_event_id())


class WebhookSender:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._retry_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="tansiq-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=TIMEOUT_S + 1)

    def wake(self, events: Sequence[object] = ()) -> None:
        """New events were committed (called from the committing thread)."""
        self._wake.set()

    def _run(self) -> None:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            while not self._stop.is_set():
                self._wake.clear()
                pending = self._send_round(client)
                self._wake.wait(timeout=0.05 if pending else 1.0)

    def _send_round(self, client: httpx.Client) -> bool:
        """Try each party's next events once; whether any party has more to send now."""
        more = False
        now = time.monotonic()
        for party_id, url, delivered in self._store.webhooks():
            if self._retry_at.get(party_id, 0.0) > now:
                continue
            party = self._store.get_party(party_id)
            events = self._store.events_with_conflicts(party_id, delivered, limit=50)
            if party is None or not events:
                continue
            for event, conflict in events:
                body = {
                    "id": event.id,
                    "kind": event.kind,
                    "conflict": conflict_view(conflict, party, self._store),
                }
                if not self._post(client, url, body):
                    delay = min(MAX_BACKOFF_S, self._backoff.get(party_id, 0.5) * 2)
                    self._backoff[party_id] = delay
                    self._retry_at[party_id] = time.monotonic() + delay
                    break
                self._store.mark_delivered(party_id, event.id)
                self._backoff.pop(party_id, None)
                self._retry_at.pop(party_id, None)
            else:
                more = more or len(events) == 50
        return more

    @staticmethod
    def _post(client: httpx.Client, url: str, body: dict[str, object]) -> bool:
        try:
            answer = client.post(
                url, content=dumps(body), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError:
            return False
        return 200 <= answer.status_code < 300
