"""A query parameter a route does not take is refused (400), naming it.

FastAPI ignores what a route does not declare: a misspelt filter
(``GET /v1/conflicts?stat=open``) answered with every conflict, unfiltered, and
an acknowledgement's ``?version=1`` was dropped and the ack recorded against a
newer version than the party had seen (a reviewer). A party that asks for
something must be told when it was not understood.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tansiq.errors import InputError

#: each route's query parameters, by the route (read once: routes do not change)
_DECLARED: dict[int, frozenset[str]] = {}


async def only_declared_query(request: Request) -> None:
    """An app-wide dependency: every query parameter is one the route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = _DECLARED.get(id(route))
    if declared is None:
        declared = _DECLARED[id(route)] = frozenset(_query_names(route.dependant))
    for name in request.query_params:
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "none"
            raise InputError(f"{name}: not a parameter here (this request takes: {takes})")


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names
