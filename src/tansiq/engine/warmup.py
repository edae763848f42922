"""The engine's compiled kernels made ready before the first real change needs them.

numba compiles a kernel the first time it is called with a new kind of argument
(or loads it from its cache next to the module). Left to the first filing, that
filing waited: about 140 ms with a warm cache, and several seconds on a machine
whose cache is still empty (a fresh install, a read-only one). :func:`warm_up`
runs the service's own path (footprints, the index's check, both ways of drawing
an overlap region) on a handful of made-up volumes, so that a server answers
its first filing as fast as its thousandth. It is pure: nothing is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from tansiq.engine.boxindex import TAIL, BoxIndex
from tansiq.engine.index import ConflictIndex
from tansiq.engine.lens import rings_bounds, turns_left_once
from tansiq.engine.region import RegionDrawer
from tansiq.scenario.model import SeparationRule, Volume

#: far from any pole and from the antimeridian; the shapes overlap one another
_LON, _LAT = 40.0, 35.0
_HOUR = 3600.0


def _volumes() -> list[Volume]:
    def volume(name: str, party: str, geometry: shapely.Geometry, buffer_m: float) -> Volume:
        return Volume(name, party, "convoy", geometry, buffer_m, 0.0, 500.0, 0.0, _HOUR, {})

    square = shapely.box(_LON - 0.01, _LAT - 0.01, _LON + 0.01, _LAT + 0.01)
    road = shapely.LineString([(_LON - 0.02, _LAT), (_LON + 0.02, _LAT + 0.001)])
    return [
        volume("w/0", "a", shapely.Point(_LON, _LAT), 500.0),
        volume("w/1", "b", shapely.Point(_LON + 0.004, _LAT), 400.0),  # a lens with w/0
        volume("w/2", "c", square, 0.0),  # polygon against discs: drawn by overlay
        volume("w/3", "d", road, 50.0),  # a buffered line against all of them
        volume(
            "w/4",
            "e",
            shapely.MultiPolygon(
                [square, shapely.box(_LON + 0.012, _LAT, _LON + 0.02, _LAT + 0.008)]
            ),
            0.0,
        ),
    ]


def warm_up(separation: Sequence[SeparationRule] = ()) -> int:
    """Run every kernel a filing runs, once; return the number of conflicts found
    (six: each way of drawing a region is reached)."""
    index = ConflictIndex(separation)
    drawer = RegionDrawer()
    found = 0
    for volume in _volumes():
        for conflict in index.check(volume, ended_before=0.0):
            pair = (conflict.volume_a, conflict.volume_b, conflict.horizontal_m)
            drawer.regions(*pair)
            lenses = drawer.lens_rings(*pair)
            for ring in lenses or ():
                turns_left_once(np.round(ring, 7))  # as service/geojson_text writes a lens
            if lenses is not None:
                rings_bounds(*lenses)  # a conflict's extent, as the theater takes it
            found += 1
        index.add_many([volume], index.footprints_of([volume]))
    index.remove("w/0")
    # those few stay in the index's tail; a restored theater's volumes are in packed
    # trees, whose walk is a kernel of its own
    tree = BoxIndex()
    lo = np.zeros((TAIL, 4))
    tree.insert_many(np.arange(TAIL, dtype=np.int64), lo, lo + 1.0)
    tree.query(lo[0], lo[0] + 1.0)
    return found
