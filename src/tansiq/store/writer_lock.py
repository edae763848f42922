"""One writer at a time across processes: an exclusive ``flock`` beside the store file.

Several server processes may serve one store (``tansiq serve --workers N``), each
with the theater in memory. A change must see every change committed before it
(the second of two overlapping filings must find the first), so each process
holds this lock from the moment it opens a batch until that batch's COMMIT has
returned, and on taking it reads what the others committed meanwhile
(:meth:`tansiq.service.theater.Theater._catch_up`).

SQLite's own write lock would exclude the others too, but a writer that finds it
taken sleeps in steps of up to 100 ms before asking again; a process blocked in
``flock`` is woken the moment the lock is let go (and without holding the GIL).
The kernel lets it go when its holder dies, however it dies. ``flock`` locks
belong to an open file: two :class:`WriterLock` of one process exclude each other
as two processes' do (the tests rely on it).
"""

from __future__ import annotations

import fcntl
import os


class WriterLock:
    """The store's cross-process writer lock (a no-op for an in-memory store)."""

    def __init__(self, store_path: str) -> None:
        self.path = None if store_path == ":memory:" else f"{store_path}-writer"
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> bool:
        """Take the lock, waiting for it; True if it was not already held here."""
        if self.held:
            return False
        if self.path is not None:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.held = True
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SoleRole:
    """Something only one of the processes serving a store may do (send its webhooks:
    two senders would send each event twice): whoever takes this lock first, until it
    ends (the kernel lets the lock go when its process dies, and a process started
    after that takes it)."""

    def __init__(self, store_path: str, role: str) -> None:
        self.path = None if store_path == ":memory:" else f"{store_path}-{role}"
        self._fd: int | None = None

    def take(self) -> bool:
        """True if this process now has the role (never waits)."""
        if self.path is None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def give_up(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file lets the lock go
            self._fd = None
