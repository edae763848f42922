"""Reading a scenario file (``scenario-v1``) into a :class:`~tansiq.scenario.model.Scenario`.

The validator is written by hand rather than generated from a JSON Schema
because the spec asks for things a schema validator does not give: every
problem of the file at once, one line each, naming the feature by its id
(``feature 'ru-strike-7': properties.altitude_m: lower 9000 is above upper 100``)
and the rule in words a GIS user reads; and rules that are not about JSON types
(unique ids, parties that must be listed, RFC 3339 offsets, polygon validity,
geodesic size). Every check records its problem and carries on; the file is
refused as a whole, with all of them, or returned whole.

JSON ``NaN``/``Infinity`` and numbers too large for a float are parsed into a
:class:`~tansiq.scenario.problems.NonFinite` marker and reported where they are;
a member given twice in one object is refused too (which one would count?).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import shapely

from tansiq.errors import ScenarioInvalid, ScenarioUnreadable
from tansiq.scenario.geometry_checks import check_geometry
from tansiq.scenario.geometry_size import MAX_ACROSS_M, across_if_too_large
from tansiq.scenario.model import (
    UNBOUNDED_HIGH,
    UNBOUNDED_LOW,
    Party,
    Scenario,
    SeparationRule,
    Volume,
)
from tansiq.scenario.problems import (
    NOT_TEXT,
    NonFinite,
    Problems,
    Skip,
    describe,
    format_number,
    format_path,
    is_text,
    quote,
    read_name,
    read_non_negative,
    read_number,
    read_string,
    require,
)
from tansiq.scenario.timestamps import EXAMPLE, TimestampError, parse_rfc3339

T = TypeVar("T")
JsonPath = tuple[str | int, ...]

SUPPORTED_VERSION = 1
# A BCP 47 tag, loosely: a 2-3 letter language, then subtags (en, ar, ru, zh-Hant, sr-Latn-RS).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", re.ASCII)
_SEPARATION_MEMBERS = ("between", "horizontal_m", "vertical_m", "time_s")


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check the scenario file at ``path``.

    Raises :class:`ScenarioUnreadable` (naming the path) if the file cannot be
    read or is not UTF-8 JSON, and :class:`ScenarioInvalid` if it breaks the spec.
    """
    shown = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioUnreadable(f"cannot read {shown}: {exc.strerror or exc}") from exc
    try:
        return parse_scenario(data)
    except ScenarioUnreadable as exc:
        raise ScenarioUnreadable(f"{shown}: {exc}") from exc


def parse_scenario(
    text: str | bytes,
    amend: Callable[[dict[str, Any]], None] | None = None,
    *,
    names_checked: bool = True,
) -> Scenario:
    """Check a scenario given as JSON text (``bytes`` must be UTF-8) and return it.

    Raises :class:`ScenarioUnreadable` if it is not JSON, and
    :class:`ScenarioInvalid` with every problem found if it breaks the spec.

    ``amend``, if given, is called with the parsed top-level object (if it is one)
    before it is checked: the service adds the filing party's header this way, so a
    filing is parsed once, by this strict parser (repeated members, NaN).

    ``names_checked=False`` reads ids and kinds that are no longer allowed as names
    (:func:`~tansiq.scenario.problems.name_problem`; decided on 2026-12-02): for a
    body stored before, which must stay readable.
    """
    parsed = _parse_json(text)
    if amend is not None and isinstance(parsed.document, dict):
        amend(parsed.document)
    problems = Problems()
    scenario = _check_document(parsed, problems, names_checked)
    if problems.lines or scenario is None:
        raise ScenarioInvalid(problems.lines, problems.places)
    return scenario


# --- JSON ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ParsedJson:
    document: object
    # id() of each object that had a member twice -> (the object, those members' names);
    # the object is kept so that its id is not reused by another (an amend may drop it)
    duplicate_members: dict[int, tuple[object, list[str]]]
    has_non_finite: bool


def _decode(text: str | bytes) -> str:
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = text[exc.start]
        raise ScenarioUnreadable(
            f"not UTF-8 text: byte 0x{bad:02x} at offset {exc.start} cannot be decoded"
        ) from None


def _parse_json(text: str | bytes) -> _ParsedJson:
    decoded = _decode(text)
    if not decoded.strip():
        raise ScenarioUnreadable("not valid JSON: the file is empty")
    parsed = _ParsedJson(None, {}, has_non_finite=False)

    def object_from_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            repeated = []
            for key, _ in pairs:
                if key in seen:
                    repeated.append(key)
                seen.add(key)
            parsed.duplicate_members[id(obj)] = (obj, repeated)
        return obj

    def non_finite(token: str) -> NonFinite:
        parsed.has_non_finite = True
        return NonFinite(token)

    def parse_float(token: str) -> float | NonFinite:
        number = float(token)
        return number if math.isfinite(number) else non_finite(token)

    try:
        parsed.document = json.loads(
            decoded,
            object_pairs_hook=object_from_pairs,
            parse_float=parse_float,
            parse_constant=non_finite,
        )
    except json.JSONDecodeError as exc:
        raise ScenarioUnreadable(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise ScenarioUnreadable("not usable JSON: it is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ScenarioUnreadable(f"not usable JSON: {exc}") from None
    return parsed


def _json_oddities(parsed: _ParsedJson) -> list[tuple[JsonPath, str]]:
    """Every NaN/infinite number and every repeated member, with where it is, in file order."""
    if not parsed.has_non_finite and not parsed.duplicate_members:
        return []
    found: list[tuple[JsonPath, str]] = []
    stack: list[tuple[JsonPath, object]] = [((), parsed.document)]
    while stack:  # depth first, without recursion: json already accepted the nesting
        path, value = stack.pop()
        if isinstance(value, NonFinite):
            found.append((path, f"NaN or infinite numbers are not allowed (got {value.token})"))
        elif isinstance(value, dict):
            for key in parsed.duplicate_members.get(id(value), (None, []))[1]:
                found.append((path, f"member {quote(key)} is given twice; members must be unique"))
            stack.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return found


# --- the file --------------------------------------------------------------------------------


def _check_document(
    parsed: _ParsedJson, problems: Problems, names_checked: bool = True
) -> Scenario | None:
    document = parsed.document
    if isinstance(document, dict):
        _check_collection_type(document, problems)
    oddities = _json_oddities(parsed)
    features = document.get("features") if isinstance(document, dict) else None
    by_feature: dict[int, list[tuple[str, str]]] = {}
    for path, rule in oddities:
        if isinstance(features, list) and len(path) >= 2 and path[:1] == ("features",):
            index = path[1]
            assert isinstance(index, int)
            by_feature.setdefault(index, []).append((format_path(path[2:]), rule))
        else:
            problems.add(format_path(path) or "top level", rule)

    if not isinstance(document, dict):
        if not isinstance(document, NonFinite):
            problems.add(
                "",
                "the file is not a GeoJSON FeatureCollection: "
                f"its top level is {describe(document)}, not an object",
            )
        return None
    header = _check_tansiq(document, problems)
    volumes = _check_features(document, header, by_feature, problems, names_checked)
    if header is None or volumes is None:
        return None
    return Scenario(
        name=header.name,
        parties=header.parties,
        separation=header.separation,
        volumes=tuple(volumes),
        version=SUPPORTED_VERSION,
    )


def _check_collection_type(document: dict[str, object], problems: Problems) -> None:
    expected = 'must be "FeatureCollection" (a scenario is a GeoJSON FeatureCollection)'
    if "type" not in document:
        problems.add("type", f"missing; {expected}")
    elif document["type"] != "FeatureCollection":
        problems.add("type", f"{expected}, got {describe(document['type'])}")


# --- the tansiq member -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    """What the ``tansiq`` member gives; ``party_ids`` is ``None`` when no parties are usable."""

    name: str
    parties: tuple[Party, ...]
    separation: tuple[SeparationRule, ...]
    party_ids: frozenset[str] | None


def _check_tansiq(document: dict[str, object], problems: Problems) -> _Header | None:
    """The ``tansiq`` member, or ``None`` if it is unusable; problems are recorded either way."""
    if "tansiq" not in document:
        problems.add("tansiq", "missing (the member that holds version, parties and separation)")
        return None
    member = document["tansiq"]
    if not isinstance(member, dict):
        if not isinstance(member, NonFinite):
            problems.add("tansiq", f"must be an object, got {describe(member)}")
        return None
    _check_version(member, problems)
    name = _attempt(
        lambda: read_string(member.get("name", ""), "tansiq.name", problems, non_empty=False),
        default="",
    )
    parties = _check_parties(member, problems)
    separation = _check_separation(member, problems)
    party_ids = frozenset(party.id for party in parties) if parties else None
    return _Header(name, parties, separation, party_ids)


def _check_version(member: dict[str, object], problems: Problems) -> None:
    if "version" not in member:
        problems.add("tansiq.version", f"missing (must be {SUPPORTED_VERSION})")
        return
    version = member["version"]
    if isinstance(version, NonFinite):
        return
    if isinstance(version, bool) or not isinstance(version, int):
        problems.add("tansiq.version", f"must be the integer 1, got {describe(version)}")
    elif version != SUPPORTED_VERSION:
        problems.add(
            "tansiq.version", f"unsupported version {version}; this reader knows version 1"
        )


def _check_parties(member: dict[str, object], problems: Problems) -> tuple[Party, ...]:
    """The usable parties (each with a valid id), recording every problem of the list."""
    if "parties" not in member:
        problems.add("tansiq.parties", "missing (a list of parties: {id, name, lang})")
        return ()
    value = member["parties"]
    if not isinstance(value, list) or not value:
        if not isinstance(value, NonFinite):
            problems.add(
                "tansiq.parties",
                f"must be a non-empty list of parties ({{id, name, lang}}), got {describe(value)}",
            )
        return ()
    parties: list[Party] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(value):
        party = _check_party(entry, f"tansiq.parties[{index}]", problems)
        if party is None:
            continue
        if party.id in first_index:
            problems.add(
                f"tansiq.parties[{index}].id",
                f"duplicate party id {quote(party.id)} "
                f"(tansiq.parties[{first_index[party.id]}] has it too)",
            )
            continue
        first_index[party.id] = index
        parties.append(party)
    return tuple(parties)


def _check_party(entry: object, member: str, problems: Problems) -> Party | None:
    """One party; ``None`` if its id is unusable (its other problems are recorded)."""
    if not isinstance(entry, dict):
        if not isinstance(entry, NonFinite):
            problems.add(member, f"must be an object {{id, name, lang}}, got {describe(entry)}")
        return None
    party_id = _attempt(lambda: _string(entry, "id", member, problems), default=None)
    name = _attempt(lambda: _string(entry, "name", member, problems, may_be_empty=True), default="")
    lang = _attempt(lambda: _language_tag(entry, member, problems), default="")
    if party_id is None:
        return None
    return Party(id=party_id, name=name, lang=lang)


def _language_tag(entry: dict[str, object], member: str, problems: Problems) -> str:
    lang = _string(entry, "lang", member, problems)
    if not _LANGUAGE_TAG.fullmatch(lang):
        problems.add(
            f"{member}.lang", f"{quote(lang)} is not a BCP 47 language tag (en, ar, ru, zh-Hant...)"
        )
        raise Skip
    return lang


def _check_separation(member: dict[str, object], problems: Problems) -> tuple[SeparationRule, ...]:
    """The separation rules; absent means none (every minimum is 0)."""
    value = member.get("separation", [])
    if not isinstance(value, list):
        if not isinstance(value, NonFinite):
            problems.add("tansiq.separation", f"must be a list of rules, got {describe(value)}")
        return ()
    rules: list[SeparationRule] = []
    for index, entry in enumerate(value):
        with contextlib.suppress(Skip):  # its problems are recorded
            rules.append(_separation_rule(entry, f"tansiq.separation[{index}]", problems))
    return tuple(rules)


def _separation_rule(entry: object, member: str, problems: Problems) -> SeparationRule:
    if not isinstance(entry, dict):
        if not isinstance(entry, NonFinite):
            problems.add(
                member, f"must be an object {{between, horizontal_m, ...}}, got {describe(entry)}"
            )
        raise Skip
    # A misspelt minimum ("horizontal": 3000) would silently be 0: refuse unknown members.
    for key in entry:
        if key not in _SEPARATION_MEMBERS:
            problems.add(
                member,
                f"unknown member {quote(key)} "
                "(a rule has between, horizontal_m, vertical_m, time_s)",
            )
    attempts = _Attempts()
    between = attempts(lambda: _between(entry, f"{member}.between", problems), default=("", ""))
    horizontal = attempts(lambda: _minimum(entry, "horizontal_m", member, problems), default=0.0)
    vertical = attempts(lambda: _minimum(entry, "vertical_m", member, problems), default=0.0)
    time = attempts(lambda: _minimum(entry, "time_s", member, problems), default=0.0)
    if attempts.failed:
        raise Skip
    return SeparationRule(between, horizontal_m=horizontal, vertical_m=vertical, time_s=time)


def _minimum(entry: dict[str, object], key: str, member: str, problems: Problems) -> float:
    """A minimum of a rule: a number >= 0, and 0 when it is missing."""
    return read_non_negative(entry.get(key, 0), f"{member}.{key}", problems)


def _between(entry: dict[str, object], member: str, problems: Problems) -> tuple[str, str]:
    value = require(entry, "between", member, problems)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(kind, str) and kind.strip() for kind in value)
    ):
        problems.add(
            member,
            'must be a list of exactly 2 kinds (non-empty strings, "*" for any), '
            f"got {describe(value)}",
        )
        raise Skip
    if not all(is_text(kind) for kind in value):
        problems.add(member, NOT_TEXT)
        raise Skip
    return value[0], value[1]


# --- the features ----------------------------------------------------------------------------


def _check_features(
    document: dict[str, object],
    header: _Header | None,
    oddities: dict[int, list[tuple[str, str]]],
    problems: Problems,
    names_checked: bool = True,
) -> list[Volume] | None:
    """The volumes, or ``None`` if any feature is unusable; problems are recorded either way."""
    if "features" not in document:
        problems.add("features", "missing (a FeatureCollection has a list of features)")
        return None
    features = document["features"]
    if not isinstance(features, list):
        if not isinstance(features, NonFinite):
            problems.add("features", f"must be a list of features, got {describe(features)}")
        return None
    party_ids = header.party_ids if header is not None else None
    seen_ids: dict[str, int] = {}
    volumes: list[Volume] = []
    for index, feature in enumerate(features):
        feature_problems = problems.for_prefix(f"{_label(index, feature)}: ")
        for member, rule in oddities.get(index, []):
            feature_problems.add(member, rule)
        volume = _check_feature(
            index, feature, party_ids, seen_ids, feature_problems, names_checked
        )
        if volume is not None:
            volumes.append(volume)
    return volumes if len(volumes) == len(features) else None


def _label(index: int, feature: object) -> str:
    """``feature 'ID'`` for a feature with a usable id, else ``feature #N`` (0-based)."""
    if isinstance(feature, dict):
        feature_id = feature.get("id")
        if isinstance(feature_id, str) and feature_id.strip():
            return f"feature {quote(feature_id)}"
    return f"feature #{index}"


def _check_feature(
    index: int,
    feature: object,
    party_ids: frozenset[str] | None,
    seen_ids: dict[str, int],
    problems: Problems,
    names_checked: bool = True,
) -> Volume | None:
    """The volume of one feature, or ``None`` if it breaks a rule (every problem is recorded)."""
    if not isinstance(feature, dict):
        if not isinstance(feature, NonFinite):
            problems.add("", f"must be a GeoJSON Feature object, got {describe(feature)}")
        return None
    if feature.get("type") != "Feature" and not isinstance(feature.get("type"), NonFinite):
        got = f", got {describe(feature['type'])}" if "type" in feature else " (it is missing)"
        problems.add("type", f'must be "Feature"{got}')
    attempts = _Attempts()
    feature_id = attempts(
        lambda: _feature_id(feature, index, seen_ids, problems, names_checked), default=""
    )
    geometry = _feature_geometry(feature, problems)
    properties = _properties(feature, problems)
    if properties is None:
        return None
    party = attempts(lambda: _party(properties, party_ids, problems), default="")
    kind = attempts(
        lambda: _name(properties, "kind", "properties", problems, names_checked), default=""
    )
    buffer_m = attempts(lambda: _buffer(properties, geometry, problems), default=0.0)
    low, high = attempts(
        lambda: _altitudes(properties, problems), default=(UNBOUNDED_LOW, UNBOUNDED_HIGH)
    )
    start, end = attempts(
        lambda: _times(properties, problems), default=(UNBOUNDED_LOW, UNBOUNDED_HIGH)
    )
    if attempts.failed or geometry is None or feature.get("type") != "Feature":
        return None
    return Volume(
        id=feature_id,
        party=party,
        kind=kind,
        geometry=geometry,
        buffer_m=buffer_m,
        altitude_low=low,
        altitude_high=high,
        start=start,
        end=end,
        properties=dict(properties),
    )


def _feature_id(
    feature: dict[str, object],
    index: int,
    seen_ids: dict[str, int],
    problems: Problems,
    names_checked: bool = True,
) -> str:
    if "id" not in feature:
        problems.add("id", "missing (every feature needs a unique string id)")
        raise Skip
    feature_id = (
        read_name(feature["id"], "id", problems)
        if names_checked
        else read_string(feature["id"], "id", problems, non_empty=True)
    )
    if feature_id in seen_ids:
        problems.add(
            "id",
            f"duplicate id {quote(feature_id)}: features #{seen_ids[feature_id]} and #{index} "
            "both have it (ids must be unique)",
        )
        raise Skip
    seen_ids[feature_id] = index
    return feature_id


def _feature_geometry(feature: dict[str, object], problems: Problems) -> shapely.Geometry | None:
    if "geometry" not in feature:
        problems.add("", "has no geometry (the geometry member is missing)")
        return None
    if feature["geometry"] is None:
        problems.add("", "has no geometry (geometry is null)")
        return None
    return check_geometry(feature["geometry"], problems)


def _properties(feature: dict[str, object], problems: Problems) -> dict[str, object] | None:
    properties = feature.get("properties")
    if isinstance(properties, dict):
        return properties
    if "properties" not in feature:
        problems.add("properties", "missing (a feature needs at least party and kind)")
    elif properties is None:
        problems.add("properties", "is null (a feature needs at least party and kind)")
    elif not isinstance(properties, NonFinite):
        problems.add("properties", f"must be an object, got {describe(properties)}")
    return None


def _string(
    mapping: dict[str, object],
    key: str,
    parent: str,
    problems: Problems,
    *,
    may_be_empty: bool = False,
) -> str:
    """The required string member ``key`` of the object at ``parent`` (non-empty unless told)."""
    member = f"{parent}.{key}"
    value = require(mapping, key, member, problems)
    return read_string(value, member, problems, non_empty=not may_be_empty)


def _name(
    mapping: dict[str, object], key: str, parent: str, problems: Problems, names_checked: bool
) -> str:
    """The required member ``key`` as a name (:func:`read_name`), or as a non-empty
    string only when names are not checked."""
    if not names_checked:
        return _string(mapping, key, parent, problems)
    member = f"{parent}.{key}"
    return read_name(require(mapping, key, member, problems), member, problems)


def _party(
    properties: dict[str, object], party_ids: frozenset[str] | None, problems: Problems
) -> str:
    party = _string(properties, "party", "properties", problems)
    # Without a usable tansiq.parties, that problem is reported once, not once per feature.
    if party_ids is not None and party not in party_ids:
        problems.add("properties.party", f"unknown party {quote(party)} (not in tansiq.parties)")
        raise Skip
    return party


def _buffer(
    properties: dict[str, object], geometry: shapely.Geometry | None, problems: Problems
) -> float:
    """The footprint's distance around the geometry: ``radius_m`` of a Point, half ``width_m``.

    Both are checked wherever they are, but ``radius_m`` counts only on a Point
    and ``width_m`` only on a LineString: on another geometry (a ``radius_m`` on
    a Polygon, say) it is ignored and kept in ``properties`` untouched. A null
    is taken as absent, as GIS tools write null for an empty attribute.
    """
    attempts = _Attempts()
    radius = attempts(lambda: _optional_length(properties, "radius_m", problems), default=0.0)
    width = attempts(lambda: _optional_length(properties, "width_m", problems), default=0.0)
    if attempts.failed:
        raise Skip
    if isinstance(geometry, shapely.Point):
        _refuse_too_wide(geometry, radius, "properties.radius_m", problems)
        return radius
    if isinstance(geometry, shapely.LineString):
        _refuse_too_wide(geometry, width / 2, "properties.width_m", problems)
        return width / 2
    return 0.0


def _refuse_too_wide(
    geometry: shapely.Geometry, buffer_m: float, member: str, problems: Problems
) -> None:
    """The 2,000 km across counts the disc or corridor too (the spec is silent on it).

    A footprint is what a filing claims and what the others are shown of themselves
    in it: a site with a radius of 21,000 km conflicted with every operation on
    Earth, and showed its filer each one's party, kind, window and whole footprint
    (found by a second reviewer). The geometry's own size is checked before."""
    if buffer_m == 0.0:
        return
    room = MAX_ACROSS_M - 2.0 * buffer_m
    point = isinstance(geometry, shapely.Point)  # a disc's centre is nothing across
    across = None if room < 0.0 or point else across_if_too_large(geometry, room)
    if room < 0.0 or across is not None:
        total = 2.0 * buffer_m + (across or 0.0)
        size = f"{total / 1000:,.0f} km"
        if round(total / 1000) <= MAX_ACROSS_M / 1000:  # just over: say by how much
            size = f"{total:,.0f} m"
        problems.add(
            member,
            f"makes the footprint {size} across; the limit is"
            f" {MAX_ACROSS_M / 1000:,.0f} km, the disc or corridor included",
        )
        raise Skip


def _optional_length(properties: dict[str, object], key: str, problems: Problems) -> float:
    value = properties.get(key)
    if value is None:
        return 0.0
    return read_non_negative(value, f"properties.{key}", problems)


def _altitudes(properties: dict[str, object], problems: Problems) -> tuple[float, float]:
    """``altitude_m`` as (lower, upper); absent or null is the whole column."""
    value = properties.get("altitude_m")
    member = "properties.altitude_m"
    if value is None:
        return UNBOUNDED_LOW, UNBOUNDED_HIGH
    if isinstance(value, NonFinite):
        raise Skip
    if not isinstance(value, list) or len(value) != 2:
        problems.add(
            member, f"must be [lower, upper], a list of exactly 2 numbers, got {describe(value)}"
        )
        raise Skip
    attempts = _Attempts()
    lower = attempts(lambda: read_number(value[0], f"{member}[0]", problems), default=0.0)
    upper = attempts(lambda: read_number(value[1], f"{member}[1]", problems), default=0.0)
    if attempts.failed:
        raise Skip
    if lower > upper:
        problems.add(member, f"lower {format_number(lower)} is above upper {format_number(upper)}")
        raise Skip
    return lower, upper


def _times(properties: dict[str, object], problems: Problems) -> tuple[float, float]:
    """``start`` and ``end`` as seconds since the epoch; absent or null is unbounded."""
    attempts = _Attempts()
    start = attempts(
        lambda: _instant(properties, "start", UNBOUNDED_LOW, problems), default=UNBOUNDED_LOW
    )
    end = attempts(
        lambda: _instant(properties, "end", UNBOUNDED_HIGH, problems), default=UNBOUNDED_HIGH
    )
    if attempts.failed:
        raise Skip
    if end < start:
        problems.add(
            "properties.end",
            f"end {quote(str(properties['end']))} is before "
            f"start {quote(str(properties['start']))}",
        )
        raise Skip
    return start, end


def _instant(
    properties: dict[str, object], key: str, unbounded: float, problems: Problems
) -> float:
    value = properties.get(key)
    member = f"properties.{key}"
    if value is None:
        return unbounded
    if isinstance(value, NonFinite):
        raise Skip
    if not isinstance(value, str):
        problems.add(
            member,
            f"must be an RFC 3339 date-time string with an offset "
            f"(e.g. {EXAMPLE}), got {describe(value)}",
        )
        raise Skip
    try:
        return parse_rfc3339(value)
    except TimestampError as exc:
        problems.add(member, f"{quote(value)} {exc}")
        raise Skip from None


# --- plumbing --------------------------------------------------------------------------------


class _Attempts:
    """Runs checks that raise :class:`Skip`, remembering whether any did.

    Each check records its own problems; running them all (rather than stopping
    at the first) is what lists every problem of a feature.
    """

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, check: Callable[[], T], *, default: T) -> T:
        try:
            return check()
        except Skip:
            self.failed = True
            return default


def _attempt(check: Callable[[], T], *, default: T) -> T:
    """Run one check; ``default`` if it raised :class:`Skip` (its problem is recorded)."""
    return _Attempts()(check, default=default)
