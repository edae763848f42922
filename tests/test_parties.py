"""Parties and API tokens: the store, the service and `tansiq party`, on real SQLite files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tansiq.errors import (
    InputError,
    PartyExists,
    StoreUnusable,
    Unauthorized,
    UnknownParty,
)
from tansiq.service import parties
from tansiq.store import PartyRecord, SqliteStore, TokenRecord

TANSIQ = Path(sys.executable).with_name("tansiq")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TANSIQ), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "tansiq.db")


def test_a_new_party_gets_a_token_that_authenticates_it(store: SqliteStore) -> None:
    party, token = parties.add_party(store, "coalition", "Coalition HQ", "en")
    assert party.id == "coalition" and party.role == "party"
    assert parties.authenticate(store, f"Bearer {token}") == party
    assert parties.authenticate(store, f"bearer   {token} ") == party


def test_only_a_salted_digest_is_stored(tmp_path: Path, store: SqliteStore) -> None:
    _, token = parties.add_party(store, "ru", "Russian Armed Forces", "ru")
    _, again = parties.issue_token(store, "ru")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for text in (token, again):
        secret = text.split("_", 2)[2]  # tsq_<id>_<secret>; the secret may hold "_"
        assert secret.encode() not in raw
        assert text.encode() not in raw
    digests = sqlite3.connect(tmp_path / "tansiq.db").execute("SELECT salt FROM token").fetchall()
    assert len({salt for (salt,) in digests}) == 2  # a salt per token


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Bearer tsq_000000000000_" + "A" * 43, "Token x"],
)
def test_bad_credentials_are_refused_alike(store: SqliteStore, header: str | None) -> None:
    parties.add_party(store, "unocha", "UN OCHA", "ar")
    with pytest.raises(Unauthorized) as caught:
        parties.authenticate(store, header)
    assert str(caught.value) == "missing, unknown or revoked API token"


def test_a_wrong_secret_for_a_real_token_id_is_refused(store: SqliteStore) -> None:
    _, token = parties.add_party(store, "unocha", "UN OCHA", "ar")
    token_id = token.split("_")[1]
    forged = f"tsq_{token_id}_" + "B" * 43
    with pytest.raises(Unauthorized):
        parties.authenticate(store, f"Bearer {forged}")


def test_revoked_tokens_stop_working_and_others_do_not(store: SqliteStore) -> None:
    _, first = parties.add_party(store, "sdf", "SDF", "ar")
    second_id, second = parties.issue_token(store, "sdf")
    assert parties.revoke_tokens(store, "sdf", second_id) == 1
    with pytest.raises(Unauthorized):
        parties.authenticate(store, f"Bearer {second}")
    assert parties.authenticate(store, f"Bearer {first}").id == "sdf"
    assert parties.revoke_tokens(store, "sdf", None) == 1
    with pytest.raises(Unauthorized):
        parties.authenticate(store, f"Bearer {first}")


def test_revoking_a_token_that_is_not_live_says_so(store: SqliteStore) -> None:
    _, token = parties.add_party(store, "sdf", "SDF", "ar")
    token_id = token.split("_")[1]
    parties.revoke_tokens(store, "sdf", token_id)
    with pytest.raises(InputError, match="has no live token"):
        parties.revoke_tokens(store, "sdf", token_id)


def test_a_token_of_one_party_cannot_be_revoked_through_another(store: SqliteStore) -> None:
    _, token = parties.add_party(store, "sdf", "SDF", "ar")
    parties.add_party(store, "ru", "Russia", "ru")
    token_id = token.split("_")[1]
    with pytest.raises(InputError):
        parties.revoke_tokens(store, "ru", token_id)
    assert parties.authenticate(store, f"Bearer {token}").id == "sdf"


def test_party_ids_are_unique(store: SqliteStore) -> None:
    parties.add_party(store, "ru", "Russia", "ru")
    with pytest.raises(PartyExists):
        parties.add_party(store, "ru", "Someone else", "en")
    kept = store.get_party("ru")
    assert kept is not None and kept.name == "Russia"


def test_bad_party_fields_are_all_named(store: SqliteStore) -> None:
    with pytest.raises(InputError) as caught:
        parties.add_party(store, "no spaces", "  ", "de")
    message = str(caught.value)
    assert "id: 'no spaces'" in message
    assert "name: " in message
    assert "lang: 'de' is not one of ar, en, ru" in message
    assert store.list_parties() == []


def test_unknown_parties_are_named(store: SqliteStore) -> None:
    with pytest.raises(UnknownParty, match="'ghost'"):
        parties.issue_token(store, "ghost")
    with pytest.raises(UnknownParty):
        parties.revoke_tokens(store, "ghost", None)


def test_a_party_is_not_half_created(tmp_path: Path) -> None:
    class TokenlessStore(SqliteStore):
        def add_token(self, token: TokenRecord) -> None:
            raise OSError("disk full")

    store = TokenlessStore(tmp_path / "tansiq.db")
    with pytest.raises(OSError):
        parties.add_party(store, "ru", "Russia", "ru")
    assert store.get_party("ru") is None
    assert SqliteStore(tmp_path / "tansiq.db").list_parties() == []


def test_the_store_survives_reopening(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "tansiq.db")
    _, token = parties.add_party(first, "ru", "Russia", "ru", "coordinator")
    first.close()
    again = SqliteStore(tmp_path / "tansiq.db")
    assert parties.authenticate(again, f"Bearer {token}").role == "coordinator"


def test_a_store_from_a_newer_tansiq_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tansiq.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreUnusable, match="newer Tansiq"):
        SqliteStore(path)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database " * 100)
    with pytest.raises(StoreUnusable, match=r"notes\.txt"):
        SqliteStore(path)


def test_a_store_with_two_names_is_refused_through_either(tmp_path: Path) -> None:
    """SQLite keeps its journal, and a server its lock, beside the name a store is opened
    by: two servers through two hard links both served, and two overlapping strikes, one
    through each, were accepted with no conflict (a reviewer)."""
    path, other = tmp_path / "tansiq.db", tmp_path / "same.db"
    store = SqliteStore(path)
    parties.add_party(store, "ru", "Russia", "ru")
    store.close()
    os.link(path, other)
    for name in (path, other):
        with pytest.raises(StoreUnusable, match=r"has 2 names \(hard links\)"):
            SqliteStore(name)
    refused = run("party", "list", "--db", str(other))
    assert refused.returncode == 1 and "hard links" in refused.stderr
    assert "Traceback" not in refused.stderr
    other.unlink()
    assert [p.id for p in SqliteStore(path).list_parties()] == ["ru"]  # one name again
    (tmp_path / "link.db").symlink_to(path)  # a symbolic link is one name
    assert [p.id for p in SqliteStore(tmp_path / "link.db").list_parties()] == ["ru"]


def test_another_applications_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """`tansiq party list --db other.db` wrote Tansiq's tables into another application's
    database and switched it to WAL (a reviewer)."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (x TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()
    before = path.read_bytes()
    for command in (("party", "list"), ("party", "add", "ru", "--name", "R", "--lang", "ru")):
        refused = run(*command, "--db", str(path))
        assert refused.returncode == 1, refused.stderr
        assert "a SQLite database of another application" in refused.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    # an empty file (made by `touch`, say) becomes a store
    empty = tmp_path / "empty.db"
    empty.touch()
    assert SqliteStore(empty).list_parties() == []


# --- the command line -------------------------------------------------------------------


def test_party_add_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    done = run("party", "add", "coalition", "--name", "Coalition", "--lang", "en", "--db", str(db))
    assert done.returncode == 0, done.stderr
    token = done.stdout.rstrip("\n").splitlines()[-1]
    assert token.startswith("tsq_") and " " not in token
    assert parties.authenticate(SqliteStore(db), f"Bearer {token}").name == "Coalition"

    issued = run("party", "token", "coalition", "--db", str(db))
    assert issued.returncode == 0, issued.stderr
    second = issued.stdout.rstrip("\n").splitlines()[-1]
    assert second != token and parties.authenticate(SqliteStore(db), f"Bearer {second}")

    listed = run("party", "list", "--db", str(db))
    assert listed.returncode == 0
    assert token.split("_")[1] in listed.stdout and second.split("_")[1] in listed.stdout
    assert token not in listed.stdout and second not in listed.stdout

    revoked = run("party", "revoke-token", "coalition", second.split("_")[1], "--db", str(db))
    assert revoked.returncode == 0 and "revoked 1 token" in revoked.stdout
    with pytest.raises(Unauthorized):
        parties.authenticate(SqliteStore(db), f"Bearer {second}")


def test_party_commands_refuse_clearly(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    assert run("party", "add", "ru", "--name", "Russia", "--lang", "ru", "--db", db).returncode == 0
    again = run("party", "add", "ru", "--name", "Russia", "--lang", "ru", "--db", db)
    assert again.returncode == 2
    assert again.stderr.strip() == "error: a party with id 'ru' already exists"
    assert "Traceback" not in again.stderr and again.stdout == ""

    bad_lang = run("party", "add", "x", "--name", "X", "--lang", "de", "--db", db)
    assert bad_lang.returncode == 2 and "'de' is not one of" in bad_lang.stderr

    ghost = run("party", "token", "ghost", "--db", db)
    assert ghost.returncode == 1 and ghost.stderr.strip() == "error: no party with id 'ghost'"

    neither = run("party", "revoke-token", "ru", "--db", db)
    assert neither.returncode == 2 and "either TOKEN_ID or --all" in neither.stderr


def test_party_commands_on_a_mistyped_store_create_nothing(tmp_path: Path) -> None:
    """Only `party add` makes a store: a mistyped --db elsewhere is named, and no empty
    file is left to be served by mistake."""
    typo = tmp_path / "tansiq.bd"
    for args in (["token", "ru"], ["revoke-token", "ru", "--all"], ["list"]):
        answer = run("party", *args, "--db", str(typo))
        assert answer.returncode == 2, args
        assert f"'--db': File '{typo}' does not exist" in answer.stderr
        assert not typo.exists()


def test_party_help_is_complete() -> None:
    for args in (["party"], ["party", "add"], ["party", "token"], ["party", "revoke-token"]):
        shown = run(*args, "--help")
        assert shown.returncode == 0 and "Usage: tansiq party" in shown.stdout
    assert "--lang [ar|en|ru]" in run("party", "add", "--help").stdout


def test_a_refused_party_makes_no_store_and_an_unshown_token_is_not_made(
    tmp_path: Path,
) -> None:
    """A refused `party add` left an empty store named as mistyped; one whose output
    could not be written (a full disk, a reader gone) left a party with a live token
    nobody saw, and a traceback (a reviewer)."""
    db = tmp_path / "mistyped.db"
    refused = run("party", "add", "bad id!", "--name", "X", "--lang", "en", "--db", str(db))
    assert refused.returncode == 2 and refused.stderr.startswith("error: id: 'bad id!'")
    assert not db.exists()
    db = tmp_path / "t.db"
    args = ("party", "add", "ru", "--name", "Russia", "--lang", "ru", "--db", str(db))
    with open("/dev/full", "w") as full:
        lost = subprocess.run(
            [str(TANSIQ), *args], stdout=full, stderr=subprocess.PIPE, text=True, check=False
        )
    assert lost.returncode == 1
    assert lost.stderr == (
        "error: cannot write to standard output (No space left on device): nothing was made\n"
    )
    assert SqliteStore(db).list_parties() == []
    assert run(*args).returncode == 0  # made again, and shown
    with open("/dev/full", "w") as full:
        lost = subprocess.run(
            [str(TANSIQ), "party", "token", "ru", "--db", str(db)],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert lost.returncode == 1 and "nothing was made" in lost.stderr
    assert len(SqliteStore(db).list_tokens("ru")) == 1  # the first token only


def test_party_list_shows_each_stored_name_on_its_own_line(tmp_path: Path) -> None:
    """A name stored before control characters were refused is listed escaped: a
    newline in it forged a line of `tansiq party list` (a reviewer)."""
    db = tmp_path / "t.db"
    store = SqliteStore(db)
    parties.add_party(store, "ru", "Russia", "ru")
    store.add_party(PartyRecord("old", "Old\nfake\tcoordinator\x1b[2J", "en", "party", 0.0))
    store.close()
    listed = run("party", "list", "--db", str(db))
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["old", "ru"]
    assert lines[0].split("\t")[1] == "Old\\nfake\\tcoordinator\\x1b[2J"
