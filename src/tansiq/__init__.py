"""Tansiq: deconfliction and incident prevention between parties that share a space.

The Python API::

    import tansiq
    scenario = tansiq.load_scenario("examples/deir-ez-zor.geojson")
    for conflict in tansiq.detect(scenario):
        print(conflict.a, conflict.b, conflict.horizontal_distance_m)

The names below are imported when first used (PEP 562): the engine brings numpy,
shapely and numba, most of a second, and ``import tansiq`` (which every command
and module of the package does first) should not make a Ctrl-C in that second a
traceback (``tansiq.cli.entry``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tansiq import api as api
    from tansiq import cli as cli
    from tansiq import engine as engine
    from tansiq import errors as errors
    from tansiq import scenario as scenario
    from tansiq import service as service
    from tansiq import store as store
    from tansiq.engine import Conflict, ConflictIndex, SeparationTable, detect
    from tansiq.errors import ScenarioInvalid, ScenarioUnreadable, TansiqError
    from tansiq.scenario import (
        Party,
        Scenario,
        SeparationRule,
        Volume,
        load_scenario,
        parse_scenario,
    )

__version__ = "0.1.0"

#: where each name of the API lives
_HOMES = {
    "Conflict": "tansiq.engine",
    "ConflictIndex": "tansiq.engine",
    "SeparationTable": "tansiq.engine",
    "detect": "tansiq.engine",
    "ScenarioInvalid": "tansiq.errors",
    "ScenarioUnreadable": "tansiq.errors",
    "TansiqError": "tansiq.errors",
    "Party": "tansiq.scenario",
    "Scenario": "tansiq.scenario",
    "SeparationRule": "tansiq.scenario",
    "Volume": "tansiq.scenario",
    "load_scenario": "tansiq.scenario",
    "parse_scenario": "tansiq.scenario",
}

__all__ = [
    "Conflict",
    "ConflictIndex",
    "Party",
    "Scenario",
    "ScenarioInvalid",
    "ScenarioUnreadable",
    "SeparationRule",
    "SeparationTable",
    "TansiqError",
    "Volume",
    "__version__",
    "detect",
    "load_scenario",
    "parse_scenario",
]


#: the subpackages, which `import tansiq` made attributes when it imported them all
_SUBPACKAGES = frozenset({"api", "cli", "engine", "errors", "scenario", "service", "store"})

if not TYPE_CHECKING:  # (type checkers see the names above; a misspelt one stays an error)

    def __getattr__(name: str) -> object:
        if name in _SUBPACKAGES:
            return importlib.import_module(f"tansiq.{name}")  # (binds it as an attribute)
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'tansiq' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # once: the next use finds it as any module attribute
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBPACKAGES})
