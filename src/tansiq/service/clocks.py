"""The service's clocks: real time, or an exercise clock that starts at a chosen instant.

Expiry and every stamp (filed, opened, acknowledged) are read from the theater's
clock. An exercise or a replay of past events (the 2017 sample theater) runs the
clock from its own start, at real speed, so that its operations have not expired.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def real_time() -> float:
    return time.time()


def exercise_clock(start: float) -> Clock:
    """A clock that reads ``start`` now and runs at real speed from there."""
    offset = start - time.time()

    def now() -> float:
        return time.time() + offset

    return now
