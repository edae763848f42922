"""Party administration over HTTP (coordinators only), and ``GET /v1/me`` (anyone).

The same calls as ``tansiq party`` (:mod:`tansiq.service.parties`): a token is
shown once, in the answer that makes it; only its salted digest is stored, and
no answer carries a salt or a digest.

Need-to-know: every ``/v1/parties`` route refuses a caller that is not a
coordinator with the same 403 before it reads a body or looks up an id, so a
party cannot learn which parties exist (or which token ids are live) from it.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations,
# which name the dependencies made inside install()

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tansiq.errors import UnknownParty
from tansiq.service import parties
from tansiq.service.views import instant
from tansiq.store import PartyRecord, SqliteStore
from tansiq.store.base import Role

#: the most parties a page of ``GET /v1/parties`` lists (each with its tokens' ids)
MAX_PARTIES_PAGE = 200

PROBLEM: dict[str, Any] = {"application/problem+json": {"schema": {"type": "object"}}}
NOT_COORDINATOR: dict[str, Any] = {
    "description": "The caller is not a coordinator (the same answer for every id)",
    "content": PROBLEM,
}
NO_PARTY: dict[str, Any] = {"description": "No party with this id", "content": PROBLEM}
Responses = dict[int | str, dict[str, Any]]


class PartyBody(BaseModel):
    """A new party (``POST /v1/parties``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        description="1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        examples=["unocha"],
    )
    name: str = Field(description="as other parties will see it", examples=["UN OCHA"])
    lang: str = Field(
        description="the language it is told in",
        examples=["en"],
        json_schema_extra={"enum": [*sorted(parties.LANGUAGES)]},
    )
    contact: str = Field(
        "", description="how the other side reaches its operations centre (shown with conflicts)"
    )
    # checked with the other fields (parties.party_problems), so that every problem is named
    role: str = Field(
        "party",
        description="'coordinator' administers parties and theater rules",
        json_schema_extra={"enum": list(parties.ROLES)},
    )


def party_view(record: PartyRecord, store: SqliteStore) -> dict[str, Any]:
    """A party as a coordinator sees it: its tokens by id and dates, never their secrets."""
    return {
        **me_view(record),
        "created_at": instant(record.created_at),
        "tokens": [
            {
                "id": token.id,
                "created_at": instant(token.created_at),
                "revoked_at": instant(token.revoked_at),
            }
            for token in store.list_tokens(record.id)
        ],
    }


def me_view(record: PartyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "lang": record.lang,
        "role": record.role,
        "contact": record.contact,
    }


def install(
    app: FastAPI,
    store: SqliteStore,
    caller: Callable[..., Awaitable[PartyRecord]],
    read_body: Callable[[Request], Awaitable[bytes]],
    clock: Callable[[], float],
) -> None:
    """Add the party routes; ``caller`` is the app's authenticating dependency."""
    Caller = Annotated[PartyRecord, Depends(caller)]

    def coordinator(party: Caller) -> PartyRecord:
        return parties.require_coordinator(party, "administer parties")

    Coordinator = Annotated[PartyRecord, Depends(coordinator)]
    refused: Responses = {403: NOT_COORDINATOR}
    unknown: Responses = {403: NOT_COORDINATOR, 404: NO_PARTY}

    @app.get("/v1/me", tags=["parties"], summary="The caller's own party")
    def me(party: Caller) -> dict[str, Any]:
        return me_view(party)

    @app.post(
        "/v1/parties",
        status_code=201,
        tags=["parties"],
        summary="Create a party and its first API token, shown this once (coordinators)",
        openapi_extra=body_doc(PartyBody),
        responses={
            **refused,
            409: {"description": "A party with this id exists", "content": PROBLEM},
        },
    )
    async def add_party(request: Request, _: Coordinator) -> JSONResponse:
        # the body is read only once the caller is known to be a coordinator
        body = parsed_body(PartyBody, await read_body(request))
        problems = parties.party_problems(body.id, body.name, body.lang, body.role, body.contact)
        if problems:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", f), "msg": m} for f, m in problems]
            )
        role = cast(Role, body.role)
        record, token = await run_in_threadpool(
            parties.add_party, store, body.id, body.name, body.lang, role, clock, body.contact
        )
        view = await run_in_threadpool(party_view, record, store)
        return JSONResponse(
            {"party": view, "token": token},
            status_code=201,
            headers={"Location": f"/v1/parties/{record.id}"},
        )

    @app.get(
        "/v1/parties",
        tags=["parties"],
        summary="Every party and its tokens' ids, paged by id (coordinators)",
        description="`limit` a page; follow `next_after` until it is null.",
        responses=refused,
    )
    def list_parties(
        _: Coordinator,
        limit: Annotated[int, Query(ge=1, le=MAX_PARTIES_PAGE)] = 100,
        after: Annotated[
            str, Query(max_length=100, description="the page after this one's next_after")
        ] = "",
    ) -> dict[str, Any]:
        found = store.list_parties(after, limit + 1)
        page = found[:limit]
        return {
            "parties": [party_view(p, store) for p in page],
            "next_after": page[-1].id if len(found) > limit else None,
        }

    @app.get(
        "/v1/parties/{party_id}",
        tags=["parties"],
        summary="One party and its tokens' ids (coordinators)",
        responses=unknown,
    )
    def get_party(party_id: str, _: Coordinator) -> dict[str, Any]:
        record = store.get_party(party_id)
        if record is None:
            raise UnknownParty(party_id)
        return party_view(record, store)

    @app.post(
        "/v1/parties/{party_id}/tokens",
        status_code=201,
        tags=["parties"],
        summary="Issue another API token for a party, shown this once (coordinators)",
        responses=unknown,
    )
    def issue_token(party_id: str, _: Coordinator) -> dict[str, Any]:
        token_id, text = parties.issue_token(store, party_id, clock)
        return {"id": token_id, "token": text}

    @app.delete(
        "/v1/parties/{party_id}/tokens",
        tags=["parties"],
        summary="Revoke every live token of a party (coordinators)",
        responses=unknown,
    )
    def revoke_all(party_id: str, _: Coordinator) -> dict[str, Any]:
        return {"revoked": parties.revoke_tokens(store, party_id, None, clock)}

    @app.delete(
        "/v1/parties/{party_id}/tokens/{token_id}",
        tags=["parties"],
        summary="Revoke one live token of a party (coordinators)",
        responses={
            403: NOT_COORDINATOR,
            404: {"description": "No such party, or no such live token of it", "content": PROBLEM},
        },
    )
    def revoke_one(party_id: str, token_id: str, _: Coordinator) -> dict[str, Any]:
        return {"revoked": parties.revoke_tokens(store, party_id, token_id, clock)}


Body = TypeVar("Body", bound=BaseModel)


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI's description of a JSON body read by :func:`parsed_body` (a route that
    reads its own body, to hold it to the size limit, declares it this way)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parsed_body(model: type[Body], raw: bytes) -> Body:
    """A request body read by ``read_body`` (size-limited: 413), validated by ``model``;
    what fails is a 422 naming each field, as FastAPI's own bodies are."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
