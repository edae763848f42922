"""A stream fed from memory once caught up: in order, nothing missed, nothing twice, also
when it falls so far behind that its mailbox overflows and it reads the store again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from samples import sample_morning
from tansiq.api.events import MAILBOX_LIMIT, LiveEvents, _event_text, _render_stored, stream
from tansiq.errors import TooManyStreams
from tansiq.service import parties
from tansiq.service.outcomes import LiveEvent
from tansiq.service.public_ids import PublicIds
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from test_theater import body, disc

#: event ids as streams show them (any key: these tests make their own streams)
IDS = PublicIds(b"tansiq-tests" * 3)


async def never_disconnected() -> bool:
    return False


def sent(texts: list[str]) -> list[tuple[int, str, dict[str, object]]]:
    """(id, event, data) of every event in what a stream wrote."""
    out = []
    for block in "".join(texts).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line[:1] != ":")
        if "id" in fields:
            out.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return out


def test_a_stream_behind_by_more_than_its_mailbox_misses_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))  # in the store already

    def file_red(first: int, count: int) -> None:
        for k in range(first, first + count):
            theater.file(red, "operation", body(disc(f"r{k}", 40.0 + k * 1e-6, 35.0)))

    async def run() -> list[str]:
        live = LiveEvents()
        theater.subscribe(live.deliver_threadsafe)
        events = stream(store, blue, 0, live, never_disconnected, IDS)
        texts = [await events.__anext__()]  # the stream is open: its mailbox too
        waiting = asyncio.ensure_future(events.__anext__())  # reads the store, then waits
        await asyncio.sleep(0.2)
        await asyncio.to_thread(file_red, 0, 1)
        texts.append(await asyncio.wait_for(waiting, 10))  # fed live
        # the stream is not read while many more events are made
        await asyncio.to_thread(file_red, 1, MAILBOX_LIMIT + 40)
        while len(sent(texts)) < MAILBOX_LIMIT + 41:
            texts.append(await asyncio.wait_for(events.__anext__(), 10))
        await events.aclose()
        return texts

    got = sent(asyncio.run(run()))
    stored = store.events_with_conflicts("blue", 0)
    shown = [(IDS.show("event", e.id), e.kind) for e, _ in stored]
    assert [(i, kind) for i, kind, _ in got] == shown
    assert len(got) == MAILBOX_LIMIT + 41
    # each shows blue's side of its conflict, with the other party named
    assert all(data["conflict"]["other"]["party"]["id"] == "red" for _, _, data in got)  # type: ignore[index]


def test_live_and_stored_renderings_of_an_unchanged_conflict_are_the_same(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    theater = Theater(store, clock=sample_morning())
    handed: list[LiveEvent] = []
    theater.subscribe(handed.extend)
    theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    theater.file(red, "operation", body(disc("r", 40.0, 35.0)))
    live = [e for e in handed if e.party_id == "blue"]
    assert [e.kind for e in live] == ["conflict.opened"]
    (event,) = live
    as_sent_live = _event_text(event.id, event.kind, event.conflict, blue, store, IDS)
    assert _render_stored(store, blue, 0, IDS) == [(event.id, as_sent_live)]


def test_a_live_event_is_rendered_once_for_all_its_partys_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each open stream rendered each event again: a party's 200 streams held the event
    loop, and every other party's requests, 0.19 s for one filing (a reviewer)."""
    from tansiq.api import events as events_module

    store = SqliteStore(tmp_path / "tansiq.db")
    red = parties.add_party(store, "red", "Red", "en")[0]
    blue = parties.add_party(store, "blue", "Blue", "ar")[0]
    theater = Theater(store, clock=sample_morning())
    theater.file(blue, "operation", body(disc("b", 40.0, 35.0)))
    rendered: list[int] = []
    from tansiq.service.views import conflict_view as view

    def counted(*args: Any) -> Any:
        rendered.append(args[0].id)
        return view(*args)

    monkeypatch.setattr(events_module, "conflict_view", counted)

    async def run() -> list[list[str]]:
        live = LiveEvents()
        theater.subscribe(live.deliver_threadsafe)
        streams = [stream(store, blue, 0, live, never_disconnected, IDS) for _ in range(3)]
        for one in streams:
            await one.__anext__()  # open, its mailbox too (nothing in the store for blue)
        waiting = [asyncio.ensure_future(one.__anext__()) for one in streams]
        await asyncio.sleep(0.2)
        await asyncio.to_thread(theater.file, red, "operation", body(disc("r", 40.0, 35.0)))
        got = [[await asyncio.wait_for(w, 10)] for w in waiting]
        for one in streams:
            await one.aclose()
        return got

    texts = asyncio.run(run())
    assert [[kind for _, kind, _ in sent(t)] for t in texts] == [["conflict.opened"]] * 3
    assert texts[0] == texts[1] == texts[2]
    assert len(rendered) == 1  # one event, one rendering for the three streams


def test_a_partys_oldest_stream_gives_way_to_a_new_one_beyond_the_limit() -> None:
    """A new stream is never refused: a dead stream (its client vanished, or stuck in a
    write to a client that does not read) must not lock the party out (a reviewer)."""

    async def run() -> None:
        live = LiveEvents()
        first, second = (live.register("blue", limit=2) for _ in range(2))
        red = live.register("red", limit=2)
        third = live.register("blue", limit=2)  # the oldest gives way, at once
        assert first.given_way and first.ready.is_set()
        assert not (second.given_way or third.given_way or red.given_way)
        assert live.open_streams("blue") == 2 and live.open_streams("red") == 1
        live.unregister("blue", first)  # its stream ending later takes nothing
        assert live.open_streams("blue") == 2

    asyncio.run(run())


def test_streams_that_gave_way_but_have_not_ended_are_bounded_too() -> None:
    """A stream that gave way while stuck in a write to a client that does not read
    ends only when the kernel drops its connection: one token opened 80 such, 1 GB of
    the server's memory (a reviewer). Beyond the bound a new stream is refused, until
    they end."""

    async def run() -> None:
        live = LiveEvents()
        first, second = (live.register("blue", limit=2, held_limit=3) for _ in range(2))
        live.register("blue", limit=2, held_limit=3)  # the first gives way, not yet ended
        assert first.given_way and live.held_streams("blue") == 3
        with pytest.raises(TooManyStreams, match="holds 3 event streams that have not ended"):
            live.register("blue", limit=2, held_limit=3)
        with pytest.raises(TooManyStreams):
            live.check("blue", 3)  # as HEAD asks
        live.register("red", limit=2, held_limit=3)  # each party's own
        live.unregister("blue", first)  # its stream ended at last
        live.unregister("blue", first)  # (and its answer's end says so again: no matter)
        assert live.held_streams("blue") == 2
        live.register("blue", limit=2, held_limit=3)
        assert second.given_way and live.held_streams("blue") == 3

    asyncio.run(run())
