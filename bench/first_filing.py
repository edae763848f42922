"""How long a new theater takes to be ready, and its first filings (numba's kernels).

    cd bench && ../.venv/bin/python first_filing.py            # numba's cache as it is
    cd bench && ../.venv/bin/python first_filing.py --cold     # an empty cache: compiling
    cd bench && ../.venv/bin/python first_filing.py --without-warm-up   # as before it
    cd bench && ../.venv/bin/python first_filing.py --db /tmp/tq/s1m.db  # after a restart

In a fresh interpreter (a child process, so that nothing is compiled yet): an
empty store with the benchmark's six parties, a ``Theater`` made on it (timed:
since ``engine/warmup.py`` it loads or compiles the engine's kernels), then four
contested filings as ``load.py`` makes them (the third and fourth where the first
and second are, by other parties: each opens a conflict), each timed. ``--cold`` points
``NUMBA_CACHE_DIR`` at an empty directory; ``--without-warm-up`` makes the theater
without it (the first filings then load or compile the kernels, as they did).
``--db`` restores a store ``load.py`` filled instead (a restart: its volumes in
packed trees, made into volumes when a check first needs them); the filings are
cancelled at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

CHILD = """
import random, sys, tempfile, time
from load import contested
from tansiq.service import parties
from tansiq.service import theater as theater_module
from tansiq.service.clocks import exercise_clock
from tansiq.service.theater import Theater
if sys.argv[1] == "without":
    theater_module.warm_up = lambda separation: 0
from tansiq.store import SqliteStore
from theater import PARTIES, WEEK_START

filled = len(sys.argv) > 2  # a store load.py filled: its parties are there
store = SqliteStore(sys.argv[2] if filled else tempfile.mkdtemp() + "/tansiq.db")
for p in PARTIES:
    if not filled:
        parties.add_party(store, p.id, p.name, "en")
started = time.perf_counter()
theater = Theater(store, clock=exercise_clock(WEEK_START))
print(f"theater ready in {1000 * (time.perf_counter() - started):.1f} ms")
records = [store.get_party(p.id) for p in PARTIES]
rng = random.Random(1)
bodies = [contested(rng, "op0"), contested(rng, "op1")]  # the 3rd and 4th meet the 1st, 2nd
filed = []
for k in range(4):
    started = time.perf_counter()
    out = theater.file(records[k % len(records)], "operation", bodies[k % 2])
    took = 1000 * (time.perf_counter() - started)
    print(f"filing {k + 1}: {took:.1f} ms, {len(out.conflicts)} conflict(s)")
    filed.append((records[k % len(records)], out.filing))
for party, filing in filed:  # the store as it was (untimed)
    theater.cancel(party, filing.id, filing.version)
theater.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="with an empty numba cache")
    parser.add_argument("--without-warm-up", action="store_true", help="as before it")
    parser.add_argument(
        "--db", help="restore this store (filled by load.py) instead of an empty one"
    )
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as empty:
        if args.cold:
            env["NUMBA_CACHE_DIR"] = empty
        here = os.path.dirname(os.path.abspath(__file__))
        case = "without" if args.without_warm_up else "with"
        store = [os.path.abspath(args.db)] if args.db else []
        subprocess.run([sys.executable, "-c", CHILD, case, *store], env=env, cwd=here, check=True)


if __name__ == "__main__":
    main()
