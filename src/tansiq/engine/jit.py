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
    """Compile ``func`` in nopython mode (no Python objects, no GIL needed).

    If no cache directory can be written (a read-only install and no writable
    home: numba refuses ``cache=True`` outright), compile without a cache: every
    process then pays the few seconds of compiling, but Tansiq still runs.
    """
    try:
        return cast(F, numba.njit(cache=True, nogil=True)(func))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, nogil=True)(func))
