"""A minimal HTTP/1.1 client for the load generator: a socket and httptools' C parser.

The generator shares the two cores with the server it measures, so its own CPU
per filing bounds what a run can show. ``http.client`` parses every answer's
headers with the ``email`` package and reads a chunked event stream a line at
a time in Python: 1.6–1.9 ms of the generator's CPU per filing, a third of the
machine at 200 filings/s. Here a request is one ``sendall`` and an answer is fed
to httptools (the parser uvicorn uses), which deframes chunks in C.

Only what ``load.py`` needs: keep-alive requests with a body or none, and a
Server-Sent Events stream read as raw bytes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import httptools

RECEIVE = 1 << 18


class _Answer:
    """httptools' callbacks: the body's pieces and whether the answer is whole."""

    def __init__(self, on_body: Callable[[bytes], None] | None = None) -> None:
        self.pieces: list[bytes] = []
        self.complete = False
        self.on_body = on_body or self.pieces.append

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One keep-alive connection; requests one after another."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self._host = host
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of one request."""
        self.send(method, path, headers, body)
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.complete:
            data = self._sock.recv(RECEIVE)
            if not data:
                raise ConnectionError(f"{method} {path}: the server closed the connection")
            parser.feed_data(data)
        return parser.get_status_code(), b"".join(answer.pieces)

    def stream(self, path: str, headers: dict[str, str], on_body: Callable[[bytes], None]) -> None:
        """GET ``path`` and hand each piece of its body to ``on_body`` until it ends
        or the connection is closed (from another thread, by :meth:`close`)."""
        self.send("GET", path, headers, None)
        answer = _Answer(on_body)
        parser = httptools.HttpResponseParser(answer)
        while not answer.complete:
            data = self._sock.recv(RECEIVE)
            if not data:
                return
            parser.feed_data(data)

    def close(self) -> None:
        self._sock.close()
