"""Drawing the overlap regions of conflicts between discs: as lenses vs by overlay.

    .venv/bin/python bench/regions.py [--conflicts 3000]

``--conflicts`` pairs of overlapping discs of 20-80 m in the load benchmark's
contested square kilometre, each a fresh pair of volumes (as a filing's are),
drawn by ``RegionDrawer`` as lenses (``engine/lens.py``, what the service does)
and by buffers and GEOS's overlay (what it did, and still does for any other
footprint); then both regions drawn and written as the GeoJSON text the service
stores, from the lenses' rings (what it does) and from shapely polygons (what it
did), and the lenses' rings alone (``rings_us``); and a conflict's extent taken
from its two rings, by the compiled pass the service uses (``extent_us``,
``engine.lens.rings_bounds``) and by numpy's reductions (``extent_numpy_us``, what
it did first). Best of 5, microseconds per conflict (both regions).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable

import numpy as np
import shapely
from pyproj import Geod

from results import best_of, write_json
from tansiq.engine.lens import rings_bounds
from tansiq.engine.region import RegionDrawer
from tansiq.scenario.model import Volume
from tansiq.service.geojson_text import region_geojson, ring_geojson

GEOD = Geod(ellps="WGS84")


def disc(name: str, lon: float, lat: float, radius: float) -> Volume:
    return Volume(name, name, "convoy", shapely.Point(lon, lat), radius, 0, 100, 0, 10, {})


def pairs_of(count: int, seed: int = 1) -> list[tuple[Volume, Volume]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        lon, lat = 40.14 + rng.random() * 0.011, 35.33 + rng.random() * 0.009
        ra, rb = rng.uniform(20, 80), rng.uniform(20, 80)
        lon_b, lat_b, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), rng.uniform(0, 0.95 * (ra + rb)))
        out.append((disc("a", lon, lat, ra), disc("b", float(lon_b), float(lat_b), rb)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conflicts", type=int, default=3000)
    args = parser.parse_args()
    pairs = pairs_of(args.conflicts)

    def drawing(lenses: bool) -> Callable[[], None]:
        def draw() -> None:
            drawer = RegionDrawer(lenses=lenses)
            for a, b in pairs:
                drawer.regions(a, b, 0.0)

        return draw

    def writing(from_rings: bool) -> Callable[[], None]:
        """Both regions drawn and written as GeoJSON text, as the service stores them:
        from the lenses' rings (what it does) or from shapely polygons (what it did)."""

        def write() -> None:
            drawer = RegionDrawer()
            for a, b in pairs:
                rings = drawer.lens_rings(a, b, 0.0) if from_rings else None
                if rings is not None:
                    ring_geojson(rings[0]), ring_geojson(rings[1])
                else:
                    first, second = drawer.regions(a, b, 0.0)
                    region_geojson(first), region_geojson(second)

        return write

    drawing(True)()  # compiled once
    writing(True)()
    lens = best_of(5, drawing(True))
    overlay = best_of(5, drawing(False))
    def ringing() -> None:
        drawer = RegionDrawer()
        for a, b in pairs:
            drawer.lens_rings(a, b, 0.0)

    rings = best_of(5, ringing)
    drawer = RegionDrawer()
    lens_rings = [r for a, b in pairs if (r := drawer.lens_rings(a, b, 0.0)) is not None]

    def compiled_extents() -> None:
        for first, second in lens_rings:
            rings_bounds(first, second)

    def numpy_extents() -> None:
        for first, second in lens_rings:
            np.minimum(first.min(axis=0), second.min(axis=0))
            np.maximum(first.max(axis=0), second.max(axis=0))

    compiled_extents()  # compiled once
    extent = best_of(5, compiled_extents)
    extent_numpy = best_of(5, numpy_extents)
    rings_text = best_of(5, writing(True))
    polygons_text = best_of(5, writing(False))
    result = {
        "conflicts": args.conflicts,
        "lens_us": lens / args.conflicts * 1e6,
        "overlay_us": overlay / args.conflicts * 1e6,
        "ratio": lens / overlay,
        "rings_us": rings / args.conflicts * 1e6,
        "written_from_rings_us": rings_text / args.conflicts * 1e6,
        "written_from_polygons_us": polygons_text / args.conflicts * 1e6,
        "written_ratio": rings_text / polygons_text,
        "extent_us": extent / len(lens_rings) * 1e6,
        "extent_numpy_us": extent_numpy / len(lens_rings) * 1e6,
    }
    print(json.dumps(result, indent=1))
    write_json("regions", result)


if __name__ == "__main__":
    main()
