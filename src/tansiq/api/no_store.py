"""``Cache-Control: no-store`` on every answer of the API (``/v1/...``).

What a party reads is for its eyes only: its own filings in full, and of the other
side what need-to-know discloses (overlap regions, windows, contacts). Caches
shared between users do not keep answers to requests that carry ``Authorization``
(RFC 9111 §3.5), but a browser's or a proxy's private cache may, and a filing's
``ETag`` stays while its ``expired`` flag turns with time. So nothing under ``/v1``
is to be stored; an answer that says otherwise (the event stream's ``no-cache``)
keeps its own. The OpenAPI document and the docs pages are public and untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NO_STORE = (b"cache-control", b"no-store")


class NoStore:
    """Pure ASGI (a ``BaseHTTPMiddleware`` would put every request through a task and
    a stream of its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    message = {**message, "headers": [*headers, _NO_STORE]}
            await send(message)

        await self.app(scope, receive, send_no_store)
