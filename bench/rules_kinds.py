"""What finding the pairs new rules change costs when parties use many kinds.

    cd bench && ../.venv/bin/python rules_kinds.py [--kinds 2000]

A ``SeparationTable`` learning ``--kinds`` kinds (what ``Theater.set_rules``
built twice before, for the old rules and the new), against
``rules.pairs_changed`` for the same rules again (a new lead time alone), which
compares only the pairs an added or removed rule matches.
"""

from __future__ import annotations

import argparse
import time

from tansiq.engine.rules import SeparationTable, pairs_changed
from theater import SEPARATION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", type=int, default=2000)
    args = parser.parse_args()
    kinds = [f"kind-{k}" for k in range(args.kinds)]
    started = time.perf_counter()
    SeparationTable(SEPARATION).codes(kinds)
    table_s = time.perf_counter() - started
    started = time.perf_counter()
    pairs_changed(SEPARATION, SEPARATION, kinds)
    pairs_s = time.perf_counter() - started
    print(f"{args.kinds:,} kinds: a table {table_s:.1f} s; pairs_changed {pairs_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
