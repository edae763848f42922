"""Where every benchmark writes its result: ``bench/out/<kind>-<UTC stamp>.json``
(or under ``$TANSIQ_BENCH_OUT``: the tests that run a benchmark keep the tree clean)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT_DIR = Path(os.environ.get("TANSIQ_BENCH_OUT") or Path(__file__).resolve().parent / "out")


def write_json(kind: str, payload: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT_DIR / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The shortest of ``runs`` timings of ``work()``, seconds."""
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t)
    return best
