"""Tansiq: deconfliction and incident prevention between parties that share a space.

The Python API::

    import tansiq
    scenario = tansiq.load_scenario("examples/deir-ez-zor.geojson")
    for conflict in tansiq.detect(scenario):
        print(conflict.a, conflict.b, conflict.horizontal_distance_m)
"""

from tansiq.engine import Conflict, ConflictIndex, SeparationTable, detect
from tansiq.errors import ScenarioInvalid, ScenarioUnreadable, TansiqError
from tansiq.scenario import Party, Scenario, SeparationRule, Volume, load_scenario, parse_scenario

__version__ = "0.1.0"

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
