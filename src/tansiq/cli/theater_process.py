"""Starting the theater's own process, for ``tansiq serve --processes 2``."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection, Listener
from pathlib import Path

import click

from tansiq.service.theater_process import RemoteTheater, serve_theater

#: Linux's prctl(2) option: a signal sent to this process when its parent ends
_PR_SET_PDEATHSIG = 1


def start_theater_process(
    db: Path, clock: Callable[[], float], lost: Callable[[], None]
) -> RemoteTheater:
    """Fork the theater's process, wait until it has read the store, and connect to it.

    Forked, not spawned: the clock (an exercise's, say) and everything imported come
    along as they are. What keeps it from serving (a store in use or unreadable) is
    raised here, as with one process. ``lost``: see :class:`RemoteTheater`."""
    folder = tempfile.mkdtemp(prefix="tansiq-theater-")
    address = os.path.join(folder, "theater.sock")
    authkey = os.urandom(32)
    context = multiprocessing.get_context("fork")
    told, tell = context.Pipe(duplex=False)
    process = context.Process(
        target=_theater_main,
        args=(db, clock, address, authkey, tell, os.getpid()),
        name="tansiq-theater",
    )
    try:
        process.start()
        tell.close()
        while not told.poll(0.2):
            if not process.is_alive():
                raise click.ClickException(
                    f"the theater's process ended (exit status {process.exitcode})"
                    " before it had read the store"
                )
        state, error = told.recv()
        if state != "ready":
            raise error
        return RemoteTheater(address, authkey, clock, lost)
    except BaseException:
        # refused, or stopped (SIGTERM) while it read the store: it serves nothing yet,
        # and a change it was making (a schema upgrade) is SQLite's to roll back
        if process.is_alive():
            process.kill()
        if process.pid is not None:
            process.join()
        raise
    finally:
        told.close()
        shutil.rmtree(folder, ignore_errors=True)  # connected, or failed: not needed


def _theater_main(
    db: Path,
    clock: Callable[[], float],
    address: str,
    authkey: bytes,
    tell: Connection,
    parent: int,
) -> None:
    # Ctrl-C and SIGTERM are the HTTP process's to handle: it stops serving and closes
    # the connection, and this process then ends, its calls in hand finished
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # and if the HTTP process is killed, this one is too, at once, as one process would
    # be: it must not keep the store (a server started again would find it in use).
    # Nothing is lost: a change not yet committed was never answered
    _die_with_parent(parent)
    from tansiq.service.public_ids import PublicIds
    from tansiq.service.theater import Theater
    from tansiq.store import SqliteStore

    try:
        listener = Listener(address, "AF_UNIX", authkey=authkey)
        store = SqliteStore(db)
        theater = Theater(store, (), clock)
        theater.draw_early = True  # this process has time to spare for it
    except BaseException as error:
        tell.send(("failed", error))
        return
    try:
        PublicIds.of(store)  # its key made by the store's one writer, if it has none
        serve_theater(theater, listener, lambda: tell.send(("ready", None)))
    finally:
        theater.close()


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the one that forked it ends (Linux; elsewhere it ends
    when the connection does)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)
