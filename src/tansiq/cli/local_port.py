"""A free TCP port on 127.0.0.1, for a server started here (the demo, tests, benchmarks)."""

from __future__ import annotations

import socket


def free_local_port() -> int:
    """A port nothing listens on now (the OS picks it; another process could take it
    before the caller binds it, which is fine for a local demo or test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
