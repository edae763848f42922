"""What parsing a contested filing costs, as the theater parses it and as it did with
the theater's rules in the filing's header (checked again with every filing, unused).

    cd bench && ../.venv/bin/python parse_filing.py [--filings 2000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from load import contested
from tansiq.scenario.reader import parse_scenario
from tansiq.service.rules import rules_json
from theater import SEPARATION


def header(rules: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def amend(document: dict[str, Any]) -> None:
        party = {"id": "p", "name": "p", "lang": "en"}
        document["tansiq"] = {"version": 1, "parties": [party], **rules}
        for feature in document["features"]:
            feature["properties"]["party"] = "p"

    return amend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    bodies = [contested(rng, f"op{k % 100}") for k in range(args.filings)]
    ways = {
        "as now (no rules in the header)": header({}),
        f"with the theater's {len(SEPARATION)} rules": header(
            {"separation": rules_json(SEPARATION)}
        ),
    }
    for _ in range(2):  # the second round is the one reported
        took = {}
        for label, amend in ways.items():
            t0 = time.perf_counter()
            for body in bodies:
                parse_scenario(body, amend=amend)
            took[label] = (time.perf_counter() - t0) / len(bodies) * 1e6
    for label, us in took.items():
        print(f"{label}: {us:.0f} us per filing")


if __name__ == "__main__":
    main()
