"""The theater's rules: separation minimums, read and written as the scenario format's
``tansiq.separation`` member (validated by the same reader), and the lead time."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tansiq.errors import InputError, RuleBeyondLimits, ScenarioInvalid
from tansiq.scenario.model import SeparationRule
from tansiq.scenario.problems import format_number
from tansiq.scenario.reader import parse_scenario

SETTING = "separation"
LEAD_TIME_SETTING = "lead_time_h"
#: the id of the change of rules in force (the store's history of them, schema 9)
CHANGE_SETTING = "rules_change"

#: The largest minimums a theater takes (the format itself has none). A rule is judged
#: against every stored pair of its kinds, so a slip of the keyboard (1e9 m for 1e3)
#: would make every pair on Earth a conflict and hold filings back while they are all
#: opened. Decided where the issue is silent: 1,000 km across (half the largest
#: footprint), 100 km up (no volume in scope flies above), 30 days apart.
LIMITS = {"horizontal_m": 1_000_000.0, "vertical_m": 100_000.0, "time_s": 30 * 86_400.0}
_SAID = {"horizontal_m": "1,000 km", "vertical_m": "100 km", "time_s": "30 days"}


def parse_rules(body: str | bytes) -> tuple[SeparationRule, ...]:
    """``{"separation": [...]}`` as rules; every broken rule named (``separation[2].between``)."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InputError(f"body: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("separation"), list):
        raise InputError('body: must be {"separation": [rules as in scenario-v1]}')
    wrapper = {
        "type": "FeatureCollection",
        "features": [],
        "tansiq": {
            "version": 1,
            "parties": [{"id": "theater", "name": "theater", "lang": "en"}],
            "separation": document["separation"],
        },
    }
    try:
        return parse_scenario(json.dumps(wrapper)).separation
    except ScenarioInvalid as exc:
        raise ScenarioInvalid(
            [p.replace("tansiq.separation", "separation") for p in exc.problems],
            [(whose, m.replace("tansiq.separation", "separation")) for whose, m in exc.places],
        ) from None


def check_limits(rules: Sequence[SeparationRule]) -> None:
    """Refuse new rules beyond :data:`LIMITS`, each named (``separation[1].time_s``).
    Only rules being set are checked: a store's saved rules are read as they are, so
    that a server whose rules were set before the limits still starts."""
    beyond = [
        (f"separation[{index}].{name}", name, getattr(rule, name), limit)
        for index, rule in enumerate(rules)
        for name, limit in LIMITS.items()
        if getattr(rule, name) > limit
    ]
    if beyond:
        raise RuleBeyondLimits(
            [
                f"{member}: must be at most {int(limit)} ({_SAID[name]}),"
                f" got {format_number(value)}"  # exactly: 1000000.5 is not "1e+06"
                for member, name, value, limit in beyond
            ],
            [("", member) for member, *_ in beyond],
        )


def rules_json(rules: Sequence[SeparationRule]) -> list[dict[str, object]]:
    return [
        {
            "between": list(rule.between),
            "horizontal_m": rule.horizontal_m,
            "vertical_m": rule.vertical_m,
            "time_s": rule.time_s,
        }
        for rule in rules
    ]


def parse_lead_time(body: str | bytes) -> float:
    """The body's ``lead_time_h``: how many hours before a conflict's window its parties
    must have been told (0, the default, asks for none)."""
    try:
        value = json.loads(body).get("lead_time_h", 0.0)
    except (ValueError, AttributeError):
        return 0.0  # parse_rules words the refusal of a body that is not an object
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InputError("lead_time_h: must be a number of hours >= 0")
    if value > 24 * 365:
        raise InputError("lead_time_h: must be at most a year (8760 hours)")
    return float(value)


def expiry_horizon(now: float, rules: Sequence[SeparationRule]) -> float:
    """Volumes whose window ended before this instant have expired: they stop counting.

    A window is over at its end, but a time separation still applies after it (the
    theater's longest one, to be safe): until that has passed too, it still counts.
    """
    return now - max((rule.time_s for rule in rules), default=0.0)
