"""RFC 3339 date-times with an offset, as seconds since the Unix epoch.

``datetime.fromisoformat`` accepts more than RFC 3339 (no offset, week dates,
``+0100``) and less (a leap second, year 0), so the grammar of RFC 3339 §5.6 is
matched here by hand:

    2017-09-16T04:00:00Z   2017-09-16t04:00:00.25+03:00   2017-09-16 04:00:00-00:00

``T`` may be ``t`` or a space (§5.6, note), ``Z`` may be ``z``, fractional
seconds may have any number of digits, and a leap second ``:60`` is taken as the
next second (POSIX time has no leap seconds).
"""

from __future__ import annotations

import re
from fractions import Fraction

_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))?"
)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_SECONDS_PER_DAY = 86_400
EXAMPLE = "2017-09-16T04:00:00Z"


class TimestampError(ValueError):
    """A string is not an RFC 3339 date-time with an offset; the message says why."""


def parse_rfc3339(text: str) -> float:
    """Seconds since 1970-01-01T00:00:00Z of ``text``; :class:`TimestampError` if it is not one."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise TimestampError(f"is a date without a time (needs a date-time, e.g. {EXAMPLE})")
        raise TimestampError(f"is not an RFC 3339 date-time (e.g. {EXAMPLE})")
    if match["offset"] is None:
        raise TimestampError("has no UTC offset (RFC 3339 needs Z or ±HH:MM at the end)")
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    _check_ranges(year, month, day, hour, minute, second)
    seconds = (
        _days_from_civil(year, month, day) * _SECONDS_PER_DAY
        + hour * 3600
        + minute * 60
        + second  # 60, a leap second, runs into the next minute: the next second
        - _offset_seconds(match)
    )
    exact = Fraction(seconds)
    if match["fraction"]:
        exact += Fraction(int(match["fraction"][1:]), 10 ** (len(match["fraction"]) - 1))
    return float(exact)


def _check_ranges(year: int, month: int, day: int, hour: int, minute: int, second: int) -> None:
    if not 1 <= month <= 12:
        raise TimestampError(f"has month {month:02d}; a month is 01 to 12")
    last_day = _days_in_month(year, month)
    if not 1 <= day <= last_day:
        raise TimestampError(f"has day {day:02d}; {year:04d}-{month:02d} has days 01 to {last_day}")
    if hour > 23:
        raise TimestampError(f"has hour {hour:02d}; an hour is 00 to 23")
    if minute > 59:
        raise TimestampError(f"has minute {minute:02d}; a minute is 00 to 59")
    if second > 60:
        raise TimestampError(f"has second {second:02d}; a second is 00 to 60")


def _offset_seconds(match: re.Match[str]) -> int:
    if match["sign"] is None:  # Z
        return 0
    off_hour, off_minute = int(match["off_hour"]), int(match["off_minute"])
    if off_hour > 23 or off_minute > 59:
        raise TimestampError(f"has offset {match['offset']}; an offset is -23:59 to +23:59")
    offset = off_hour * 3600 + off_minute * 60
    return -offset if match["sign"] == "-" else offset


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468
