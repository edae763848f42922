"""The ``tansiq`` command as a user runs it: a real process, real files, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "deir-ez-zor.geojson"
TANSIQ = Path(sys.executable).with_name("tansiq")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TANSIQ), *args], capture_output=True, text=True, timeout=120, check=False
    )


def scenario(features: list[dict[str, object]], **tansiq: object) -> dict[str, object]:
    member: dict[str, object] = {
        "version": 1,
        "name": "t",
        "parties": [
            {"id": "p", "name": "P", "lang": "en"},
            {"id": "q", "name": "Q", "lang": "ar"},
        ],
    }
    member.update(tansiq)
    return {"type": "FeatureCollection", "tansiq": member, "features": features}


def point(fid: str, party: str, lon: float, lat: float, **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"party": party, "kind": "drone_flight", **props},
    }


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "s.geojson"
    path.write_text(json.dumps(doc))
    return path


def test_conflicts_json_on_the_example_matches_the_spec_shape() -> None:
    result = run("conflicts", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    pairs = [(c["a"], c["b"]) for c in doc["conflicts"]]
    assert pairs == sorted(pairs)
    assert all(a < b for a, b in pairs)
    assert ("ru-strike-7", "sdf-hq") in pairs
    assert ("hospital-al-assad", "ru-strike-7") in pairs
    strike_hq = next(c for c in doc["conflicts"] if (c["a"], c["b"]) == ("ru-strike-7", "sdf-hq"))
    # point (40.21, 35.36) to the edge lon = 40.20, minus the 500 m radius
    assert strike_hq["horizontal_distance_m"] == pytest.approx(408.865, abs=0.01)
    assert strike_hq["vertical_gap_m"] == 0
    assert strike_hq["time_gap_s"] == 0
    assert result.stderr == ""


def test_conflicts_table_for_people_names_every_pair() -> None:
    result = run("conflicts", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "5 conflicts" in result.stdout
    assert "ru-strike-7 (ru)" in result.stdout
    assert "sdf-hq (coalition)" in result.stdout
    assert "408.9" in result.stdout


def test_no_conflict_prints_an_empty_list(tmp_path: Path) -> None:
    doc = scenario([point("a", "p", 10, 10, radius_m=100), point("b", "q", 11, 10, radius_m=100)])
    result = run("conflicts", str(write(tmp_path, doc)), "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"conflicts": []}
    assert "No conflicts" in run("conflicts", str(write(tmp_path, doc))).stdout


def test_validate_accepts_the_example() -> None:
    result = run("validate", str(EXAMPLE))
    assert result.returncode == 0
    assert "valid, 7 volumes of 3 parties" in result.stdout


@pytest.mark.parametrize("command", ["validate", "conflicts"])
def test_a_bad_file_is_refused_with_every_problem_and_status_2(
    tmp_path: Path, command: str
) -> None:
    doc = scenario(
        [
            point("a", "p", 200, 10),
            point("b", "nobody", 10, 10),
            point("c", "q", 10, 10, radius_m=-5),
        ]
    )
    result = run(command, str(write(tmp_path, doc)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 3
    assert any("feature 'a'" in line and "longitude" in line for line in lines)
    assert any("feature 'b'" in line and "nobody" in line for line in lines)
    assert any("feature 'c'" in line and "radius_m" in line for line in lines)


def test_invalid_json_is_refused_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    result = run("conflicts", str(path), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "JSON" in result.stderr


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = run("conflicts", str(tmp_path / "nope.geojson"))
    assert result.returncode == 2
    assert "nope.geojson" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_every_command() -> None:
    top = run("--help")
    assert top.returncode == 0
    for command in ("conflicts", "validate"):
        assert command in top.stdout
        sub = run(command, "--help")
        assert sub.returncode == 0
        assert "SCENARIO" in sub.stdout
    assert "--json" in run("conflicts", "--help").stdout


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    features = [point(f"v{i}", "pq"[i % 2], 40 + i * 0.001, 35, radius_m=80) for i in range(2500)]
    result = run("conflicts", str(write(tmp_path, scenario(features))), "--json")
    assert result.returncode == 0
    assert result.stderr == ""
    assert len(json.loads(result.stdout)["conflicts"]) > 0


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    features = [point(f"v{i}", "pq"[i % 2], 40 + i * 0.001, 35, radius_m=80) for i in range(2500)]
    path = write(tmp_path, scenario(features))
    primary, secondary = os.openpty()
    seen = bytearray()

    def drain() -> None:
        # read the terminal while the command runs: a full pty blocks its progress bar
        # (and with it the command) until someone reads
        try:
            while chunk := os.read(primary, 65536):
                seen.extend(chunk)
        except OSError:
            pass  # EIO: the command closed its end

    reader = threading.Thread(target=drain)
    with subprocess.Popen(
        [str(TANSIQ), "conflicts", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
    ) as proc:
        os.close(secondary)
        reader.start()
        out, _ = proc.communicate(timeout=120)
        reader.join(timeout=30)
        os.close(primary)
    assert proc.returncode == 0
    assert json.loads(out)["conflicts"]
    assert b"checking time blocks" in seen


def test_runs_where_no_compile_cache_can_be_written(tmp_path: Path) -> None:
    """A read-only install with no writable home: numba refuses to cache; Tansiq compiles
    in memory instead (slower to start, same answers). Simulated by allowing numba only a
    cache locator that never applies (the one for code inside zip files)."""
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "ZipCacheLocator"}
    done = subprocess.run(
        [str(TANSIQ), "conflicts", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["conflicts"]) == 5


def test_ctrl_c_while_the_command_starts_is_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C in the first second of any command (its imports) printed a traceback, at
    times an ImportError of numpy (a reviewer). Sent here as numpy begins to load, by a
    sitecustomize of the test's own: deterministic, where a timer would race the
    machine."""
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins, os, signal\n"
        "real = builtins.__import__\n"
        "def spy(name, *args, **kwargs):\n"
        "    if name == 'numpy':\n"
        "        builtins.__import__ = real\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = spy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [str(TANSIQ), "validate", str(EXAMPLE)], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr, done.stdout) == (130, "aborted\n", "")


def test_the_readmes_refused_file_is_refused_as_the_readme_says() -> None:
    """The README showed `tansiq validate broken.geojson` with no such file (a reviewer):
    it is shipped, and its refusal is the README's, line for line."""
    done = run("validate", str(ROOT / "examples" / "broken.geojson"))
    assert done.returncode == 2
    readme = (ROOT / "README.md").read_text()
    shown = "$ tansiq validate examples/broken.geojson\n" + done.stderr
    assert shown in readme


def test_the_python_api_is_imported_when_used_and_typed_as_before(tmp_path: Path) -> None:
    """`import tansiq` no longer imports the engine (a Ctrl-C in that second was a
    traceback); a reviewer found `tansiq.engine` gone, `dir()` short and a misspelt
    name no longer a type error. All as before now."""
    import importlib

    import tansiq

    assert importlib.import_module("tansiq.engine") is tansiq.engine
    assert {"__file__", "__version__", "detect", "engine"} <= set(dir(tansiq))
    assert tansiq.detect.__module__ == "tansiq.engine.detect"
    from mypy import api as mypy

    user = tmp_path / "user.py"
    user.write_text(
        "import tansiq\n\ntansiq.detectt\nreveal_type(tansiq.detect)\ntansiq.store.SqliteStore\n"
    )
    out, _, status = mypy.run(["--strict", "--no-incremental", str(user)])
    assert status == 1
    assert 'Module has no attribute "detectt"' in out
    assert "store" not in out  # a subpackage is an attribute, as it was
    assert "def (scenario: tansiq.scenario.model.Scenario" in out


def test_python_dash_m_tansiq_is_the_command(tmp_path: Path) -> None:
    """`python -m tansiq.cli.entry` did nothing and exited 0 (a reviewer); `python -m
    tansiq` is the command, for a Python whose scripts are not on PATH."""
    done = subprocess.run(
        [sys.executable, "-m", "tansiq", "party", "add", "red", "--name", "Red", "--lang", "en",
         "--db", str(tmp_path / "t.db")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("tsq_")  # the party's new token
