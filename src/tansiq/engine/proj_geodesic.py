"""PROJ's ``geod_inverse`` (Karney's algorithm), callable from the compiled exact stage.

``pyproj.Geod.inv`` is the same C function behind a Python call that costs more
than the few distances one ``ConflictIndex.check`` needs. numba can call a C
function through ctypes; the function is passed to the compiled code as an
argument, so the machine code cached on disk holds no address of this process.

The library is the PROJ that pyproj itself loaded: found in the process's memory
map (Linux), else beside the pyproj package (wheels bundle it), else by name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np
import pyproj
import pyproj._geod

from tansiq.engine.geodesy import A, F

#: PROJ's struct geod_geodesic is 51 doubles; this leaves room
_STRUCT_DOUBLES = 128


def _library_path() -> str:
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            path = line.split()[-1] if line.split() else ""
            if "libproj" in Path(path).name:
                return path
    package = Path(pyproj.__file__).parent
    for folder in (package.parent / "pyproj.libs", package / ".dylibs", package):
        found = sorted(folder.glob("libproj*")) if folder.is_dir() else []
        if found:
            return str(found[0])
    named = ctypes.util.find_library("proj")
    if named is None:
        raise ImportError("tansiq: cannot find the PROJ library that pyproj uses")
    return named


_LIB = ctypes.CDLL(_library_path())
_LIB.geod_init.restype = None
_LIB.geod_init.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double]

#: geod_inverse(g, lat1, lon1, lat2, lon2, *s12, *azi1, *azi2)
GEOD_INVERSE = _LIB.geod_inverse
GEOD_INVERSE.restype = None
GEOD_INVERSE.argtypes = [ctypes.c_void_p] + [ctypes.c_double] * 4 + [ctypes.c_void_p] * 3

#: the WGS 84 ellipsoid, initialised by PROJ (pass as ``g`` to GEOD_INVERSE)
WGS84 = np.zeros(_STRUCT_DOUBLES)
_LIB.geod_init(WGS84.ctypes.data, A, F)
