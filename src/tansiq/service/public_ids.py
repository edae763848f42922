"""The ids parties are shown of conflicts and events: a keyed permutation of the store's.

The store numbers conflicts and events in one sequence each, across all parties.
Shown as they are, they told a party how many conflicts and events the others
had (its first conflict numbered 5,000, say) and, from the gaps between its own,
the pace of everyone else's operations. Each id is therefore shown through a
pseudorandom permutation of [0, 2^52) keyed by a secret of the store (made once,
kept in its settings): ids stay whole numbers a JavaScript client reads exactly,
are stable (the same conflict always has the same id), and say nothing about
one another; the server reads them back by the inverse permutation.

The permutation is a four-round Feistel network over two 26-bit halves whose
round function is keyed BLAKE2b (Luby and Rackoff: four rounds of a pseudorandom
function make a strong pseudorandom permutation). Written here because the
format-preserving encryption packages (FF1/FF3 over AES) cost tens of
microseconds an id in Python, and every answer and event carries ids; this
costs a few.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from typing import Literal

from tansiq.errors import StoreUnusable
from tansiq.store import Store

#: the setting that holds the store's key (hex)
KEY_SETTING = "public_id_key"
KEY_BYTES = 32
HALF_BITS = 26
_HALF = (1 << HALF_BITS) - 1
#: ids the permutation covers: every id a store will ever number
LIMIT = 1 << (2 * HALF_BITS)
ROUNDS = 4
#: conflicts whose shown ids are kept at hand (11 MB when full, by tracemalloc)
CONFLICTS_KEPT = 1 << 16

Kind = Literal["conflict", "event"]


class PublicIds:
    def __init__(self, key: bytes) -> None:
        # each round's hash with its key and prefix already taken in (copied, not
        # made again: keying BLAKE2b costs a block of its own)
        self._rounds = {
            (kind, step): hashlib.blake2b(
                b"%s:%d:" % (kind.encode(), step), key=key, digest_size=4
            )
            for kind in ("conflict", "event")
            for step in range(ROUNDS)
        }
        # a conflict's id is shown in every event about it, both sides', and in answers
        self._shown_conflicts = functools.lru_cache(maxsize=CONFLICTS_KEPT)(self._conflict)

    @classmethod
    def of(cls, store: Store) -> PublicIds:
        """The store's permutation, its key made on first use (by whichever process
        comes first: two opening a fresh store at once get the same key)."""
        key = store.get_setting(KEY_SETTING) or store.setting_once(
            KEY_SETTING, secrets.token_hex(KEY_BYTES)
        )
        if not re.fullmatch(f"[0-9a-fA-F]{{{2 * KEY_BYTES}}}", key):
            # an empty key would make ids anyone could read back; a long one fails BLAKE2b
            raise StoreUnusable(
                str(getattr(store, "path", "the store")),
                f"its setting {KEY_SETTING!r} is not {2 * KEY_BYTES} hexadecimal digits",
            )
        return cls(bytes.fromhex(key))

    def show(self, kind: Kind, internal: int) -> int:
        """The id a party is shown (1 to 2^52) for the store's ``internal`` id."""
        if not 0 <= internal < LIMIT:
            raise ValueError(f"{kind} id {internal} is past what public ids cover")
        if kind == "conflict":
            return self._shown_conflicts(internal)
        return self._permuted(kind, internal)

    def _conflict(self, internal: int) -> int:
        return self._permuted("conflict", internal)

    def _permuted(self, kind: Kind, internal: int) -> int:
        left, right = internal >> HALF_BITS, internal & _HALF
        for step in range(ROUNDS):
            left, right = right, left ^ self._round(kind, step, right)
        return ((left << HALF_BITS) | right) + 1

    def read(self, kind: Kind, public: int) -> int | None:
        """The store's id for one a party was shown; None for a number no id shows as."""
        if not 1 <= public <= LIMIT:
            return None
        left, right = (public - 1) >> HALF_BITS, (public - 1) & _HALF
        for step in reversed(range(ROUNDS)):
            left, right = right ^ self._round(kind, step, left), left
        return (left << HALF_BITS) | right

    def own_event(self, store: Store, party_id: str, public: int) -> int | None:
        """The store id of the party's own event shown as ``public``, else None (the
        same for another party's and for none: every number reads as some store id)."""
        internal = self.read("event", public)
        event = None if internal is None else store.get_event(internal)
        return internal if event is not None and event.party_id == party_id else None

    def own_conflict(self, store: Store, party_id: str, public: int) -> int | None:
        """The store id of a conflict the party is a side of, shown as ``public``, else
        None (the same for another's and for none)."""
        internal = self.read("conflict", public)
        conflict = None if internal is None else store.get_conflict(internal, party_id)
        sides = () if conflict is None else (conflict.party_a, conflict.party_b)
        return internal if party_id in sides else None

    def _round(self, kind: Kind, step: int, half: int) -> int:
        """Keyed BLAKE2b of ``kind:step:half`` (in decimal), its first 26 bits."""
        digest = self._rounds[kind, step].copy()
        digest.update(b"%d" % half)
        return int.from_bytes(digest.digest(), "big") & _HALF
