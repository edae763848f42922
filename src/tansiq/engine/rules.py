"""Separation rules: the minimum horizontal, vertical and time distance for a pair of kinds.

A rule applies to a pair whose kinds are its two kinds in either order, ``*``
matching any kind; when several apply, each minimum is the largest that any of
them gives (the strictest wins). Kinds are interned to small integers so that a
whole array of pairs is looked up at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from tansiq.scenario.model import SeparationRule

WILDCARD = "*"


class SeparationTable:
    """Looks up (H, V, T) for pairs of kinds; kinds not seen before are added on demand."""

    def __init__(self, rules: Sequence[SeparationRule] = ()) -> None:
        self.rules: tuple[SeparationRule, ...] = tuple(rules)
        self._codes: dict[str, int] = {}
        self._kinds: list[str] = []
        self._matrix = np.zeros((0, 0, 3))
        # The largest minimum any partner can impose on a kind: the prefilter widens each
        # volume by half of it on each side, so that no pair within its minimum is dropped.
        self._max_for_kind = np.zeros((0, 3))

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def codes(self, kinds: Iterable[str]) -> NDArray[np.int64]:
        """Interned codes of ``kinds``, registering new ones."""
        known = self._codes
        out = [known[kind] if kind in known else self._register(kind) for kind in kinds]
        return np.asarray(out, dtype=np.int64)

    def code(self, kind: str) -> int:
        code = self._codes.get(kind)
        return self._register(kind) if code is None else code

    def minimums(self, kind_a: str, kind_b: str) -> tuple[float, float, float]:
        # the codes first: registering a new kind replaces the matrix
        a, b = self.code(kind_a), self.code(kind_b)
        h, v, t = self._matrix[a, b]
        return float(h), float(v), float(t)

    @property
    def matrix(self) -> NDArray[np.float64]:
        """(kinds, kinds, 3): the (H, V, T) minimums of each pair of kind codes."""
        return self._matrix

    def pair_minimums(
        self, codes_a: NDArray[np.int64], codes_b: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """(n, 3) array of (horizontal_m, vertical_m, time_s) for each pair of kind codes."""
        return self._matrix[codes_a, codes_b]

    def widening(self, codes: NDArray[np.int64]) -> NDArray[np.float64]:
        """(n, 3): half of the largest (H, V, T) any partner could impose on each kind."""
        return self._max_for_kind[codes] / 2.0

    def widening_of(self, code: int) -> tuple[float, float, float]:
        """:meth:`widening` of one kind code, as floats."""
        h, v, t = self._max_for_kind[code].tolist()
        return h / 2.0, v / 2.0, t / 2.0

    def _register(self, kind: str) -> int:
        code = len(self._kinds)
        self._codes[kind] = code
        self._kinds.append(kind)
        n = code + 1
        matrix = np.zeros((n, n, 3))
        matrix[:code, :code] = self._matrix
        for other in range(n):
            value = self._combine(kind, self._kinds[other])
            matrix[code, other] = value
            matrix[other, code] = value
        self._matrix = matrix
        self._max_for_kind = np.vstack([self._max_for_kind, self._max_against_any(kind)])
        return code

    def _combine(self, kind_a: str, kind_b: str) -> NDArray[np.float64]:
        best = np.zeros(3)
        for rule in self.rules:
            k1, k2 = rule.between
            if (_matches(k1, kind_a) and _matches(k2, kind_b)) or (
                _matches(k1, kind_b) and _matches(k2, kind_a)
            ):
                best = np.maximum(best, [rule.horizontal_m, rule.vertical_m, rule.time_s])
        return best

    def _max_against_any(self, kind: str) -> NDArray[np.float64]:
        best = np.zeros(3)
        for rule in self.rules:
            if _matches(rule.between[0], kind) or _matches(rule.between[1], kind):
                best = np.maximum(best, [rule.horizontal_m, rule.vertical_m, rule.time_s])
        return best


def _matches(pattern: str, kind: str) -> bool:
    return pattern in (WILDCARD, kind)


def rule_minimums(
    rules: Sequence[SeparationRule], kind_a: str, kind_b: str
) -> tuple[float, float, float]:
    """(H, V, T) for one pair of kinds straight from ``rules``, without a table: a
    table registers every kind it is asked about, copying its whole matrix each time."""
    best = (0.0, 0.0, 0.0)
    for rule in rules:
        k1, k2 = rule.between
        if (_matches(k1, kind_a) and _matches(k2, kind_b)) or (
            _matches(k1, kind_b) and _matches(k2, kind_a)
        ):
            best = (
                max(best[0], rule.horizontal_m),
                max(best[1], rule.vertical_m),
                max(best[2], rule.time_s),
            )
    return best


def pairs_changed(
    old: Sequence[SeparationRule], new: Sequence[SeparationRule], kinds: Iterable[str]
) -> set[tuple[str, str]]:
    """The pairs of ``kinds`` (each in sorted order) whose minimums differ under ``old``
    and ``new``. Only a pair some added or removed rule matches can differ, so only
    those are compared: a rule for two kinds costs one comparison, not one per pair of
    the theater's kinds."""
    held = sorted(set(kinds))
    candidates: set[tuple[str, str]] = set()
    for rule in set(old) ^ set(new):
        k1, k2 = rule.between
        firsts = held if k1 == WILDCARD else [k for k in held if k == k1]
        seconds = held if k2 == WILDCARD else [k for k in held if k == k2]
        candidates.update((min(x, y), max(x, y)) for x in firsts for y in seconds)
    return {
        (x, y) for x, y in candidates if rule_minimums(old, x, y) != rule_minimums(new, x, y)
    }
