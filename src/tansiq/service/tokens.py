"""API tokens: made at random, shown once, stored only as a salted digest.

A token reads ``tsq_<id>_<secret>``. The id is public (it names the token in
lists and in ``revoke-token``); the secret has 256 random bits. A token is
checked by recomputing SHA-256 over a per-token salt and the secret and comparing
in constant time: tokens are random, not chosen by people, so a slow password
hash would only slow down every request without making guessing any harder.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "tsq"
_TOKEN = re.compile(r"^tsq_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    secret: str
    salt: bytes
    digest: bytes

    @property
    def text(self) -> str:
        """What the party is given, once."""
        return f"{PREFIX}_{self.id}_{self.secret}"


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return NewToken(token_id, secret, salt, _digest(salt, secret))


def parse(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(text)
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, salt: bytes, digest: bytes) -> bool:
    return hmac.compare_digest(_digest(salt, secret), digest)


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()
