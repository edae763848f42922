"""Every error as RFC 9457 problem details (``application/problem+json``), naming the field."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tansiq.errors import ScenarioInvalid, TansiqError

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, kind: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:tansiq:problem:{kind}", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="tansiq"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TansiqError)
    async def tansiq_error(request: Request, exc: TansiqError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, ScenarioInvalid):
            extra["errors"] = [{"detail": p} for p in exc.problems]
        title = (type(exc).__doc__ or type(exc).__name__).strip().splitlines()[0]
        detail = str(exc) if not isinstance(exc, ScenarioInvalid) else exc.args[0].splitlines()[0]
        return problem(exc.http_status, title, detail, _slug(type(exc).__name__), **extra)

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
        return problem(exc.status_code, str(exc.detail), str(exc.detail), f"http-{exc.status_code}")



def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
