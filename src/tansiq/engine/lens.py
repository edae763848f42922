"""Where two discs of a plane overlap, drawn from the two arcs that bound it.

Most conflicts in a contested area are between discs (a point and a radius): the
overlap region is then the lens where a disc meets the other's reach, itself a
disc. GEOS finds it by overlaying two 129-vertex polygons; the lens is two arcs
whose ends are where the circles cross, so it is drawn here directly, with
vertices no further apart than the buffers' (π/64), and exact where the circles
cross, where the overlaid polygons' chords are not. Why by hand: no library draws
a lens, and the overlay was most of a contested filing's region cost (both
regions of a conflict of two fresh 20-80 m discs: 47 µs this way, 205 µs by
buffers and overlay, ``bench/regions.py``).
"""

from __future__ import annotations

import math

import numpy as np

from tansiq.engine.geodesy import FloatArray
from tansiq.engine.jit import jit


@jit
def disc_lens(
    ax: float, ay: float, ra: float, bx: float, by: float, rb: float, step: float
) -> FloatArray:
    """The closed ring, counterclockwise, of where the disc of radius ``ra`` about
    (ax, ay) meets that of radius ``rb`` about (bx, by); no more than ``step``
    radians between vertices on either arc. A disc inside the other gives its whole
    circle; discs that do not meet, or only touch, give no positions (0 × 2)."""
    dx, dy = bx - ax, by - ay
    d = math.hypot(dx, dy)
    if d >= ra + rb:
        return np.empty((0, 2))
    if d + ra <= rb:
        return _arc(ax, ay, ra, 0.0, 2.0 * math.pi, step, True)
    if d + rb <= ra:
        return _arc(bx, by, rb, 0.0, 2.0 * math.pi, step, True)
    towards_b = math.atan2(dy, dx)
    half_a = math.acos(min(1.0, max(-1.0, (d * d + ra * ra - rb * rb) / (2.0 * d * ra))))
    half_b = math.acos(min(1.0, max(-1.0, (d * d + rb * rb - ra * ra) / (2.0 * d * rb))))
    # a's arc inside b, then b's arc inside a: the lens on the left of both, so
    # counterclockwise (each arc's end is the other's start, written once)
    on_a = _arc(ax, ay, ra, towards_b - half_a, towards_b + half_a, step, False)
    towards_a = towards_b + math.pi
    on_b = _arc(bx, by, rb, towards_a - half_b, towards_a + half_b, step, False)
    ring = np.empty((on_a.shape[0] + on_b.shape[0] + 1, 2))
    ring[: on_a.shape[0]] = on_a
    ring[on_a.shape[0] : -1] = on_b
    ring[-1] = on_a[0]
    return ring


@jit
def _arc(
    cx: float, cy: float, r: float, start: float, end: float, step: float, closed: bool
) -> FloatArray:
    """Positions on the circle from angle ``start`` to ``end`` (counterclockwise),
    evenly spaced no more than ``step`` apart; the last is left out unless ``closed``
    (then it is the first again, exactly)."""
    pieces = max(2, math.ceil((end - start) / step - 1e-9))
    out = np.empty((pieces + 1 if closed else pieces, 2))
    for k in range(pieces):
        angle = start + (end - start) * k / pieces
        out[k, 0], out[k, 1] = cx + r * math.cos(angle), cy + r * math.sin(angle)
    if closed:
        out[pieces] = out[0]
    return out


@jit
def turns_left_once(ring: FloatArray) -> bool:
    """Whether the closed ring turns left or runs straight on at every position and
    goes round exactly once: then it bounds a convex polygon, counterclockwise, so
    a valid one. A lens is convex; its positions rounded for writing (to a
    centimetre) stay so unless it is a sliver, and this proves it in one pass where
    GEOS's validity check took a third of a lens's cost. Repeated positions are
    passed over (GEOS accepts them); a turn back on itself is refused."""
    first_dx = first_dy = last_dx = last_dy = 0.0
    edges = 0
    turned = 0.0
    for i in range(ring.shape[0] - 1):
        dx, dy = ring[i + 1, 0] - ring[i, 0], ring[i + 1, 1] - ring[i, 1]
        if dx == 0.0 and dy == 0.0:
            continue
        if edges == 0:
            first_dx, first_dy = dx, dy
        else:
            cross, dot = last_dx * dy - last_dy * dx, last_dx * dx + last_dy * dy
            if cross < 0.0 or (cross == 0.0 and dot <= 0.0):
                return False
            turned += math.atan2(cross, dot)
        last_dx, last_dy = dx, dy
        edges += 1
    if edges < 3 or ring[0, 0] != ring[-1, 0] or ring[0, 1] != ring[-1, 1]:
        return False
    cross = last_dx * first_dy - last_dy * first_dx
    dot = last_dx * first_dx + last_dy * first_dy
    if cross < 0.0 or (cross == 0.0 and dot <= 0.0):
        return False
    turned += math.atan2(cross, dot)
    return abs(turned - 2.0 * math.pi) < 1e-6


@jit
def rings_bounds(ring_a: FloatArray, ring_b: FloatArray) -> tuple[float, float, float, float]:
    """The bounds (min x, min y, max x, max y) of two rings' positions together, in one
    pass: a conflict's two lenses give its extent so (``tansiq.store.extents``), where
    eight numpy reductions took 17.6 µs a conflict (bench/regions.py, 0.76 here). A
    position that is not a number makes them all NaN (no extent: the regions are
    then read), as numpy's reductions did; ``min`` here would pass it over."""
    west = south = math.inf
    east = north = -math.inf
    for ring in (ring_a, ring_b):
        for i in range(ring.shape[0]):
            x, y = ring[i, 0], ring[i, 1]
            if math.isnan(x) or math.isnan(y):
                return math.nan, math.nan, math.nan, math.nan
            west, east = min(west, x), max(east, x)
            south, north = min(south, y), max(north, y)
    return west, south, east, north
