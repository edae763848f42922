"""Every error as RFC 9457 problem details (``application/problem+json``), naming the field."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from tansiq.errors import InputError, InputProblems, ScenarioInvalid, StaleVersion, TansiqError

MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    kind: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": f"urn:tansiq:problem:{kind}", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tansiq"'
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TansiqError)
    async def tansiq_error(request: Request, exc: TansiqError) -> JSONResponse:
        extra: dict[str, Any] = dict(exc.problem_members)
        errors = errors_of(exc)
        if errors:
            extra["errors"] = errors
        detail = str(exc) if not isinstance(exc, ScenarioInvalid) else _refusal(exc)
        kind = _slug(type(exc).__name__)
        return problem(exc.http_status, exc.title, detail, kind, exc.http_headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "detail": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
        return problem(422, "The request is not valid", detail, "invalid-request", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110 asks a 405 to say what is allowed (a reviewer); Starlette's names
            # only the first route of the path, and each method is a route of its own
            headers["Allow"] = ", ".join(_allowed(request))
        return problem(exc.status_code, detail, detail, f"http-{exc.status_code}", headers)


def _allowed(request: Request) -> list[str]:
    """The methods the routes of the request's path take."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "GET"})
            if match != Match.NONE:
                methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")  # tansiq.api.head
    return sorted(methods)


def _refusal(exc: ScenarioInvalid) -> str:
    """A refused scenario's ``detail``: how many problems, and the first (``errors``
    has each); it was the first line only, "scenario refused, 1 problem:", which
    told a console that shows ``detail`` nothing (a reviewer)."""
    first, count = exc.problems[0], len(exc.problems)
    more = "" if count == 1 else f" (and {count - 1} more, each in errors)"
    return f"scenario refused: {first}{more}"



#: a message that names its field first: ``"If-Match: 'x' is not a version number"``
_NAMED = re.compile(r"^([A-Za-z][\w.\-\[\]]*): (.+)$", re.S)


def errors_of(exc: TansiqError) -> list[dict[str, str]]:
    """The ``errors`` member: each broken field (and feature) with what is wrong there.

    A scenario's problems carry their places; other refusals of input name their field
    at the start of the message (``share: ...``), else the body as a whole. Refusals
    that are not about input (404, 401, 403) have none: nothing in the input is broken.
    """
    if exc.http_status in (401, 403, 404, 409):
        return []  # nothing in the input is broken: it names what is not there, or taken
    if isinstance(exc, InputProblems):
        out = []
        for index, line in enumerate(exc.problems):
            whose, member = exc.places[index] if index < len(exc.places) else ("", "")
            item = {"field": member or "body", "detail": line}
            if whose:
                item["feature"] = whose
            out.append(item)
        return out
    if not isinstance(exc, (InputError, StaleVersion)) and exc.http_status not in (413, 415, 428):
        return []
    named = _NAMED.match(str(exc))
    if named:
        return [{"field": named.group(1), "detail": named.group(2)}]
    if isinstance(exc, StaleVersion):
        return [{"field": "If-Match", "detail": str(exc)}]
    return [{"field": "body", "detail": str(exc)}]


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
