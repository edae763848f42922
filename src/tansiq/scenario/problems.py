"""Collecting the problems of a scenario file, and saying what a value is.

The reader does not stop at the first broken rule: every check appends a line to
a :class:`Problems` and carries on, and the file is refused once, with all of
them. Each line names where the problem is (``feature 'ru-strike-7':
properties.altitude_m``) and the rule it breaks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_MAX_SHOWN_CHARS = 60


@dataclass(frozen=True, slots=True)
class NonFinite:
    """Stands in for a JSON ``NaN``, ``Infinity`` or out-of-range number while the file is parsed.

    The reader reports every one of them with its place in the file; the checks
    that meet one skip it silently, so it is reported once.
    """

    token: str


@dataclass(slots=True)
class Problems:
    """The problems found so far; ``prefix`` says whose they are (``"feature 'x': "``)."""

    prefix: str = ""
    lines: list[str] = field(default_factory=list)
    #: (whose, member) of each line: ``("feature 'x'", "properties.start")``
    places: list[tuple[str, str]] = field(default_factory=list)

    def add(self, member: str, rule: str) -> None:
        """Record that ``member`` (a path such as ``properties.start``) breaks ``rule``."""
        where = f"{member}: " if member else ""
        self.lines.append(f"{self.prefix}{where}{rule}")
        self.places.append((self.prefix.removesuffix(": "), member))

    def for_prefix(self, prefix: str) -> Problems:
        """Problems that go to the same list under another prefix."""
        return Problems(prefix, self.lines, self.places)

    def __len__(self) -> int:
        return len(self.lines)


def quote(text: str) -> str:
    """``text`` between single quotes, on one line, shortened if it is long."""
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "…"
    shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return f"'{shown}'"


def format_number(value: float) -> str:
    """A number as a person would write it: ``9000`` rather than ``9000.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def describe(value: object) -> str:
    """What a JSON value is, for a message: ``string '3000'``, ``number 7``, ``list of 3``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {format_number(value)}"
    if isinstance(value, NonFinite):
        return value.token
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, list):
        return f"list of {len(value)}"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def format_path(path: tuple[str | int, ...]) -> str:
    """``("properties", "altitude_m", 1)`` as ``properties.altitude_m[1]``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


class Skip(Exception):
    """A value is unusable and its problem is already recorded (or is a NaN reported elsewhere)."""


def require(mapping: dict[str, object], key: str, member: str, problems: Problems) -> object:
    """``mapping[key]``, or record that ``member`` is missing and raise :class:`Skip`."""
    if key not in mapping:
        problems.add(member, "missing")
        raise Skip
    return mapping[key]


def read_number(value: object, member: str, problems: Problems) -> float:
    """``value`` as a finite float, or record why it is not one and raise :class:`Skip`.

    Booleans are never numbers, and a NaN or infinity was already reported where
    the file was parsed.
    """
    if isinstance(value, NonFinite):
        raise Skip
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(member, f"must be a number, got {describe(value)}")
        raise Skip
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        problems.add(member, "is too large (NaN or infinite numbers are not allowed)")
        raise Skip
    return number


def read_non_negative(value: object, member: str, problems: Problems) -> float:
    """Like :func:`read_number`, and the number must be >= 0."""
    number = read_number(value, member, problems)
    if number < 0:
        problems.add(member, f"must be >= 0, got {format_number(number)}")
        raise Skip
    return number


def read_string(value: object, member: str, problems: Problems, *, non_empty: bool) -> str:
    """``value`` as a string (non-empty if asked), or record why not and raise :class:`Skip`."""
    if isinstance(value, NonFinite):
        raise Skip
    if not isinstance(value, str):
        problems.add(member, f"must be a string, got {describe(value)}")
        raise Skip
    if non_empty and not value.strip():
        problems.add(member, "must be a non-empty string")
        raise Skip
    if not is_text(value):
        problems.add(member, NOT_TEXT)
        raise Skip
    return value


def read_name(value: object, member: str, problems: Problems) -> str:
    """``value`` as a feature's id or a kind (:func:`name_problem`), or record why not
    and raise :class:`Skip`."""
    name = read_string(value, member, problems, non_empty=True)
    why = name_problem(name)
    if why is not None:
        problems.add(member, why)
        raise Skip
    return name


#: why a string is refused as a name, an id or a kind
NOT_TEXT = "is not Unicode text (it holds a lone surrogate)"

#: the longest feature id or kind read, in characters (decided: docs/scenario-format.md)
MAX_NAME_LENGTH = 256
#: a control character: it can rewrite what a terminal shows
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a feature's id or a kind (None: it can). Both are
    copied into every conflict, event and table that names the feature, and shown
    on operators' screens: a control character there can rewrite what a terminal
    shows, or order ids unlike the rest of the system (a NUL), and an id of a
    megabyte is copied into every row (a reviewer filed one)."""
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value):,} characters long; at most {MAX_NAME_LENGTH} are allowed"
    return control_problem(value)


def control_problem(value: str) -> str | None:
    """Why ``value`` cannot be shown on an operator's screen (None: it can): a control
    character (U+0000-U+001F, U+007F-U+009F) can rewrite what a terminal shows."""
    control = CONTROL.search(value)
    if control is not None:
        return f"holds the control character U+{ord(control.group()):04X}"
    return None


def is_text(value: str) -> bool:
    """Storable text. JSON's ``\\ud800`` escapes (and undecodable command-line bytes)
    make lone surrogates, which Python strings hold and UTF-8, SQLite and pydantic
    refuse: a feature id or kind holding one was accepted, then failed to be
    stored, a bare 500 (found by a second reviewer). Free text (a note) is kept as
    filed, in the body, which is stored as JSON."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
