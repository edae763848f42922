"""``tansiq demo``: the README's first command runs the service end to end."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
TANSIQ = Path(sys.executable).with_name("tansiq")


def demo(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TANSIQ), "demo", *args], capture_output=True, text=True, timeout=120, cwd=cwd,
        check=False,
    )  # fmt: skip


def test_the_demo_files_the_sample_over_http_and_each_party_sees_its_conflicts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "demo.db"
    done = demo("--db", str(db))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # the sample's five conflicts (as `tansiq conflicts` finds them), each pushed live
    assert "Coalition: 3 conflict(s), 3 pushed live" in out
    assert "Russian forces: 5 conflict(s), 5 pushed live" in out
    assert "UN OCHA humanitarian notification: 2 conflict(s), 2 pushed live" in out
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    with closing(sqlite3.connect(db)) as raw:
        assert raw.execute("SELECT count(*) FROM conflict WHERE state = 'open'").fetchone() == (5,)
        # the humanitarian side acknowledged both of its conflicts
        acked = raw.execute(
            "SELECT count(*) FROM conflict WHERE acked_a_at IS NOT NULL OR acked_b_at IS NOT NULL"
        ).fetchone()
        assert acked == (2,)
    # a second run makes its own store afresh
    again = demo("--db", str(db))
    assert again.returncode == 0, again.stderr
    with closing(sqlite3.connect(db)) as raw:
        assert raw.execute("SELECT count(*) FROM conflict").fetchone() == (5,)


def test_the_demo_never_overwrites_a_store_it_did_not_make(tmp_path: Path) -> None:
    db = tmp_path / "tansiq.db"
    made = subprocess.run(
        [str(TANSIQ), "party", "add", "p", "--name", "P", "--lang", "en", "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert made.returncode == 0
    before = db.read_bytes()
    done = demo("--db", str(db))
    assert done.returncode == 2
    assert "was not made by `tansiq demo`" in done.stderr
    assert "Traceback" not in done.stderr
    assert db.read_bytes() == before
    # nothing left beside it either (its look made -wal and -shm, which the next look
    # took for a store left open; a reviewer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tansiq.db"]
    assert "was not made by `tansiq demo`" in demo("--db", str(db)).stderr


def test_the_demo_outside_the_repository_names_the_missing_sample(tmp_path: Path) -> None:
    done = demo("--db", str(tmp_path / "d.db"), cwd=tmp_path)
    assert done.returncode == 2
    assert "examples/deir-ez-zor.geojson: no such file" in done.stderr
    assert not (tmp_path / "d.db").exists()


def test_the_demo_refuses_a_store_a_server_has_open(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert demo("--db", str(db)).returncode == 0
    held = SqliteStore(db)  # as `tansiq serve --db demo.db` holds it
    try:
        done = demo("--db", str(db))
        assert done.returncode == 2
        assert "is open in another process" in done.stderr
        assert held.get_party("ru") is not None  # the open store is still there, whole
        assert db.exists()
    finally:
        held.close()


def test_the_demo_refuses_a_store_a_theater_serves(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert demo("--db", str(db)).returncode == 0
    store = SqliteStore(db)
    theater = Theater(store)  # as `tansiq serve --db demo.db` serves it
    try:
        done = demo("--db", str(db))
        assert done.returncode == 2
        assert "is being served" in done.stderr
        assert store.get_party("ru") is not None
    finally:
        theater.close()
        store.close()


def test_the_demo_starts_again_after_its_server_was_killed(tmp_path: Path) -> None:
    """A server killed with SIGKILL leaves the store's -wal and -shm beside it: the
    demo once refused such a store for ever, as if it were open."""
    db = tmp_path / "demo.db"
    assert demo("--db", str(db)).returncode == 0
    killed = subprocess.run(
        [sys.executable, "-c", _SERVE_AND_DIE, str(db)], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert Path(f"{db}-wal").exists()  # what the killed server left
    done = demo("--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "ru" in done.stdout


#: a theater on the store that files something, then is killed before it closes
_SERVE_AND_DIE = """
import os, signal, sys
from tansiq.service import parties
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore
store = SqliteStore(sys.argv[1])
theater = Theater(store)
parties.add_party(store, "late", "Late", "en")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_demo_reads_a_store_name_as_a_name_not_as_a_uri(tmp_path: Path) -> None:
    # "a?x.db" must not be taken for the file "a" with a query string
    assert demo("--db", str(tmp_path / "a")).returncode == 0
    other = tmp_path / "a?x.db"
    other.write_text("not a store\n")
    done = demo("--db", str(other))
    assert done.returncode == 2
    assert "was not made by `tansiq demo`" in done.stderr
    assert other.read_text() == "not a store\n"


def test_the_demo_names_a_clock_start_that_is_not_a_time(tmp_path: Path) -> None:
    done = demo("--db", str(tmp_path / "d.db"), "--clock-start", "yesterday")
    assert done.returncode == 2
    assert "--clock-start" in done.stderr and "'yesterday'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d.db").exists()
