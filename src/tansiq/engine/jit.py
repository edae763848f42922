"""numba's ``njit``, typed for mypy and cached on disk.

The exact stage judges pairs one at a time in loops that numpy cannot express
without a dozen array passes per step; numba compiles those loops. ``cache=True``
keeps the machine code next to the module, so only the first run on a machine pays
for compiling (a few seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., object])


def jit(func: F) -> F:
    """Compile ``func`` in nopython mode (no Python objects, no GIL needed)."""
    return cast(F, numba.njit(cache=True, nogil=True, fastmath=False)(func))
