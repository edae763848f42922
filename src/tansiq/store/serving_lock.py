"""One theater per store file: an exclusive ``flock`` on ``<store>-serving``.

A theater keeps the active volumes in memory and checks each change against
them; it sees only its own changes. Two theaters over one file (a second
``tansiq serve`` started on the same store by mistake, say) would each miss the
other's filings, and two overlapping operations would both be accepted with no
conflict between them. So a theater takes this lock when it opens and keeps it
until it is closed (or its process ends, however it ends: the kernel lets a
``flock`` go with the file); a second one is refused at once, naming the store.

Serving one store from several processes, each reading what the others wrote
before every change, was built and measured on 2026-12-01 and dropped: it was
slower than one process (docs/benchmarks.md).

``flock`` locks belong to an open file, not to a process: a second theater in the
same process is refused as one in another process is (the tests rely on it).
The lock is a file of its own, not the store's: SQLite's locks on the store are
POSIX locks, which a process loses on closing any descriptor of the file. The
file stays when the server stops (empty; the next server locks it again).
Where ``fcntl`` does not exist (Windows, which Tansiq does not claim), nothing
is locked.
"""

from __future__ import annotations

import os
from typing import IO

from tansiq.errors import StoreInUse

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system
    fcntl = None  # type: ignore[assignment]


class ServingLock:
    """Held from :meth:`take` until :meth:`release`, or until this object is collected
    (the file it holds is then closed, and the lock with it): a theater is in a
    reference cycle once it has read volumes, so collected only by the cycle
    collector, some time later; close a theater, do not drop it. A no-op for
    ``:memory:``. The lock's name follows the store's real path, so that a symbolic
    link to the store and the store itself share one lock (a store with hard links,
    whose names no path leads from one to the other, is refused as it is opened:
    :class:`~tansiq.store.SqliteStore`)."""

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        real = None if store_path == ":memory:" else os.path.realpath(store_path)
        self.path = None if real is None else f"{real}-serving"
        self._file: IO[bytes] | None = None

    def take(self) -> None:
        """Take the lock, or raise :class:`StoreInUse` at once if another holds it."""
        if self.path is None or self._file is not None or fcntl is None:
            return
        held = open(self.path, "ab")  # noqa: SIM115 (kept open while the lock is held)
        try:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.close()
            raise StoreInUse(self.store_path) from None
        self._file = held

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets the lock go
            self._file = None
