"""The FastAPI application (an app factory: nothing is built at import time).

Routes only translate: authenticate the caller, read the request, call one
:class:`~tansiq.service.theater.Theater` method, render its result. What a
party may see is decided in :mod:`tansiq.service`.
"""


import math
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tansiq import __version__
from tansiq.api import admin, events, problems
from tansiq.api.head import HEAD, HeadAsGet
from tansiq.api.no_store import NoStore
from tansiq.api.query import only_declared_query
from tansiq.errors import (
    InputError,
    StaleConflict,
    TansiqError,
    Unauthorized,
    UnknownConflict,
)
from tansiq.scenario.model import SeparationRule
from tansiq.scenario.timestamps import TimestampError, parse_rfc3339
from tansiq.service import parties, webhooks
from tansiq.service.outcomes import CatchUpProgress, Outcome, RulesOutcome
from tansiq.service.public_ids import PublicIds
from tansiq.service.rules import parse_lead_time, parse_rules, rules_json
from tansiq.service.theater import CONFLICTS_SCANNED, REGIONS_CHECKED, Theater
from tansiq.service.views import (
    RawJSON,
    conflict_view,
    dumps,
    filing_view,
    instant,
    shared_view,
)
from tansiq.store import FilingRecord, PartyRecord, SqliteStore
from tansiq.store.base import Category, ConflictState, FilingState, RulesChangeRecord

#: largest request body accepted, bytes (larger: 413)
MAX_BODY = 2 * 1024 * 1024
GEOJSON = {"application/geo+json": {"schema": {"type": "object"}}}
RULES = {"application/json": {"schema": {"type": "object"}}}
#: a change of rules is answered after judging pairs again for this long at most, seconds
#: (then 202: the theater goes on with it, GET /v1/theater/rules says how far it got)
RULES_ANSWER_WAIT_S = 2.0
#: conflict ids are SQLite integers
MAX_ID = 2**63 - 1
#: filings listed in one page: each is shown in full (a body may be up to MAX_BODY)
MAX_FILINGS_PAGE = 200
#: changes of the rules listed in one page (each with its separation rules in full)
MAX_RULES_PAGE = 100
EX_START, EX_END, EX_BBOX = "2017-09-16T04:00:00Z", "2017-09-16T09:00:00+03:00", "35,32,37,34"
START_HELP = "only conflicts whose window ends at or after this (RFC 3339, with an offset)"
END_HELP = "only conflicts whose window starts at or before this (RFC 3339, with an offset)"
BBOX_HELP = (
    "only conflicts whose overlap region (either side's) meets this box: "
    "min_lon,min_lat,max_lon,max_lat in degrees; min_lon > max_lon crosses the antimeridian"
)
#: every route's 422: a request that cannot be used, as an RFC 9457 problem (FastAPI
#: would otherwise document its own ``application/json`` validation error)
INVALID_REQUEST = {
    "description": "A parameter or body that cannot be used (RFC 9457, naming it in `errors`)",
    "content": {"application/problem+json": {"schema": {"type": "object"}}},
}


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON from :func:`tansiq.service.views.dumps`: conflict views carry regions of
    hundreds of coordinates, which FastAPI's generic encoder would walk one at a time."""
    return Response(dumps(body), status, headers, media_type="application/json")


def judged_again(done: RulesOutcome | CatchUpProgress) -> dict[str, Any]:
    """The pairs of kinds whose minimums a change of rules altered, what became of
    their conflicts so far, and how far the catch-up has got; or, as a party that is
    not a coordinator is shown it, whether it is over (``Theater.catch_up_seen_by``)."""
    if isinstance(done, CatchUpProgress):
        return {"done": done.done}
    return {
        "kinds": [list(pair) for pair in done.kinds],
        "opened": done.opened,
        "resolved": done.resolved,
        "changed": done.changed,
        "kept": done.kept,
        "volumes": done.volumes,
        "volumes_judged": done.judged,
        "done": done.done,
    }


#: the paging parameters of the filing lists (own filings, shared ones, a history)
FilingsLimit = Annotated[int, Query(ge=1, le=MAX_FILINGS_PAGE)]
FilingsAfter = Annotated[
    str, Query(max_length=100, description="the page after this one's next_after")
]


def page_of(
    found: list[FilingRecord], limit: int
) -> tuple[list[FilingRecord], FilingRecord | None]:
    """A page of ``limit`` from ``limit + 1`` read, and its last filing if another
    follows (None: the end, ``next_after: null``)."""
    page = found[:limit]
    return page, (page[-1] if len(found) > limit else None)


class WebhookBody(BaseModel):
    url: str = Field(description="http:// or https:// URL that receives each event as JSON")


def version_of(if_match: str | None) -> int:
    """The version an ``If-Match`` header names (``3``, ``"3"`` or ``W/"3"``)."""
    if if_match is None:
        raise PreconditionRequired()
    version = events.whole_number(if_match.strip().removeprefix("W/").strip('"'), MAX_ID)
    if version is None:
        shown = if_match if len(if_match) <= 40 else if_match[:40] + "..."
        raise InputError(f"If-Match: {shown!r} is not a version number")
    return version


#: an Idempotency-Key: visible ASCII (a field value that prints as it is sent), bounded
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def idempotency_key_of(headers: list[str]) -> str:
    """The key of the ``Idempotency-Key`` header (a bare token or a quoted string)."""
    if len(headers) > 1:
        raise InputError("Idempotency-Key: sent more than once; send one key")
    (header,) = headers
    key = header.strip(" \t")  # HTTP's whitespace only: no other byte is trimmed away
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]  # as the IETF draft writes it: a structured-field string
    if not _KEY.fullmatch(key):
        # the server reads header bytes as Latin-1: shown as the sender most likely wrote them
        said = header.encode("latin-1").decode("utf-8", "replace")
        shown = said if len(said) <= 40 else said[:40] + "..."
        raise InputError(
            f"Idempotency-Key: {shown!r} must be 1 to 255 visible ASCII characters"
        )
    return key


class PreconditionRequired(TansiqError):
    """A change without ``If-Match: <version>``."""

    title = "If-Match is required"

    http_status = 428

    def __init__(self) -> None:
        super().__init__("If-Match: send the version you are changing (from ETag or 'version')")


#: the media types of a JSON body (with parameters, as ``; charset=utf-8``, or none)
_JSON_MEDIA = re.compile(r"application/([\w.+-]+\+)?json", re.IGNORECASE)


def refuse_other_media(headers: Any) -> None:
    """A body that says it is not JSON, or is compressed, is refused (415) before it is
    read: a form or a ``curl -F`` upload was parsed as JSON and refused as broken JSON,
    a gzipped one as "not UTF-8", and a ``text/plain`` one filed (a reviewer). A body
    with no ``Content-Type`` is taken as JSON."""
    declared = headers.get("content-type")
    if declared is not None:
        media = declared.split(";", 1)[0].strip()
        if not _JSON_MEDIA.fullmatch(media):
            raise UnsupportedMedia(
                f"Content-Type: {events.shown(media)} is not taken; send application/geo+json"
                " (filings) or application/json"
            )
    encoding = (headers.get("content-encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMedia(
            f"Content-Encoding: {events.shown(encoding)} is not taken; send the body uncompressed"
        )


class UnsupportedMedia(TansiqError):
    """A body of a media type or an encoding the API does not read."""

    title = "The body's type is not taken"

    http_status = 415


class BodyTooLarge(TansiqError):
    """A request body above the size limit."""

    title = "The body is too large"

    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"body: larger than {limit} bytes")


def create_app(
    store: SqliteStore,
    separation: Sequence[SeparationRule] = (),
    clock: Callable[[], float] = time.time,
    max_body: int = MAX_BODY,
    webhooks_to_private: bool = False,
) -> FastAPI:
    """The API over ``store``. Webhooks go only to public addresses unless
    ``webhooks_to_private`` (`tansiq serve --webhooks-to-private`)."""
    theater = Theater(store, separation, clock)
    try:
        ids = PublicIds.of(store)  # conflict and event ids as parties are shown them
        sender = webhooks.WebhookSender(store, ids, webhooks_to_private, clock)
    except BaseException:
        theater.close()  # not left to the collector: the store stays servable
        raise
    theater.subscribe(sender.wake)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sender.start()
        try:
            yield
        finally:
            try:
                sender.stop()
            finally:
                theater.close()  # another server may open the store now

    app = FastAPI(
        lifespan=lifespan,
        dependencies=[Depends(only_declared_query)],  # a misspelt filter is not ignored
        responses={422: INVALID_REQUEST},
        title="Tansiq",
        version=__version__,
        description=(
            "Deconfliction between parties that share a space. Each party files its "
            "operations, sites and zones (GeoJSON FeatureCollections of scenario-v1 "
            "volumes); every filing is checked at once against everything the other "
            "parties have filed. Every call carries `Authorization: Bearer <token>`."
        ),
    )
    problems.install(app)
    # outermost, around Starlette's error middleware too: its 500 is an answer as well
    # (added as middleware, the 500 went out without the header: a review)
    inner_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: NoStore(HeadAsGet(inner_stack()))  # type: ignore[method-assign]
    bearer = HTTPBearer(auto_error=False, description="A party's API token (tansiq party add)")

    async def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> PartyRecord:
        # on the event loop, not in a worker thread: two reads by primary key and a
        # digest cost less than the hop to a thread and back
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        return parties.authenticate(store, header)

    Caller = Annotated[PartyRecord, Depends(caller)]

    async def nothing_sent(request: Request) -> None:
        """An acknowledgement takes the version seen in ``If-Match`` and no body: a
        ``{"version": 1}`` body was ignored, and the ack recorded against a version the
        party had not seen (a reviewer; a query parameter is refused app-wide,
        :mod:`tansiq.api.query`)."""
        # (of any type: a client may label an empty body, as `curl -d ""` does)
        if await read_body(request, json_only=False):
            raise InputError("body: none is taken here; send the version seen as If-Match")

    async def read_body(request: Request, json_only: bool = True) -> bytes:
        if json_only:
            refuse_other_media(request.headers)
        declared = request.headers.get("content-length")
        if declared is not None and (events.whole_number(declared, MAX_ID) or 0) > max_body:
            raise BodyTooLarge(max_body)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise BodyTooLarge(max_body)
            chunks.append(chunk)
        return b"".join(chunks)

    def outcome(
        result: Outcome, party: PartyRecord, status: int = 200, location: str | None = None
    ) -> Response:
        headers = {"ETag": f'"{result.filing.version}"'}
        if location is not None:
            headers["Location"] = location
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        body = {
            "id": result.filing.id,
            "version": result.filing.version,
            "state": result.filing.state,
            # the server's time of this version: the conflicts it opened have this opened_at
            "filed_at": instant(result.filing.filed_at),
            "conflicts": [conflict_view(c, party, store, ids) for c in result.conflicts],
        }
        return json_response(body, status, headers)

    categories: tuple[tuple[Category, str], ...] = (
        ("operation", "operations"),
        ("site", "sites"),
        ("zone", "zones"),
    )
    for category, path in categories:
        _filing_routes(app, theater, category, path, Caller, read_body, version_of, outcome)

    @app.get(
        "/v1/conflicts",
        tags=["conflicts"],
        summary="The conflicts the caller is a side of",
        description=(
            "Oldest first, `limit` a page. Follow `next_after` until it is null: with"
            " `start`, `end` or `bbox`, a page may hold fewer than `limit`, even none, and"
            f" still have a `next_after` (a page reads at most {CONFLICTS_SCANNED:,} of the"
            f" caller's conflicts and checks at most {REGIONS_CHECKED:,} regions against a"
            " box), and a full page may be followed by an empty one."
        ),
    )
    def list_conflicts(
        party: Caller,
        state: Annotated[ConflictState | None, Query(description="only this state")] = None,
        start: Annotated[str | None, Query(description=START_HELP, examples=[EX_START])] = None,
        end: Annotated[str | None, Query(description=END_HELP, examples=[EX_END])] = None,
        bbox: Annotated[str | None, Query(description=BBOX_HELP, examples=[EX_BBOX])] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: Annotated[
            int, Query(ge=0, le=MAX_ID, description="the page after this one's next_after")
        ] = 0,
    ) -> Response:
        since = None if start is None else _instant_of("start", start)
        until = None if end is None else _instant_of("end", end)
        if since is not None and until is not None and since > until:
            raise _invalid_query("start", f"{start} is after end {end}")
        box = None if bbox is None else _bbox_of(bbox)
        start_after = 0 if not after else ids.own_conflict(store, party.id, after)
        if start_after is None:
            raise _invalid_query("after", f"{after} is not the id of one of your conflicts")
        # read a page's worth at a time, filtered as read: a page may stop short (even
        # empty) with more to come, at the conflict it stopped at (see conflicts_page)
        page, more = theater.conflicts_page(party, state, since, until, box, start_after, limit)
        return json_response(
            {
                "conflicts": [conflict_view(c, party, store, ids) for c in page],
                "next_after": None if more is None else ids.show("conflict", more),
            }
        )

    @app.get(
        "/v1/shared",
        tags=["sites and zones"],
        summary="Other parties' sites and zones shared with the caller, in full, paged by id",
    )
    def shared(
        party: Caller,
        limit: FilingsLimit = 50,
        after: FilingsAfter = "",
    ) -> Response:
        now = theater.now()
        page, last = page_of(theater.shared_with(party, after, limit + 1), limit)
        return json_response(
            {
                "filings": [shared_view(r, store, now) for r in page],
                "next_after": None if last is None else last.id,
            }
        )

    @app.get(
        "/v1/webhook",
        tags=["events"],
        summary="Where the caller's events are POSTed, and how delivery goes",
        description=(
            "`url` (null: none); `delivered_through`: the id of the last event its receiver"
            " took (null: none yet); `failing`: null, or since when its POSTs fail and why"
            " the last one did (each is retried, 1 s to a minute apart, until taken)."
        ),
    )
    def get_webhook(party: Caller) -> dict[str, Any]:
        url, delivered, failing = sender.status(party.id)
        return {
            "url": url,
            "delivered_through": None if delivered is None else ids.show("event", delivered),
            "failing": None
            if failing is None
            else {"since": instant(failing.since), "reason": failing.reason},
        }

    @app.put(
        "/v1/webhook",
        tags=["events"],
        summary="POST the caller's events to a URL",
        openapi_extra=admin.body_doc(WebhookBody),
    )
    async def put_webhook(request: Request, party: Caller) -> dict[str, Any]:
        body = admin.parsed_body(WebhookBody, await read_body(request))
        setter = parties.token_id_of(request.headers.get("authorization"))
        await run_in_threadpool(
            partial(webhooks.set_webhook, token_id=setter),
            store,
            party,
            body.url,
            webhooks_to_private,
        )
        sender.webhooks_changed()
        return {"url": body.url}

    @app.delete("/v1/webhook", tags=["events"], summary="Stop POSTing the caller's events")
    def delete_webhook(party: Caller) -> dict[str, Any]:
        webhooks.set_webhook(store, party, None)
        sender.webhooks_changed()
        return {"url": None}

    def rules_now(caller: PartyRecord) -> dict[str, Any]:
        rules, lead_time_h, change, done = theater.committed_rules()
        return {
            "separation": rules_json(rules),
            "lead_time_h": lead_time_h,
            # which change of the rules set them, who and when (null: none was made)
            "version": None if change is None else change.id,
            "set_by": None if change is None else setter(change.party_id),
            "set_at": None if change is None else instant(change.at),
            # what the last change judged again so far (null: none was made here)
            "judged_again": (
                None if done is None else judged_again(theater.catch_up_seen_by(caller, done))
            ),
        }

    def change_view(change: RulesChangeRecord) -> dict[str, Any]:
        """A change of the rules as the API shows it (its rules as they were stored)."""
        return {
            "separation": RawJSON(change.separation),
            "lead_time_h": change.lead_time_h,
            "version": change.id,
            "set_by": setter(change.party_id),
            "set_at": instant(change.at),
        }

    def setter(party_id: str | None) -> dict[str, str] | None:
        """The coordinator who set rules (null: set before the store kept who did)."""
        if party_id is None:
            return None
        record = store.get_party(party_id)
        return {"id": party_id, "name": record.name if record else party_id}

    @app.get("/v1/theater/rules", tags=["theater"], summary="The theater's separation rules")
    def get_rules(party: Caller) -> dict[str, Any]:
        return rules_now(party)

    @app.get(
        "/v1/theater/rules/history",
        tags=["theater"],
        summary="Every change of the theater's rules, oldest first, paged by version",
        description=(
            "What was in force when: each change's separation rules and lead time, the"
            " coordinator who set them and when. Follow `next_after` until it is null. A"
            " change with `set_by` and `set_at` null holds the rules a store had when it"
            " began keeping this history (who set those, and when, was not kept)."
        ),
    )
    def rules_history(
        party: Caller,
        limit: Annotated[int, Query(ge=1, le=MAX_RULES_PAGE)] = 50,
        after: Annotated[
            int, Query(ge=0, le=MAX_ID, description="the page after this one's next_after")
        ] = 0,
    ) -> Response:
        found = theater.rules_history(after, limit + 1)
        page = found[:limit]
        return json_response(
            {
                "changes": [change_view(change) for change in page],
                "next_after": page[-1].id if len(found) > limit else None,
            }
        )

    @app.put(
        "/v1/theater/rules",
        tags=["theater"],
        summary="Replace the separation rules (coordinators); every pair is judged again",
        description=(
            "The rules are in force when this answers. The pairs of volumes filed before"
            " them whose kinds' minimums changed are judged again in slices between other"
            " changes: `200` when that ended within the answer, `202` when it goes on"
            " (`GET /v1/theater/rules` says how far it has got, in `judged_again`)."
        ),
        openapi_extra={"requestBody": {"required": True, "content": RULES}},
        responses={
            200: {"description": "In force, and every pair judged again"},
            202: {"description": "In force; pairs filed before are still being judged again"},
        },
    )
    async def put_rules(request: Request, party: Caller) -> Response:
        # the role first: a party that may not set rules is told so, whatever it sent
        parties.require_coordinator(party, "set the theater's separation rules")
        body = await read_body(request)
        rules, lead_time_h = parse_rules(body), parse_lead_time(body)
        done = await run_in_threadpool(
            theater.set_rules, party, rules, lead_time_h, RULES_ANSWER_WAIT_S
        )
        # in force now; 202 while the pairs filed before are still being judged again
        # (GET /v1/theater/rules says how far it has got). The change this request made,
        # not whatever is in force by now (another coordinator's, a reviewer saw)
        change = None if done.change is None else store.get_rules_change(done.change)
        assert change is not None  # committed by set_rules
        answer = {**change_view(change), "judged_again": judged_again(done)}  # a coordinator's
        return json_response(answer, 200 if done.done else 202)

    live = events.LiveEvents()
    theater.subscribe(live.deliver_threadsafe)
    app.state.live = live  # tansiq serve ends the streams when it stops

    @app.get(
        events.PATH,
        tags=["events"],
        summary="The caller's live events (Server-Sent Events), resumable with Last-Event-ID",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def event_stream(
        request: Request,
        party: Caller,
        last_event_id: Annotated[str | None, Header(description="resume after this id")] = None,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    ) -> Response:
        def own(public: int) -> int | None:
            return ids.own_event(store, party.id, public)

        start = await run_in_threadpool(events.resume_point, last_event_id, after, MAX_ID, own)
        if request.scope.get(HEAD):  # the headers GET would send, and no stream
            live.check(party.id, events.STREAMS_HELD_PER_PARTY)  # (or its refusal)
            return StreamingResponse(
                events.nothing(), media_type="text/event-stream", headers=events.STREAM_HEADERS
            )  # (not a Response: its Content-Length: 0 is not what GET sends; a reviewer)
        # taken here, on the event loop: the party's oldest stream gives way at once
        mailbox = live.register(
            party.id, events.STREAMS_PER_PARTY, events.STREAMS_HELD_PER_PARTY
        )
        authorization = request.headers.get("authorization")

        def allowed() -> bool:  # the token may be revoked while the stream is open
            try:
                return parties.authenticate(store, authorization).id == party.id
            except Unauthorized:
                return False

        return events.StreamAnswer(
            events.stream(
                store, party, start, live, request.is_disconnected, ids, allowed, mailbox
            ),
            live,
            party.id,
            mailbox,
        )

    @app.get(
        "/v1/conflicts/{conflict_id}",
        tags=["conflicts"],
        summary="One of the caller's conflicts, with its version as ETag",
    )
    def read_conflict(
        conflict_id: Annotated[int, Path(ge=1, le=MAX_ID)], party: Caller
    ) -> Response:
        internal = ids.read("conflict", conflict_id)
        try:
            if internal is None:
                raise UnknownConflict(conflict_id)
            record = theater.conflict(party, internal)
        except UnknownConflict:
            raise UnknownConflict(conflict_id) from None  # the id the caller sent, not ours
        view = conflict_view(record, party, store, ids)
        # weak: the version names what the conflict shows; the answer also differs by
        # side and shows acknowledgements, which change no version (a reviewer)
        return json_response(view, headers={"ETag": f'W/"{record.version}"'})

    @app.post(
        "/v1/conflicts/{conflict_id}/ack",
        tags=["conflicts"],
        summary="Record that the caller has seen a conflict (the version If-Match names)",
    )
    def acknowledge(
        conflict_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        party: Caller,
        _: Annotated[None, Depends(nothing_sent)],
        if_match: Annotated[
            str | None, Header(description="the version seen; 412 if it has changed since")
        ] = None,
    ) -> Response:
        expected = None if if_match is None else version_of(if_match)
        internal = ids.read("conflict", conflict_id)
        try:
            if internal is None:
                raise UnknownConflict(conflict_id)
            acknowledged = theater.acknowledge(party, internal, expected)
        except UnknownConflict:
            raise UnknownConflict(conflict_id) from None  # the id the caller sent, not ours
        except StaleConflict as stale:
            raise StaleConflict(conflict_id, stale.expected, stale.current) from None
        view = conflict_view(acknowledged, party, store, ids)
        return json_response(view, headers={"ETag": f'W/"{acknowledged.version}"'})

    # parties and their API tokens (coordinators), and GET /v1/me: tansiq/api/admin.py
    admin.install(app, store, caller, read_body, clock)
    app.state.theater = theater
    app.state.webhooks = sender  # (the tests look at its threads)

    return app


def _filing_routes(  # one set of routes per category
    app: FastAPI,
    theater: Theater,
    category: Category,
    path: str,
    caller: Any,
    read_body: Callable[[Request], Any],
    version_of: Callable[[str | None], int],
    outcome: Callable[..., Response],
) -> None:
    base = f"/v1/{path}"
    extra = {"requestBody": {"required": True, "content": GEOJSON}}

    @app.post(base, status_code=201, tags=[path], summary=f"File a new {category}",
              openapi_extra=extra)  # fmt: skip
    async def file(
        request: Request,
        party: caller,
        idempotency_key: Annotated[
            str | None,
            Header(
                description="any text of 1-255 visible ASCII characters, new for each filing:"
                " the same request sent again with it is answered as the first time"
                " (Idempotent-Replayed: true), not filed twice"
            ),
        ] = None,
    ) -> Response:
        # read from the request: a header sent twice is refused, not half-read (the
        # parameter above documents it in the OpenAPI document)
        sent = request.headers.getlist("idempotency-key")
        key = idempotency_key_of(sent) if sent else None
        body = await read_body(request)
        result = await run_in_threadpool(theater.file, party, category, body, key)
        return outcome(result, party, 201, f"{base}/{result.filing.id}")

    @app.get(base, tags=[path], summary=f"The caller's own {path}, in full, paged by id")
    def listed(
        party: caller,
        state: Annotated[FilingState | None, Query(description="only this state")] = None,
        limit: FilingsLimit = 50,
        after: FilingsAfter = "",
    ) -> Response:
        now = theater.now()
        page, last = page_of(theater.filings(party, category, state, after, limit + 1), limit)
        return json_response(
            {
                path: [filing_view(r, now) for r in page],
                "next_after": None if last is None else last.id,
            }
        )

    @app.get(f"{base}/{{filing_id}}", tags=[path], summary=f"One of the caller's {path}")
    def read(filing_id: str, party: caller) -> Response:
        record = theater.filing(party, filing_id, category)
        view = filing_view(record, theater.now())
        return json_response(view, headers={"ETag": f'"{record.version}"'})

    @app.get(
        f"{base}/{{filing_id}}/history",
        tags=[path],
        summary="Every version, oldest first, paged by version",
    )
    def history(
        filing_id: str,
        party: caller,
        limit: FilingsLimit = 50,
        after: Annotated[
            int,
            Query(ge=0, le=MAX_ID, description="the page after this one's next_after (a version)"),
        ] = 0,
    ) -> Response:
        now = theater.now()
        found = theater.history(party, filing_id, category, after, limit + 1)
        page, last = page_of(found, limit)
        return json_response(
            {
                "versions": [filing_view(r, now) for r in page],
                "next_after": None if last is None else last.version,
            }
        )

    @app.put(f"{base}/{{filing_id}}", tags=[path], summary=f"Replace a {category}",
             openapi_extra=extra)  # fmt: skip
    async def replace(
        filing_id: str,
        request: Request,
        party: caller,
        if_match: Annotated[str | None, Header(description="the version being replaced")] = None,
    ) -> Response:
        expected = version_of(if_match)
        body = await read_body(request)
        result = await run_in_threadpool(
            theater.replace, party, filing_id, expected, body, category
        )
        return outcome(result, party)

    @app.delete(f"{base}/{{filing_id}}", tags=[path], summary=f"Cancel a {category}")
    def cancel(
        filing_id: str,
        party: caller,
        if_match: Annotated[str | None, Header(description="the version being cancelled")] = None,
    ) -> Response:
        expected = version_of(if_match)
        return outcome(theater.cancel(party, filing_id, expected, category), party)


def _invalid_query(name: str, message: str) -> RequestValidationError:
    """A 422 problem naming the query parameter, as FastAPI's own validation reports one."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message}])


def _instant_of(name: str, text: str) -> float:
    try:
        return parse_rfc3339(text)
    except TimestampError as exc:
        hint = ""
        if re.fullmatch(r".*:[0-9]{2}(\.[0-9]+)? [0-9]{2}:[0-9]{2}", text):
            hint = "; a + in a URL reads as a space: send it as %2B"
        raise _invalid_query(name, f"{text!r} {exc}{hint}") from None


def _bbox_of(text: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` in degrees (min_lon > max_lon: across 180°)."""
    names = ("min_lon", "min_lat", "max_lon", "max_lat")
    parts = text.split(",")
    if len(parts) != len(names):
        raise _invalid_query(
            "bbox", f"must be 4 numbers min_lon,min_lat,max_lon,max_lat, not {len(parts)}"
        )
    values: list[float] = []
    for name, part in zip(names, parts, strict=True):
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise _invalid_query("bbox", f"{name}: {part.strip()!r} is not a number")
        limit = 180.0 if name.endswith("lon") else 90.0
        if not -limit <= value <= limit:
            raise _invalid_query("bbox", f"{name}: {value:g} is outside [-{limit:g}, {limit:g}]")
        values.append(value)
    west, south, east, north = values
    if south > north:
        raise _invalid_query(
            "bbox",
            f"min_lat {south:g} is above max_lat {north:g} (only longitudes wrap, at 180°)",
        )
    return west, south, east, north
