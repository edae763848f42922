"""Parties and their API tokens: create, issue, revoke, authenticate.

A party is created with its first token; the token is returned once and only
its salted digest is stored (:mod:`tansiq.service.tokens`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tansiq.errors import Forbidden, InputError, Unauthorized, UnknownParty, UnknownToken
from tansiq.scenario.problems import NOT_TEXT, control_problem, is_text
from tansiq.service import tokens
from tansiq.store import PartyRecord, Store, TokenRecord
from tansiq.store.base import Role

Clock = Callable[[], float]

#: the languages parties are told in; each has its message catalog
LANGUAGES = {"en": "English", "ar": "العربية", "ru": "Русский"}
ROLES: tuple[Role, ...] = ("party", "coordinator")
_PARTY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_NAME = 200


def add_party(
    store: Store,
    party_id: str,
    name: str,
    lang: str,
    role: Role = "party",
    clock: Clock = time.time,
    contact: str = "",
) -> tuple[PartyRecord, str]:
    """Create a party and its first token; return the party and the token's text."""
    refuse_party_problems(party_id, name, lang, role, contact)
    now = clock()
    party = PartyRecord(party_id, name.strip(), lang, role, now, contact.strip())
    with store.transaction():
        store.add_party(party)
        _, text = _issue(store, party_id, now)
    return party, text


def refuse_party_problems(
    party_id: str, name: str, lang: str, role: str, contact: str = ""
) -> None:
    """:class:`InputError` naming every problem of a new party's fields, if any."""
    problems = party_problems(party_id, name, lang, role, contact)
    if problems:
        raise InputError("; ".join(f"{field}: {message}" for field, message in problems))


def party_problems(
    party_id: str, name: str, lang: str, role: str, contact: str = ""
) -> list[tuple[str, str]]:
    """What is wrong with a new party's fields, as ``(field, message)`` pairs (none: fine)."""
    problems: list[tuple[str, str]] = []
    if not _PARTY_ID.fullmatch(party_id):
        problems.append(
            (
                "id",
                f"{party_id!r} must be 1 to 64 letters, digits, '.', '_' or '-',"
                " starting with a letter or digit",
            )
        )
    # name and contact are shown to the other side with every conflict, and listed by
    # `tansiq party list` one line each: no control characters (a newline forged a
    # line, an escape sequence could clear an operator's screen; a reviewer)
    if not is_text(name):
        problems.append(("name", NOT_TEXT))
    elif not name.strip() or len(name) > MAX_NAME:
        problems.append(("name", f"must be 1 to {MAX_NAME} characters, not blank"))
    elif (control := control_problem(name)) is not None:
        problems.append(("name", control))
    if lang not in LANGUAGES:
        problems.append(("lang", f"{lang!r} is not one of {', '.join(sorted(LANGUAGES))}"))
    if role not in ROLES:
        problems.append(("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    if not is_text(contact):
        problems.append(("contact", NOT_TEXT))
    elif len(contact) > MAX_NAME:
        problems.append(("contact", f"must be at most {MAX_NAME} characters"))
    elif (control := control_problem(contact)) is not None:
        problems.append(("contact", control))
    return problems


def issue_token(store: Store, party_id: str, clock: Clock = time.time) -> tuple[str, str]:
    """A new token for an existing party: (its id, its text)."""
    with store.transaction():
        _require_party(store, party_id)
        return _issue(store, party_id, clock())


def revoke_tokens(
    store: Store, party_id: str, token_id: str | None, clock: Clock = time.time
) -> int:
    """Revoke one live token of the party, or all of them (``token_id`` None); return how many.

    Revoking the token that set the party's webhook removes the webhook, and so does
    revoking its last live token: whoever set it (with a stolen token, say) must not
    keep receiving the party's conflicts, as they did when only the last token's
    revocation removed it (found by two reviewers). A webhook set before the store
    kept which token set it is removed by any revocation. A live token sets it again."""
    with store.transaction():
        _require_party(store, party_id)
        revoked = store.revoke_tokens(party_id, token_id, clock())
        setter = store.webhook_token(party_id)
        by_revoked = revoked > 0 and (token_id is None or setter in (None, token_id))
        if by_revoked or not has_live_token(store, party_id):  # (also one set meanwhile)
            store.set_webhook(party_id, None)
    if token_id is not None and revoked == 0:
        raise UnknownToken(party_id, token_id)
    return revoked


def has_live_token(store: Store, party_id: str) -> bool:
    """Whether any token of the party is unrevoked (a webhook lives only while one is)."""
    return any(token.revoked_at is None for token in store.list_tokens(party_id))


def require_coordinator(party: PartyRecord, action: str) -> PartyRecord:
    """The party, if it is a coordinator; :class:`Forbidden` (403) naming ``action`` if not."""
    if party.role != "coordinator":
        raise Forbidden(action)
    return party


def token_id_of(authorization: str | None) -> str | None:
    """The id of the token in an ``Authorization: Bearer <token>`` header value, if it
    holds one (not checked: :func:`authenticate` checks it)."""
    parsed = _bearer(authorization)
    return None if parsed is None else parsed[0]


def _bearer(authorization: str | None) -> tuple[str, str] | None:
    """(token id, secret) of a ``Bearer`` header value, None if it holds no token."""
    if authorization is None:
        return None
    scheme, _, text = authorization.strip().partition(" ")
    return tokens.parse(text.strip()) if scheme.lower() == "bearer" else None


def authenticate(store: Store, authorization: str | None) -> PartyRecord:
    """The party whose live token is in an ``Authorization: Bearer <token>`` header value."""
    parsed = _bearer(authorization)
    if parsed is None:
        raise Unauthorized()
    token_id, secret = parsed
    record = store.get_token(token_id)
    if record is None or record.revoked_at is not None:
        raise Unauthorized()
    if not tokens.matches(secret, record.salt, record.digest):
        raise Unauthorized()
    party = store.get_party(record.party_id)
    if party is None:  # pragma: no cover - a token always has its party (foreign key)
        raise Unauthorized()
    return party


def _require_party(store: Store, party_id: str) -> PartyRecord:
    party = store.get_party(party_id)
    if party is None:
        raise UnknownParty(party_id)
    return party


def _issue(store: Store, party_id: str, now: float) -> tuple[str, str]:
    token = tokens.new_token()
    store.add_token(TokenRecord(token.id, party_id, token.salt, token.digest, now, None))
    return token.id, token.text
