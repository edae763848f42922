"""The load benchmark itself, on a small store: it must count what it claims to count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_the_load_generator_files_and_hears_every_conflict_it_opened(tmp_path: Path) -> None:
    """A short run against a real ``tansiq serve``: every filing answered 2xx, and
    every conflict a filing opened reached the other side's event stream (the
    generator finds them in the raw stream; a change in how events are written
    would show here as pushes not received)."""
    env = {**os.environ, "TANSIQ_BENCH_OUT": str(tmp_path / "out")}
    # twice: the second run reuses the store, its streams resuming after each party's
    # last event (as every run on the 1M store does)
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "load.py", "--stored", "400", "--duration", "3", "--clients", "2",
             "--db", str(tmp_path / "load.db")],
            cwd=BENCH, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout[run.stdout.index("{") :])
        assert result["ok"] == result["requests"] > 20
        assert set(result["statuses"]) <= {"200", "201"}
        assert result["conflicts_opened"] > 0
        assert result["push_ms"]["not_received"] == 0
        assert result["push_ms"]["p99"] is not None
    assert "reusing" in run.stdout
    assert len(list((tmp_path / "out").glob("load-*.json"))) == 2
