"""How fast the catch-up after new rules judges volumes again, with nothing beside it.

    cp /tmp/tq/s1m.db /tmp/tq/rules1m.db   # it changes the store: run it on a copy
    cd bench && ../.venv/bin/python catch_up_rate.py --db /tmp/tq/rules1m.db [--seconds 40]

Opens a copy of a filled store and widens the air-strike / protected-site separation
by 1 km (as ``rules_catch_up.py`` does), its catch-up left to this thread alone (no
thread of the theater's), or goes on with a catch-up the store has running; then runs
``Theater.catch_up`` for ``--seconds``. Prints the volumes judged again per second,
the time the list of volumes still to judge took to make (beside the changes), and of
that the copy of the index's ids and windows (under the theater's lock), and the time
the first slice, the others at the 99th percentile and the longest of them held the
theater.
``--parts N`` also prints the N longest slices with the time each spent reading the
store (a volume's open conflicts), in the index's check, in ``Theater._refresh``
(judging again and drawing a kept conflict, its write included), ``_open`` (opening
new ones, drawn and written) and ``_close``, and the rest.
Profile it with ``py-spy record -r 200 -f raw -o spy.txt -- ../.venv/bin/python
catch_up_rate.py --db ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rules_catch_up import WIDENED, timed
from tansiq.engine.index import ConflictIndex, HeldVolumes
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
from theater import WEEK_START


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store being caught up")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--parts", type=int, default=0, help="show the N longest slices' parts")
    args = parser.parse_args()
    theater = Theater(SqliteStore(args.db), clock=exercise_clock(WEEK_START))
    parts = slice_parts(theater) if args.parts else []
    slices = timed(theater, "_catch_up_slice")
    listing = timed(theater, "_pending_listed_beside")
    copying: list[float] = []
    held = ConflictIndex.held

    def timed_copy(index: ConflictIndex) -> HeldVolumes:
        started = time.perf_counter()
        try:
            return held(index)
        finally:
            copying.append(time.perf_counter() - started)

    ConflictIndex.held = timed_copy  # type: ignore[method-assign, assignment]
    before = theater.rules_outcome
    if before is None or before.done:
        coordinator = theater._store.get_party("coordinator")
        assert coordinator is not None, "a store filled by load.py has a coordinator"
        wider = tuple(
            dataclasses.replace(r, horizontal_m=r.horizontal_m + 1000.0)
            if r.between == WIDENED
            else r
            for r in theater.rules
        )
        theater.catch_up_in_background = False
        started = time.perf_counter()
        before = theater.set_rules(coordinator, wider, wait_s=0.0)  # and one slice
        print(f"rules set in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    theater.catch_up(until=time.monotonic() + args.seconds)
    took = time.perf_counter() - started
    after = theater.rules_outcome
    assert after is not None
    others = sorted(slices[1:])
    p99 = others[int(0.99 * (len(others) - 1))]
    judged = after.judged - before.judged
    print(
        f"{judged:,} volumes judged again in {took:.1f} s: {judged / took:.0f} a second;"
        f" the list made in {max(listing) * 1000:.0f} ms beside the changes, of which"
        f" {max(copying) * 1000:.0f} ms under the lock; the first slice"
        f" {slices[0] * 1000:.0f} ms, the others p99 {p99 * 1000:.0f} ms and longest"
        f" {others[-1] * 1000:.0f} ms;"
        f" {after.judged:,} of {after.volumes:,}"
    )
    for took, spent in sorted(parts, key=lambda p: -p[0])[: args.parts]:
        shown = ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in spent.items())
        print(f"  a slice of {took * 1000:.1f} ms: {shown}")
    theater.close()


def slice_parts(theater: Theater) -> list[tuple[float, dict[str, float]]]:
    """From now on, each slice's length and the time it spent reading a volume's open
    conflicts, in the index's check, ``_refresh``, ``_open`` and ``_close``, and the
    rest, seconds."""
    done: list[tuple[float, dict[str, float]]] = []
    spent: dict[str, float] = {}

    def timing(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

        return timed_call

    store = theater._store
    store.open_conflict_sides_of_volume = timing(  # type: ignore[method-assign]
        "reading conflicts", store.open_conflict_sides_of_volume
    )
    store.get_conflicts = timing(  # type: ignore[method-assign]
        "reading conflicts", store.get_conflicts
    )
    ConflictIndex.check = timing("check", ConflictIndex.check)  # type: ignore[method-assign]
    theater._refresh = timing("_refresh", theater._refresh)  # type: ignore[method-assign]
    theater._open = timing("_open", theater._open)  # type: ignore[method-assign]
    theater._close = timing("_close", theater._close)  # type: ignore[method-assign]
    whole = theater._catch_up_slice

    def one_slice(now: float) -> Any:
        spent.clear()
        started = time.perf_counter()
        try:
            return whole(now)
        finally:
            took = time.perf_counter() - started
            done.append((took, {**spent, "the rest": took - sum(spent.values())}))

    theater._catch_up_slice = one_slice  # type: ignore[method-assign]
    return done


if __name__ == "__main__":
    main()
