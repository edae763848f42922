"""A zone's rules: the notice an operation entering it must give, and who may not enter.

Read from a zone feature's properties (``notice_h``, ``no_entry``); checked when a
zone is filed, and before ``tansiq load`` sends anything (it must not leave a
scenario half-filed for a rule the server would refuse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tansiq.errors import InputProblems


@dataclass(frozen=True, slots=True)
class ZoneRules:
    """A zone's rules, from its features' properties: ``notice_h`` (hours of notice an
    operation entering it must give) and ``no_entry`` (``"all"`` or the parties that may
    not enter)."""

    notice_s: float | None
    no_entry: str | tuple[str, ...]


def zone_rules(properties: Mapping[str, Any]) -> ZoneRules:
    notice = properties.get("notice_h")
    barred = properties.get("no_entry", ())
    return ZoneRules(
        None if notice is None else float(notice) * 3600.0,
        "all" if barred == "all" else tuple(barred),
    )


def check_zone_rules(features: list[Any]) -> None:
    """Refuse zone rules that are not ``notice_h: number >= 0``, ``no_entry: "all" | [ids]``."""
    problems: list[str] = []
    places: list[tuple[str, str]] = []

    def refuse(fid: object, member: str, rule: str) -> None:
        problems.append(f"feature {fid!r}: {member}: {rule}")
        places.append((f"feature {fid!r}", member))

    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            continue
        fid = feature.get("id")
        notice = props.get("notice_h")
        if notice is not None and (
            isinstance(notice, bool) or not isinstance(notice, int | float) or notice < 0
        ):
            refuse(fid, "properties.notice_h", "must be a number of hours >= 0")
        barred = props.get("no_entry")
        if barred is not None and barred != "all" and not (
            isinstance(barred, list) and all(isinstance(p, str) for p in barred)
        ):
            refuse(fid, "properties.no_entry", 'must be "all" or a list of party ids')
    if problems:
        raise InputProblems(problems, places)
