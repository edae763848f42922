"""How long a restart takes before the server answers, on a store filled by ``load.py``.

    .venv/bin/python bench/restart.py --db /tmp/tansiq-1m.db [--runs 3] [--cold] [--reparse]
        [--baseline-src DIR/src]

1. ``tansiq serve`` is started on the store ``--runs`` times; each time, the
   seconds from the process's start to its first answer (``/openapi.json``) are
   recorded. The server reads every active volume's stored footprint into its
   in-memory index (``Theater._load``).
   With ``--cold``, the kernel's page cache is dropped before each start (root
   only), as after a reboot: the store is read from the disk, not from memory.
   With ``--baseline-src``, each run also starts another version of the code (a
   source tree put on PYTHONPATH), in turn with this one, so that both meet the
   same moments of a noisy machine; the ratio of the medians is reported. The
   server's CPU seconds until its first answer are recorded too (from /proc).
2. With ``--reparse``, the way a restart worked before footprints were stored is
   timed in this process for comparison: every active filing's GeoJSON parsed and
   validated again, and the same index built from the volumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results import write_json
from tansiq.cli.local_server import free_local_port, wait_until_answering
from tansiq.engine.index import ConflictIndex
from tansiq.scenario.model import Volume
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

TANSIQ = Path(sys.executable).with_name("tansiq")



def serve_until_ready(db: Path, src: Path | None = None) -> tuple[float, float | None]:
    """Seconds from starting the server to its first answer, and the CPU seconds
    it used until then (None where /proc does not tell). ``src``: a source tree of
    another version to run instead (put first on PYTHONPATH)."""
    port = free_local_port()
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [str(TANSIQ), "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_until_answering(
            f"http://127.0.0.1:{port}", timeout_s=600, process=server, poll_s=0.02
        )
        return time.perf_counter() - t0, cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a running process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drop_page_cache() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise SystemExit(f"--cold: cannot drop the page cache ({exc}); it needs root") from None


def reparse(db: Path) -> tuple[float, int]:
    """The old restart: parse every active filing and index its volumes."""
    store = SqliteStore(db)
    t0 = time.perf_counter()
    theater = Theater.__new__(Theater)  # only its parser, without opening the theater
    theater._separation = ()
    volumes: list[Volume] = []
    for filing in store.active_filings():
        volumes.extend(theater.volumes(filing.party_id, filing.id, filing.body))
    index = ConflictIndex()
    index.add_many(volumes)
    took = time.perf_counter() - t0
    store.close()
    return took, len(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a store filled by load.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reparse", action="store_true", help="also time the old restart")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each start")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="another version's source tree (its src/, as `git archive REV src/tansiq | tar"
        " -x -C DIR` leaves it in DIR/src), started in turn with this one, on PYTHONPATH",
    )
    args = parser.parse_args()
    with sqlite3.connect(args.db) as raw:
        (stored,) = raw.execute("SELECT count(*) FROM volume").fetchone()
    ready: list[float] = []
    cpu: list[float | None] = []
    base_ready: list[float] = []
    base_cpu: list[float | None] = []
    versions: list[tuple[Path | None, list[float], list[float | None]]] = [(None, ready, cpu)]
    if args.baseline_src is not None:
        versions.append((args.baseline_src, base_ready, base_cpu))
    for _ in range(args.runs):
        for src, walls, cpus in versions:
            if args.cold:
                drop_page_cache()
            wall, used = serve_until_ready(args.db, src)
            walls.append(wall)
            cpus.append(used)
    result: dict[str, object] = {
        "stored_volumes": stored,
        "cold": args.cold,
        "ready_s": ready,
        "ready_median_s": statistics.median(ready),
        "cpu_s": cpu,
    }
    if args.baseline_src is not None:
        result["baseline_src"] = str(args.baseline_src)
        result["baseline_ready_s"] = base_ready
        result["baseline_ready_median_s"] = statistics.median(base_ready)
        result["baseline_cpu_s"] = base_cpu
        result["ratio_to_baseline"] = statistics.median(ready) / statistics.median(base_ready)
    print(json.dumps(result), flush=True)
    if args.reparse:
        took, indexed = reparse(args.db)
        assert indexed == stored, (indexed, stored)
        result["reparse_s"] = took
        result["ratio"] = statistics.median(ready) / took
    print(json.dumps(result, indent=1))
    write_json("restart", result)


if __name__ == "__main__":
    main()
