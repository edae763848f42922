"""The scenario format (``scenario-v1``): the model and the reader."""

from tansiq.scenario.model import Party, Scenario, SeparationRule, Volume
from tansiq.scenario.reader import load_scenario, parse_scenario

__all__ = ["Party", "Scenario", "SeparationRule", "Volume", "load_scenario", "parse_scenario"]
