"""schemathesis fuzzes every route of the OpenAPI document (but the endless event stream),
as a party with a real token.

Whatever it sends, the API must never fail with a server error, and every answer
must be JSON of the content type the document promises (problems included).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.core.result import Err

from samples import sample_morning
from tansiq.api import create_app
from tansiq.service import parties
from tansiq.store import SqliteStore

_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}
EXAMPLES_PER_ROUTE = 30


def route_operations(store: SqliteStore) -> list[Any]:
    """Every route of the app's OpenAPI document, as schemathesis operations."""
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(store, clock=sample_morning())
    )
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the app's own document does not parse
        operations.append(result.ok())
    return operations


def fuzz_as(token: str, operations: list[Any]) -> None:
    """Fuzz each operation with the token's party: no 5xx, every answer of its content type."""
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            derandomize=_CI,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, content_type_conformance])

        fuzz()


def test_no_request_makes_the_api_fail(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tansiq.db")
    _, token = parties.add_party(store, "red", "Red", "en")
    parties.add_party(store, "blue", "Blue", "ar")
    # the event stream never ends by itself: tests/test_events.py covers it
    operations = [op for op in route_operations(store) if op.path != "/v1/events"]
    assert len(operations) >= 14  # every other route is fuzzed, none silently skipped
    fuzz_as(token, operations)
