"""A server started on this machine (the demo, tests, benchmarks): a free port for it,
and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


class ServerNotAnswering(RuntimeError):
    """The server exited, or did not answer in time."""


def free_local_port() -> int:
    """A port nothing listens on now (the OS picks it; another process could take it
    before the caller binds it, which is fine for a local demo or test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_answering(
    url: str,
    timeout_s: float = 60.0,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    poll_s: float = 0.05,
) -> None:
    """Return once ``GET url/openapi.json`` answers; raise :class:`ServerNotAnswering` if
    ``process`` (the server's, if given) exits first, with its standard error if piped,
    or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1.0)
            return
        except httpx.TransportError:
            if process is not None and process.poll() is not None:
                said = process.stderr.read() if process.stderr else ""
                raise ServerNotAnswering(
                    f"the server at {url} exited ({process.returncode}) before it answered:"
                    f" {said!r}"
                ) from None
            if time.monotonic() > deadline:
                raise ServerNotAnswering(f"the server at {url} did not answer") from None
            time.sleep(poll_s)
