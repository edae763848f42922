"""Benchmarks: tansiq against what a GIS engineer would write with GeoPandas.

    .venv/bin/python bench/run.py detect --sizes 10000 100000 [1000000] [--repeat N]
    .venv/bin/python bench/run.py index --stored 1000000 --queries 2000

``detect`` times ``tansiq.detect`` and the GeoPandas baselines on the same
synthetic theater (:mod:`theater`) in one process (best of ``--repeat``), and
measures each one's peak memory in a forked child that makes just that call
(the rise of ``ru_maxrss`` over the RSS at the fork). ``index`` builds a
``tansiq.ConflictIndex`` of ``--stored`` volumes, times single adds and
``check`` latency, and does the same for a GeoPandas ``sindex`` check.

Prints markdown tables and writes JSON to ``bench/out/``. Not a test.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from typing import Any

import numpy as np

import baseline_geopandas as baseline
import tansiq
from results import write_json
from tansiq import ConflictIndex, Scenario, Volume
from theater import SEPARATION, make_theater, make_volumes

MIB = 1024.0  # ru_maxrss is in KiB on Linux

#: name -> function of a scenario returning its conflicting pairs (a, b), a < b
DetectFn = Callable[[Scenario], list[tuple[str, str]]]


def tansiq_pairs(scenario: Scenario) -> list[tuple[str, str]]:
    return [(c.a, c.b) for c in tansiq.detect(scenario)]


DETECTORS: dict[str, DetectFn] = {
    "tansiq": tansiq_pairs,
    "geopandas-sjoin": baseline.detect,
    "geopandas-tuned": baseline.detect_filter_first,
}
BASELINES = [name for name in DETECTORS if name != "tansiq"]


# --- measuring -----------------------------------------------------------------------------


def maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kib() -> int:
    """The resident set now (Linux), in KiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _child(conn: Any, fn: Callable[[], dict[str, Any]]) -> None:
    try:
        gc.collect()
        before = maxrss_kib()
        base = current_rss_kib()
        out = fn()
        out["peak_rss_mib"] = maxrss_kib() / MIB
        out["peak_rss_delta_mib"] = (maxrss_kib() - max(before, base)) / MIB
        conn.send(out)
    except BaseException as exc:  # report, never hang the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    finally:
        conn.close()


def in_forked_child(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` in a forked child; return its dict plus peak RSS (absolute and rise)."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn))
    proc.start()
    send.close()
    try:
        result: dict[str, Any] = recv.recv()
    except EOFError:
        result = {"error": "child died without answering"}
    proc.join()
    if proc.exitcode:
        result.setdefault("error", f"child exit code {proc.exitcode} (killed? out of memory?)")
    return result


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        result = None  # let the previous result go before the next run
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def percentiles_us(ns: Sequence[int]) -> dict[str, float]:
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return {
        "mean_us": float(a.mean()),
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
    }


def environment() -> dict[str, Any]:
    import shapely

    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": {
            p: version(p)
            for p in ("tansiq", "numpy", "shapely", "geopandas", "pandas", "pyproj")
        },
        "geos": shapely.geos_version_string,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(x: object) -> str:
        if x is None:
            return "–"
        if isinstance(x, float):
            return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"
        if isinstance(x, int):
            return f"{x:,}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


# --- detect --------------------------------------------------------------------------------


def _count(fn: DetectFn, scenario: Scenario) -> dict[str, Any]:
    return {"conflicts": len(fn(scenario))}


def bench_detect(args: argparse.Namespace) -> None:
    engines = ["tansiq", *args.baselines]
    results: list[dict[str, Any]] = []
    rows: list[list[object]] = []
    for n in args.sizes:
        repeat = args.repeat if args.repeat is not None else (3 if n <= 100_000 else 1)
        t0 = time.perf_counter()
        scenario = make_theater(n, args.seed)
        gen_s = time.perf_counter() - t0
        print(f"\n## n = {n:,} (generated in {gen_s:.1f} s; best of {repeat})", flush=True)
        entry: dict[str, Any] = {"n": n, "seed": args.seed, "repeat": repeat, "generate_s": gen_s}

        # Peak memory first, while this process holds nothing but the theater.
        memory: dict[str, dict[str, Any]] = {}
        for name in engines if args.memory else []:
            memory[name] = in_forked_child(partial(_count, DETECTORS[name], scenario))
            print(f"  memory {name}: {memory[name]}", flush=True)

        pairs: dict[str, set[tuple[str, str]]] = {}
        runs: dict[str, dict[str, Any]] = {}
        for name in engines:
            best, times, found = best_of(partial(DETECTORS[name], scenario), repeat)
            pairs[name] = set(found)
            del found
            runs[name] = {"best_s": best, "times_s": times, "conflicts": len(pairs[name])}
            print(f"  time {name}: best {best:.3f} s of {times}", flush=True)

        ref = pairs["tansiq"]
        for name in engines:
            run = runs[name]
            mem = memory.get(name, {})
            run["peak_rss_delta_mib"] = mem.get("peak_rss_delta_mib")
            run["memory_error"] = mem.get("error")
            if name != "tansiq":
                run["only_tansiq"] = len(ref - pairs[name])
                run["only_baseline"] = len(pairs[name] - ref)
                run["tansiq_over_baseline_time"] = runs["tansiq"]["best_s"] / run["best_s"]
                t_mem, b_mem = runs["tansiq"]["peak_rss_delta_mib"], run["peak_rss_delta_mib"]
                run["tansiq_over_baseline_memory"] = t_mem / b_mem if t_mem and b_mem else None
            rows.append(
                [
                    n,
                    name,
                    run["best_s"],
                    run["peak_rss_delta_mib"],
                    run["conflicts"],
                    run.get("only_tansiq"),
                    run.get("only_baseline"),
                    run.get("tansiq_over_baseline_time"),
                    run.get("tansiq_over_baseline_memory"),
                ]
            )
        entry["engines"] = runs
        results.append(entry)
        del pairs, scenario
        gc.collect()

    headers = [
        "volumes",
        "engine",
        "best wall s",
        "peak RSS Δ MiB",
        "conflicts",
        "only tansiq",
        "only baseline",
        "time tansiq/baseline",
        "mem tansiq/baseline",
    ]
    print("\n" + table(headers, rows))
    path = write_json(
        "detect", {"command": sys.argv, "environment": environment(), "results": results}
    )
    print(f"\nwrote {path}")


# --- index ---------------------------------------------------------------------------------


def _build_tansiq_index(volumes: Sequence[Volume]) -> ConflictIndex:
    index = ConflictIndex(separation=SEPARATION)
    index.add_many(volumes)
    return index


def _memory_of_index(stored: int, seed: int, which: str) -> dict[str, Any]:
    """In a fresh child: generate the volumes, then build only the index; report RSS."""
    volumes = make_volumes(stored, seed)
    gc.collect()
    with_volumes = current_rss_kib()
    t0 = time.perf_counter()
    index: object
    if which == "tansiq":
        index = _build_tansiq_index(volumes)
    else:
        index = baseline.GeoPandasIndex(volumes, SEPARATION)
    build_s = time.perf_counter() - t0
    gc.collect()
    holding = current_rss_kib()
    del index
    return {
        "rss_with_volumes_mib": with_volumes / MIB,
        "rss_holding_index_mib": holding / MIB,
        "index_rss_mib": (holding - with_volumes) / MIB,
        "build_s": build_s,
    }


def bench_index(args: argparse.Namespace) -> None:
    stored, adds, queries, seed = args.stored, args.adds, args.queries, args.seed
    result: dict[str, Any] = {"stored": stored, "adds": adds, "queries": queries, "seed": seed}
    engines = ["tansiq"] + ([] if args.no_baseline else ["geopandas-sindex"])

    # Memory first, from a small parent: each child generates, then builds one index.
    memory: dict[str, dict[str, Any]] = {}
    for name in engines if args.memory else []:
        memory[name] = in_forked_child(partial(_memory_of_index, stored, seed, name))
        print(f"memory {name}: {memory[name]}", flush=True)

    t0 = time.perf_counter()
    volumes = make_volumes(stored, seed)
    extra = make_volumes(adds, seed + 1, first_id=stored)
    probes = make_volumes(queries, seed + 2, first_id=stored + adds)
    print(f"generated {stored + adds + queries:,} volumes in {time.perf_counter() - t0:.1f} s")

    # tansiq
    gc.collect()
    t0 = time.perf_counter()
    index = _build_tansiq_index(volumes)
    build_s = time.perf_counter() - t0
    print(f"tansiq add_many({stored:,}): {build_s:.1f} s", flush=True)
    add_ns: list[int] = []
    for v in extra:
        t = time.perf_counter_ns()
        index.add(v)
        add_ns.append(time.perf_counter_ns() - t)
    assert len(index) == stored + adds
    print(f"tansiq add x{adds:,}: mean {np.mean(add_ns) / 1000:.0f} µs", flush=True)
    tansiq_found: list[set[str]] = []
    check_ns: list[int] = []
    for v in extra[:20]:  # warm up
        index.check(v)
    for v in probes:
        t = time.perf_counter_ns()
        conflicts = index.check(v)
        check_ns.append(time.perf_counter_ns() - t)
        tansiq_found.append({c.b if c.a == v.id else c.a for c in conflicts})
    result["tansiq"] = {
        "build_s": build_s,
        "build_us_per_volume": build_s / stored * 1e6,
        "add": percentiles_us(add_ns),
        "check": percentiles_us(check_ns),
        "conflicts_per_check": float(np.mean([len(s) for s in tansiq_found])),
        "memory": memory.get("tansiq"),
    }
    del index
    gc.collect()

    if "geopandas-sindex" in engines:
        t0 = time.perf_counter()
        gindex = baseline.GeoPandasIndex([*volumes, *extra], SEPARATION)
        gbuild_s = time.perf_counter() - t0
        print(f"geopandas build ({stored + adds:,}): {gbuild_s:.1f} s", flush=True)
        for v in extra[:20]:
            gindex.check(v)
        gcheck_ns: list[int] = []
        differ = only_t = only_b = 0
        for v, mine in zip(probes, tansiq_found, strict=True):
            t = time.perf_counter_ns()
            theirs = set(gindex.check(v))
            gcheck_ns.append(time.perf_counter_ns() - t)
            differ += mine != theirs
            only_t += len(mine - theirs)
            only_b += len(theirs - mine)
        result["geopandas-sindex"] = {
            "build_s": gbuild_s,
            "build_us_per_volume": gbuild_s / (stored + adds) * 1e6,
            "check": percentiles_us(gcheck_ns),
            "queries_that_differ": differ,
            "only_tansiq": only_t,
            "only_baseline": only_b,
            "memory": memory.get("geopandas-sindex"),
        }
        del gindex

    rows: list[list[object]] = []
    for name in engines:
        r = result[name]
        mem = r["memory"] or {}
        rows.append(
            [
                name,
                r["build_s"],
                r["build_us_per_volume"],
                r["add"]["mean_us"] if "add" in r else None,
                r["check"]["p50_us"],
                r["check"]["p99_us"],
                r["check"]["max_us"],
                mem.get("peak_rss_mib"),
                mem.get("rss_holding_index_mib"),
                mem.get("index_rss_mib"),
            ]
        )
    headers = [
        "engine",
        "build s",
        "build µs/vol",
        "add µs (mean)",
        "check p50 µs",
        "check p99 µs",
        "check max µs",
        "peak RSS MiB",
        "RSS holding index MiB",
        "of which index MiB",
    ]
    print(f"\n{stored:,} stored, {adds:,} single adds, {queries:,} checks\n")
    print(table(headers, rows))
    if "geopandas-sindex" in result:
        g = result["geopandas-sindex"]
        print(
            f"\nagreement: {g['queries_that_differ']} of {queries} checks differ "
            f"({g['only_tansiq']} conflicts only in tansiq, {g['only_baseline']} only in "
            f"the baseline); tansiq finds {result['tansiq']['conflicts_per_check']:.2f} "
            "conflicts per check on average"
        )
    path = write_json(
        "index", {"command": sys.argv, "environment": environment(), "results": result}
    )
    print(f"\nwrote {path}")


# --- command line --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="whole-scenario detection, tansiq vs GeoPandas")
    d.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    d.add_argument(
        "--repeat", type=int, help="runs per measurement, best kept (default 3; 1 above 100k)"
    )
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--baselines",
        nargs="*",
        choices=BASELINES,
        default=BASELINES,
        help="which GeoPandas baselines to run (default: all; none: tansiq alone)",
    )
    d.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the forked memory runs"
    )

    i = sub.add_parser("index", help="incremental index: build, add, check latency")
    i.add_argument("--stored", type=int, default=1_000_000)
    i.add_argument("--adds", type=int, default=10_000, help="single adds to time")
    i.add_argument("--queries", type=int, default=2_000)
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--no-baseline", action="store_true", help="skip the GeoPandas sindex")
    i.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the forked memory runs"
    )

    args = parser.parse_args(argv)
    if args.command == "detect":
        bench_detect(args)
    else:
        bench_index(args)


if __name__ == "__main__":
    main()
