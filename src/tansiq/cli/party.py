"""``tansiq party``: create parties and manage their API tokens in a store file."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from tansiq.errors import OutputLost
from tansiq.scenario.problems import CONTROL
from tansiq.service import parties
from tansiq.store import SqliteStore
from tansiq.store.base import Role

DEFAULT_DB = Path("tansiq.db")

DB_OPTION = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="The store file (created if missing). Party commands and `tansiq serve` must"
    " name the same one.",
)

#: for commands that read a store (a mistyped name must not leave an empty file behind)
EXISTING_DB_OPTION = click.option(
    "--db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="The store file (`tansiq party add` creates it).",
)


@click.group()
def party() -> None:
    """Create parties and manage their API tokens.

    Each party calls the API with `Authorization: Bearer TOKEN`. A token is shown
    once, when it is made; only a salted digest of it is stored.
    """


@party.command("add")
@click.argument("party_id", metavar="ID")
@click.option("--name", required=True, help="The party's name, as others will see it.")
@click.option(
    "--lang",
    required=True,
    type=click.Choice(sorted(parties.LANGUAGES)),
    help="The language the party is told in.",
)
@click.option(
    "--contact",
    default="",
    help="How the other side reaches this party's operations centre (shown with conflicts).",
)
@click.option(
    "--coordinator",
    is_flag=True,
    help="Make this party a coordinator: it administers parties and theater rules.",
)
@DB_OPTION
def add(party_id: str, name: str, lang: str, contact: str, coordinator: bool, db: Path) -> None:
    """Create party ID with its first API token (printed alone on the last line)."""
    role: Role = "coordinator" if coordinator else "party"
    # checked before the store is opened: a refused party made no store file (one was
    # left behind, empty, named as mistyped; a reviewer)
    parties.refuse_party_problems(party_id, name, lang, role, contact)
    store = SqliteStore(db)
    try:
        with store.transaction():
            record, token = parties.add_party(store, party_id, name, lang, role, contact=contact)
            _say(
                f"created {record.role} {record.id!r} ({record.name}, {record.lang}) in {db}",
                "its API token, shown this once:",
                token,
            )
    finally:
        store.close()


@party.command("token")
@click.argument("party_id", metavar="ID")
@EXISTING_DB_OPTION
def token(party_id: str, db: Path) -> None:
    """Issue another API token for party ID (printed alone on the last line)."""
    store = SqliteStore(db)
    try:
        with store.transaction():
            token_id, text = parties.issue_token(store, party_id)
            _say(f"new token {token_id} for {party_id!r}, shown this once:", text)
    finally:
        store.close()


def _say(*lines: str) -> None:
    """Print a new token's lines inside the transaction that makes it, flushed: a token
    that cannot be shown (standard output full, or its reader gone) is not made (a
    party and a live token nobody ever saw were left; a reviewer)."""
    try:
        for line in lines:
            click.echo(line)
        sys.stdout.flush()
    except OSError as exc:
        raise OutputLost(exc) from None


@party.command("revoke-token")
@click.argument("party_id", metavar="ID")
@click.argument("token_id", metavar="TOKEN_ID", required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every live token of the party.")
@EXISTING_DB_OPTION
def revoke_token(party_id: str, token_id: str | None, revoke_all: bool, db: Path) -> None:
    """Revoke token TOKEN_ID of party ID (the id `tansiq party list` shows), or --all.

    A revoked token is refused from the next request on.
    """
    if (token_id is None) == (not revoke_all):
        raise click.UsageError("give either TOKEN_ID or --all")
    store = SqliteStore(db)
    try:
        count = parties.revoke_tokens(store, party_id, token_id)
    finally:
        store.close()
    click.echo(f"revoked {count} token{'s' if count != 1 else ''} of {party_id!r}")


@party.command("list")
@EXISTING_DB_OPTION
def list_parties(db: Path) -> None:
    """List the parties and the ids of their live tokens (never the tokens)."""
    store = SqliteStore(db)
    try:
        for record in store.list_parties():
            live = [t.id for t in store.list_tokens(record.id) if t.revoked_at is None]
            since = datetime.fromtimestamp(record.created_at, UTC).strftime("%Y-%m-%d")
            click.echo(
                f"{record.id}\t{_escaped(record.name)}\t{record.lang}\t{record.role}"
                f"\tsince {since}\ttokens: {', '.join(live) or 'none'}"
            )
    finally:
        store.close()


def _escaped(text: str) -> str:
    """A stored name as one line of a terminal: a control character written as its
    escape (a party stored before names were refused them could forge a line or send
    a terminal an escape sequence)."""
    return CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)
