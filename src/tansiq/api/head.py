"""``HEAD`` answered as ``GET`` without its body.

RFC 9110 §9.3.2: a server that takes GET on a resource takes HEAD on it, and
answers with the headers GET would have (a monitor, a proxy or ``curl -I`` asks
so); FastAPI routes only the methods a route declares, so every HEAD was a 405
(a reviewer). Routed here as GET; the body is dropped (uvicorn sends none for
HEAD either), so a ``Content-Length`` says what GET would send.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: a key of the scope of a HEAD routed as GET, for a route whose GET never ends (the
#: event stream answers it with the headers alone: a monitor's HEAD held a stream open)
HEAD = "tansiq.head"


class HeadAsGet:
    """Pure ASGI, outermost but one (see :mod:`tansiq.api.no_store`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD: True}, receive, headers_only)
