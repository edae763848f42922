"""A new theater has its engine's kernels ready: its first filings compile nothing.

Each case runs in a fresh interpreter (in this one, earlier tests have compiled
everything already): it counts the compiled signatures of every numba kernel of
the engine, makes a theater, files discs, a polygon, a buffered line and a
multipolygon of two parties, replaces and cancels, and reports which kernels
compiled something new meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    import numba

    import tansiq.engine
    from tansiq.service import parties
    from tansiq.service import theater as theater_module
    from tansiq.store import SqliteStore

    if sys.argv[1] == "without":
        theater_module.warm_up = lambda separation: 0
    kernels = {}
    for info in pkgutil.iter_modules(tansiq.engine.__path__):
        module = importlib.import_module(f"tansiq.engine.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, numba.core.dispatcher.Dispatcher):
                kernels[f"{info.name}.{name}"] = value

    store = SqliteStore(sys.argv[2])
    for party_id in ("a", "b"):
        if store.get_party(party_id) is None:
            parties.add_party(store, party_id, party_id, "en")
    theater = theater_module.Theater(store)
    before = {name: len(kernel.signatures) for name, kernel in kernels.items()}
    a, b = store.get_party("a"), store.get_party("b")
    ids = iter(range(100))

    def body(*geometries):
        features = []
        for geometry, extra in geometries:
            properties = {"kind": "convoy", "start": "2030-01-01T00:00:00Z",
                          "end": "2030-01-01T02:00:00Z", **extra}
            features.append({"type": "Feature", "id": f"f{next(ids)}",
                             "geometry": geometry, "properties": properties})
        return json.dumps({"type": "FeatureCollection", "features": features})

    def point(lon, lat):
        return {"type": "Point", "coordinates": [lon, lat]}

    triangle = [[[10.012, 50.0], [10.02, 50.0], [10.02, 50.008], [10.012, 50.0]]]
    square = [[[9.99, 49.99], [10.01, 49.99], [10.01, 50.01], [9.99, 50.01], [9.99, 49.99]]]
    first = theater.file(a, "operation", body((point(10.0, 50.0), {"radius_m": 500})))
    second = theater.file(b, "operation", body(
        (point(10.004, 50.0), {"radius_m": 500}),
        ({"type": "Polygon", "coordinates": square}, {}),
        ({"type": "LineString", "coordinates": [[9.98, 50.0], [10.02, 50.001]]},
         {"width_m": 100}),
        ({"type": "MultiPolygon", "coordinates": [square, triangle]}, {}),
    ))
    third = theater.replace(b, second.filing.id, second.filing.version,
                            body((point(10.003, 50.0), {"radius_m": 300})))
    theater.cancel(a, first.filing.id, first.filing.version)
    compiled = sorted(name for name, kernel in kernels.items()
                      if len(kernel.signatures) != before[name])
    print(json.dumps({"conflicts": [len(second.conflicts), len(third.conflicts)],
                      "compiled": compiled}))
    """
)


#: a store whose theater holds more volumes than the index's tail (TAIL): restored,
#: they are packed in a tree, which a query walks (the warm-up's few volumes are not)
_FILL = textwrap.dedent(
    """
    import json, sys
    from tansiq.service import parties
    from tansiq.service.theater import Theater
    from tansiq.store import SqliteStore

    store = SqliteStore(sys.argv[1])
    for party_id in ("a", "b"):
        parties.add_party(store, party_id, party_id, "en")
    theater = Theater(store)
    features = [
        {"type": "Feature", "id": f"far{k}",
         "geometry": {"type": "Point", "coordinates": [100.0 + k * 0.01, 0.0]},
         "properties": {"kind": "convoy", "radius_m": 10, "start": "2030-01-01T00:00:00Z",
                        "end": "2030-01-01T02:00:00Z"}}
        for k in range(300)
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features})
    theater.file(store.get_party("a"), "operation", body)
    theater.close()
    store.close()
    """
)


def _first_filings(case: str, store: str = ":memory:") -> dict[str, list[object]]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, case, store], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[object]] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("case", ["with", "without"])
def test_the_first_filings_compile_nothing_once_the_theater_is_made(case: str) -> None:
    result = _first_filings(case)
    assert result["conflicts"] == [4, 1]  # the discs, the square, the line, the multipolygon
    if case == "with":
        assert result["compiled"] == []
    else:  # the same filings, the warm-up left out: they do compile (the test can fail)
        assert {"kernel.judge", "lens.disc_lens", "local_projection.unproject"} <= set(
            result["compiled"]
        )


def test_a_restored_theater_walks_its_tree_without_compiling(tmp_path: Path) -> None:
    """Restored, 300 volumes are one packed tree; the warm-up's handful were only ever
    in the tail, so the first filing after a restart loaded the tree's walk (25 ms at
    1M, found by timing the first filings after a restart)."""
    db = tmp_path / "filled.db"
    filled = subprocess.run(
        [sys.executable, "-c", _FILL, str(db)], capture_output=True, text=True, timeout=600
    )
    assert filled.returncode == 0, filled.stderr
    result = _first_filings("with", str(db))
    assert result["conflicts"] == [4, 1]
    assert result["compiled"] == []
