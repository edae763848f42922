"""Tansiq's one error hierarchy.

Every error a user can cause is a :class:`TansiqError`. Each class carries the
CLI exit status and the HTTP status it maps to, so each edge (CLI, API) has a
single handler that renders any of them without a traceback::

    TansiqError                  exit 1, HTTP 500
    ├── InputError               exit 2, HTTP 400   the caller sent something wrong
    │   ├── ScenarioInvalid      exit 2, HTTP 422   a scenario breaks the spec (all problems listed)
    │   └── ScenarioUnreadable   exit 2, HTTP 400   the file cannot be read at all
    └── UnknownVolume            exit 1, HTTP 404   an id that the index does not hold
"""

from __future__ import annotations

from collections.abc import Sequence


class TansiqError(Exception):
    """Base of every error Tansiq raises on purpose."""

    exit_code: int = 1
    http_status: int = 500


class InputError(TansiqError):
    """The caller gave input that cannot be used."""

    exit_code = 2
    http_status = 400


class ScenarioUnreadable(InputError):
    """The scenario file could not be opened or is not JSON."""


class ScenarioInvalid(InputError):
    """A scenario breaks ``scenario-v1``; ``problems`` lists every broken rule, one line each."""

    http_status = 422

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"scenario refused, {count} {noun}:\n" + "\n".join(self.problems))


class UnknownVolume(TansiqError):
    """An operation named a volume id that is not stored."""

    exit_code = 1
    http_status = 404

    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id
        super().__init__(f"no volume with id {volume_id!r}")


class DuplicateVolume(InputError):
    """A volume id is already stored."""

    http_status = 409

    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id
        super().__init__(f"a volume with id {volume_id!r} is already stored")
