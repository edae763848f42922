"""Where every benchmark writes its result: ``bench/out/<kind>-<UTC stamp>.json``
(or under ``$TANSIQ_BENCH_OUT``: the tests that run a benchmark keep the tree clean)."""

from __future__ import annotations

import json
import os
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
