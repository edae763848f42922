"""The theater in a process of its own, and the HTTP process's handle on it.

Why: every thread of a Python process runs under one interpreter lock, and a server
doing both the theater's serial changes and HTTP (requests, answers, event streams)
in one process gets about 0.85 of a core however many the machine has
(docs/benchmarks.md). With ``tansiq serve --processes 2`` the theater runs in a
process that does nothing else, and the HTTP process reaches it through
:class:`RemoteTheater`, which has the theater's calls (:data:`CALLS`): each is sent
over a Unix socket, run in a thread of the theater's process (so that changes
queued together still share one COMMIT), and its result or error sent back.
Committed events come back the same way, in commit order, to the HTTP process's
listeners. A call is answered only after the theater returned, so a change is
answered only once it is committed, as in one process.

Hand-written over :mod:`multiprocessing.connection` (pickled messages over a local
socket, with an authentication key): a call must cost about what a hop to a thread
does, and an RPC framework would add a wire format and a dependency for what is one
trusted peer, forked from this very program, on the same machine.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from tansiq.errors import TansiqError, TheaterLost
from tansiq.service.outcomes import LiveEvent

_log = logging.getLogger(__name__)

#: threads of the theater's process running calls: changes wait for the theater's lock
#: there (and commit together), reads run beside them; as many as the HTTP server's own
#: worker threads (anyio's default), which is as many calls as it can have waiting
CALL_THREADS = 40

#: the theater's calls the HTTP process may make (nothing else is run); a test checks
#: that the API calls nothing else of it
CALLS = frozenset(
    {
        "acknowledge",
        "active_volumes",
        "cancel",
        "committed_rules",
        "conflict",
        "conflicts_page",
        "file",
        "filing",
        "filings",
        "history",
        "replace",
        "rules_history",
        "set_rules",
        "shared_with",
    }
)


def serve_theater(theater: Any, listener: Listener, ready: Callable[[], None]) -> None:
    """Run calls from the HTTP process on ``theater`` until its connection ends.

    One connection (one HTTP process), accepted after ``ready()``; when it ends, the
    calls in hand are finished (their changes committed) before this returns."""
    ready()
    connection = listener.accept()
    with contextlib.suppress(FileNotFoundError):  # (its folder may be gone already)
        listener.close()  # one HTTP process: no other is let in
    sending = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with sending:
            connection.send(message)

    def hand_on(events: Sequence[LiveEvent]) -> None:
        # from the committing thread, in commit order: the order the HTTP process sees
        with contextlib.suppress(OSError):  # the HTTP process is gone: so is this one
            send(("events", list(events)))

    theater.subscribe(hand_on)
    with ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="theater-call") as pool:
        while True:
            try:
                call_id, name, args, kwargs = connection.recv()
            except (EOFError, OSError):
                break
            pool.submit(_run, theater, send, call_id, name, args, kwargs)
    connection.close()


def _run(
    theater: Any,
    send: Callable[[tuple[Any, ...]], None],
    call_id: int,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Run one call and send its result, or its error, back."""
    reply: tuple[Any, ...]
    try:
        if name not in CALLS:
            raise AttributeError(f"the theater has no call {name!r}")
        found = getattr(theater, name)
        result = found(*args, **kwargs) if callable(found) else found
        reply = ("reply", call_id, True, result)
    except TansiqError as refused:  # the caller's error: raised again there
        reply = ("reply", call_id, False, refused)
    except BaseException as error:  # a defect: logged here, a 500 there
        _log.exception("the theater's call %s failed", name)
        failed = RuntimeError(f"the theater's call {name} failed: {error!r}")
        reply = ("reply", call_id, False, failed)
    try:
        send(reply)
    except OSError:
        pass  # the HTTP process is gone
    except Exception as unsent:  # a result that cannot be pickled: a defect, said
        _log.exception("the theater's call %s could not be answered", name)
        failed = RuntimeError(f"the theater's call {name} could not be answered: {unsent!r}")
        with contextlib.suppress(OSError):
            send(("reply", call_id, False, failed))


class RemoteTheater:
    """The theater of another process, with its calls (:data:`CALLS`), ``now`` (from
    the same clock, here), ``subscribe`` and ``close``.

    ``lost()`` is called, once, from the reading thread, if the theater's process
    ends while this is open: every call then raises :class:`TheaterLost`."""

    def __init__(
        self,
        address: str,
        authkey: bytes,
        clock: Callable[[], float],
        lost: Callable[[], None] = lambda: None,
    ) -> None:
        self._connection: Connection = Client(address, family="AF_UNIX", authkey=authkey)
        self._clock = clock
        self.lost = lost
        self._sending = threading.Lock()  # one message at a time on the connection
        self._state = threading.Lock()  # the calls waiting, and whether it has ended
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future[Any]] = {}
        self._gone: str | None = None  # why the connection ended (None: open)
        self._closing = False
        self._listeners: list[Callable[[Sequence[LiveEvent]], None]] = []
        self._reader = threading.Thread(target=self._read, name="theater-replies", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            self._read_until_the_end()
        except BaseException as failed:  # a reply that cannot be read, say: a defect
            _log.exception("reading the theater's replies failed")
            self._end(f"its reply could not be read: {failed!r}")

    def _read_until_the_end(self) -> None:
        # Whatever ends this thread must end the connection for every caller: a reader
        # that died on a reply it could not unpickle left every call waiting for good,
        # and the server unable to exit (a reviewer)
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError) as ended:
                self._end(str(ended) or "its connection closed")
                return
            if message[0] == "events":
                for listener in self._listeners:
                    try:
                        listener(message[1])
                    except Exception:
                        _log.exception("a listener of the theater's events failed")
                continue
            _, call_id, ok, value = message
            with self._state:
                future = self._waiting.pop(call_id, None)
            if future is None:
                continue  # its caller was told the connection failed
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _end(self, reason: str) -> None:
        with self._state:
            if self._gone is not None:
                return
            self._gone = reason
            waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.set_exception(TheaterLost(reason))
        if not self._closing:
            self.lost()

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        future: Future[Any] = Future()
        with self._state:
            if self._gone is not None:
                raise TheaterLost(self._gone)
            call_id = next(self._ids)
            self._waiting[call_id] = future
        try:
            with self._sending:
                self._connection.send((call_id, name, args, kwargs))
        except OSError as failed:  # the reader sees the end too, and tells the rest
            with self._state:
                self._waiting.pop(call_id, None)
            raise TheaterLost(str(failed)) from None
        return future.result()

    def __getattr__(self, name: str) -> Any:
        if name not in CALLS:
            raise AttributeError(f"{type(self).__name__} has no call {name!r}")
        if name == "active_volumes":  # a property of the theater
            return self._call(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    def now(self) -> float:
        return self._clock()

    def subscribe(self, listener: Callable[[Sequence[LiveEvent]], None]) -> None:
        """Call ``listener(events)`` with the events of every COMMIT, in commit order
        (from the reading thread). Subscribe before the first change."""
        self._listeners.append(listener)

    def close(self) -> None:
        """End the connection: the theater's process finishes the calls in hand, closes
        the store and ends. Shut down, not only closed: the reading thread's ``recv``
        holds the socket open until it returns, and the theater's process would wait."""
        if self._closing:
            return
        self._closing = True
        with (
            contextlib.suppress(OSError),
            socket.socket(fileno=os.dup(self._connection.fileno())) as same,
        ):
            same.shutdown(socket.SHUT_RDWR)
        self._reader.join()
        self._connection.close()
