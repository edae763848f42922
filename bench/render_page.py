"""Rendering a page of conflicts: stored regions embedded as they are vs parsed and re-encoded.

    .venv/bin/python bench/render_page.py [--conflicts 500] [--points 300]

A page of ``--conflicts`` conflict views, each with two overlap regions of
``--points`` positions (as ``GET /v1/conflicts?limit=500`` answers), rendered by
``views.dumps`` (regions embedded as the store holds them) and by the plain way
(``json.loads`` each stored region, then ``json.dumps`` the page). Best of 5.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from results import best_of
from tansiq.service.views import RawJSON, dumps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conflicts", type=int, default=500)
    parser.add_argument("--points", type=int, default=300)
    args = parser.parse_args()
    ring = [[40.0 + k * 1e-5, 35.0 + k * 1e-6] for k in range(args.points)]
    stored = json.dumps({"type": "Polygon", "coordinates": [ring]})

    def page(region: Callable[[], object]) -> dict[str, object]:
        return {
            "conflicts": [
                {"id": k, "mine": {"region": region()}, "other": {"region": region()}}
                for k in range(args.conflicts)
            ]
        }

    raw = best_of(5, lambda: dumps(page(lambda: RawJSON(stored))))
    plain = best_of(5, lambda: json.dumps(page(lambda: json.loads(stored))))
    size = len(dumps(page(lambda: RawJSON(stored))))
    print(
        f"{args.conflicts} conflicts, {size / 1e6:.1f} MB: views.dumps {raw * 1000:.1f} ms,"
        f" parse and re-encode {plain * 1000:.1f} ms, ratio {raw / plain:.2f}"
    )


if __name__ == "__main__":
    main()
