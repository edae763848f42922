"""The compiled exact stage: for each candidate pair, the verdict and its gaps.

For pair k (row ``rows_a[k]`` of side a, ``rows_b[k]`` of side b) :func:`judge`

1. rules out pairs of one party, or outside the vertical or time minimum, or whose
   Earth-centred boxes are farther apart than the reach (a chord is never longer
   than the geodesic);
2. decides that cores which share a point touch: an exact test in lon/lat, where
   edges are straight (RFC 7946), in each 360° turn in which they can meet: an edge
   of one crosses or touches an edge of the other, or one lies inside an area of
   the other; two cores that both reach the same pole touch there;
3. otherwise locates the closest points of the two outlines in an azimuthal
   projection centred on the pair (on a point core itself, if one is a point), by
   branch and bound over pieces of edges: a piece's projected image is a curve
   within its *sagitta* (measured at its quarters, doubled for safety) of the
   chord between its ends, so chord distance minus both sagittas bounds every
   distance between the two pieces from below, and the true points at the chords'
   closest parameters bound the minimum from above. Pieces are halved until the
   sagittas are below ``TOLERANCE_M``. For large cores a second pass re-centres
   the projection between the points found;
4. measures the points found, which lie on the true edges, with PROJ's
   ``geod_inverse`` (Karney's algorithm, the function behind ``pyproj.Geod.inv``)
   and keeps the pair if the distance is within reach.

Why hand-written: no library measures distances between lon/lat-straight edges on
the ellipsoid, and the per-pair work (a few hundred tiny steps) is too fine-grained
for numpy or shapely calls, whose fixed cost per call would dominate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from tansiq.engine.geodesy import E2, A
from tansiq.engine.jit import jit

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# columns of the per-row numeric matrix ``num``
ALT_LOW, ALT_HIGH, START, END, BUFFER = 0, 1, 2, 3, 4
BOX_MIN, BOX_MAX = 5, 8  # three columns each
LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = 11, 12, 13, 14
NUM_COLUMNS = 15
# columns of the per-row integer matrix ``cat``
PARTY, KIND, GTYPE, POLE = 0, 1, 2, 3
CAT_COLUMNS = 4
POINT, LINE, AREA = 0, 1, 2

#: distances below this are reported as 0 (cores that share a point, up to rounding)
TOUCH_M = 1e-3
#: PROJ's geod_inverse, called through ctypes (see tansiq.engine.proj_geodesic)
GeodInverse = Callable[..., None]

#: pieces are refined until their images are this close to their chords, metres
TOLERANCE_M = 1e-3
#: ... or this fraction of their distance: the projection's own distortion is larger
RELATIVE_TOLERANCE = 1e-7
#: pieces start no longer than this in lon or lat, so that one sagitta describes each
START_PIECE_DEG = 1.0
#: relative margin within which a projected distance is not trusted to rule a pair out
PROJECTION_MARGIN = 0.05
PROJECTION_SLACK_M = 10.0
#: cores larger than this get a second, re-centred pass (see module docstring)
SECOND_PASS_FROM_M = 50_000.0


def decision_slack(horizontal_m: float) -> float:
    """How far past the minimum a measured distance still counts as a conflict.

    The spec allows an answer to differ only within max(1 m, 0.1 %) of the minimum;
    the engine's distances are far more accurate than that, so a quarter of it is
    spent on erring towards a warning, as deconfliction should.
    """
    return 0.25 * max(1.0, 0.001 * horizontal_m)


_slack = jit(decision_slack)


@jit
def judge(
    a_num: FloatArray,
    a_cat: IntArray,
    a_xy: FloatArray,
    a_part_start: IntArray,
    a_row_part: IntArray,
    b_num: FloatArray,
    b_cat: IntArray,
    b_xy: FloatArray,
    b_part_start: IntArray,
    b_row_part: IntArray,
    rows_a: IntArray,
    rows_b: IntArray,
    matrix: FloatArray,
    inverse: GeodInverse,
    ellipsoid: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """The pairs in conflict (indices into rows_a/rows_b) and, for each, its (horizontal,
    vertical, time) gaps and the (H, V, T) minimums that applied.

    ``inverse`` is PROJ's geod_inverse and ``ellipsoid`` its initialised WGS 84
    (:mod:`tansiq.engine.proj_geodesic`).
    """
    n = len(rows_a)
    rows = np.empty(n, dtype=np.int64)
    gaps = np.empty((n, 6))
    found = 0
    points = np.full(8, np.nan)  # (lon_a, lat_a, lon_b, lat_b) of the closest points, two passes
    scratch = np.zeros(3)
    stack = np.empty((256, NODE_COLUMNS))
    for k in range(n):
        i, j = rows_a[k], rows_b[k]
        if a_cat[i, PARTY] == b_cat[j, PARTY]:
            continue
        h = matrix[a_cat[i, KIND], b_cat[j, KIND], 0]
        v = matrix[a_cat[i, KIND], b_cat[j, KIND], 1]
        t = matrix[a_cat[i, KIND], b_cat[j, KIND], 2]
        vgap = _gap(a_num[i, ALT_LOW], a_num[i, ALT_HIGH], b_num[j, ALT_LOW], b_num[j, ALT_HIGH])
        if vgap > v:
            continue
        tgap = _gap(a_num[i, START], a_num[i, END], b_num[j, START], b_num[j, END])
        if tgap > t:
            continue
        buffers = a_num[i, BUFFER] + b_num[j, BUFFER]
        reach = h + buffers + _slack(h)
        box2 = 0.0
        for axis in range(3):
            g = max(
                0.0,
                a_num[i, BOX_MIN + axis] - b_num[j, BOX_MAX + axis],
                b_num[j, BOX_MIN + axis] - a_num[i, BOX_MAX + axis],
            )
            box2 += g * g
        if math.sqrt(box2) > reach:
            continue
        if (a_cat[i, POLE] & b_cat[j, POLE]) != 0:
            _record(rows, gaps, found, k, 0.0, vgap, tgap, h, v, t)
            found += 1
            continue
        centre_a = (a_num[i, LON_MIN] + a_num[i, LON_MAX]) / 2
        centre_b = (b_num[j, LON_MIN] + b_num[j, LON_MAX]) / 2
        frame = 360.0 * round((centre_a - centre_b) / 360.0)
        pa0, pa1 = a_row_part[i], a_row_part[i + 1]
        pb0, pb1 = b_row_part[j], b_row_part[j + 1]
        if _touching(
            a_num[i], a_cat[i, GTYPE], a_xy, a_part_start, pa0, pa1,
            b_num[j], b_cat[j, GTYPE], b_xy, b_part_start, pb0, pb1, frame,
        ):  # fmt: skip
            _record(rows, gaps, found, k, 0.0, vgap, tgap, h, v, t)
            found += 1
            continue
        a_point = a_cat[i, GTYPE] == POINT
        b_point = b_cat[j, GTYPE] == POINT
        points[:] = np.nan
        if a_point and b_point:
            q = a_part_start[pa0]
            r = b_part_start[pb0]
            points[0], points[1] = a_xy[q, 0], a_xy[q, 1]
            points[2], points[3] = b_xy[r, 0] + frame, b_xy[r, 1]
        else:
            if a_point:
                q = a_part_start[pa0]
                lon0, lat0 = a_xy[q, 0], a_xy[q, 1]
            elif b_point:
                r = b_part_start[pb0]
                lon0, lat0 = b_xy[r, 0] + frame, b_xy[r, 1]
            else:
                lon0 = (centre_a + centre_b + frame) / 2
                lat0 = (a_num[i, LAT_MIN] + a_num[i, LAT_MAX]) / 4
                lat0 += (b_num[j, LAT_MIN] + b_num[j, LAT_MAX]) / 4
            cutoff = reach * (1 + PROJECTION_MARGIN) + PROJECTION_SLACK_M
            planar, stack = _closest(
                a_xy, a_part_start, pa0, pa1, b_xy, b_part_start, pb0, pb1,
                frame, lon0, lat0, cutoff, stack, points, 0,
            )  # fmt: skip
            if planar > cutoff:  # clearly beyond reach, even allowing for the projection
                continue
            large = max(_extent_m(a_num[i]), _extent_m(b_num[j])) > SECOND_PASS_FROM_M
            if large and not a_point and not b_point:
                lon0 = (points[0] + points[2]) / 2
                lat0 = (points[1] + points[3]) / 2
                _, stack = _closest(
                    a_xy, a_part_start, pa0, pa1, b_xy, b_part_start, pb0, pb1,
                    frame, lon0, lat0, cutoff, stack, points, 4,
                )  # fmt: skip
        dist = _geodesic(inverse, ellipsoid, points, 0, scratch)
        if not np.isnan(points[4]):
            dist = min(dist, _geodesic(inverse, ellipsoid, points, 4, scratch))
        if dist > reach:
            continue
        gap = max(0.0, dist - buffers)
        _record(rows, gaps, found, k, gap if gap >= TOUCH_M else 0.0, vgap, tgap, h, v, t)
        found += 1
    return rows[:found], gaps[:found]


@jit
def _record(
    rows: IntArray, gaps: FloatArray, found: int, k: int,
    h_gap: float, v_gap: float, t_gap: float, h: float, v: float, t: float,
) -> None:  # fmt: skip
    rows[found] = k
    gaps[found, 0] = h_gap
    gaps[found, 1] = v_gap
    gaps[found, 2] = t_gap
    gaps[found, 3] = h
    gaps[found, 4] = v
    gaps[found, 5] = t


@jit
def _geodesic(
    inverse: GeodInverse, ellipsoid: FloatArray, points: FloatArray, at: int, scratch: FloatArray
) -> float:
    """Geodesic distance between (points[at], points[at+1]) and (points[at+2], points[at+3])."""
    inverse(
        ellipsoid.ctypes.data,
        points[at + 1], points[at], points[at + 3], points[at + 2],  # lat, lon order
        scratch.ctypes.data, scratch[1:].ctypes.data, scratch[2:].ctypes.data,
    )  # fmt: skip
    return float(scratch[0])


@jit
def _gap(lo_a: float, hi_a: float, lo_b: float, hi_b: float) -> float:
    """max(0, b1 - a2, a1 - b2): the spec's gap between closed intervals."""
    return max(0.0, lo_b - hi_a, lo_a - hi_b)


@jit
def _extent_m(num: FloatArray) -> float:
    """A rough size of a core (the diagonal of its lon/lat box on the ground), metres."""
    coslat = math.cos(math.radians(min(abs(num[LAT_MIN]), abs(num[LAT_MAX]))))
    return 111_320.0 * math.hypot(
        num[LAT_MAX] - num[LAT_MIN], (num[LON_MAX] - num[LON_MIN]) * coslat
    )


# --- touching, in lon/lat ---------------------------------------------------------------


@jit
def _touching(
    a_num: FloatArray,
    a_type: int,
    a_xy: FloatArray,
    a_part_start: IntArray,
    pa0: int,
    pa1: int,
    b_num: FloatArray,
    b_type: int,
    b_xy: FloatArray,
    b_part_start: IntArray,
    pb0: int,
    pb1: int,
    frame: float,
) -> bool:
    # after the frame shift the centres are within 180°: another turn can only meet
    # when the two spans add up to a whole circle
    spans = (a_num[LON_MAX] - a_num[LON_MIN]) + (b_num[LON_MAX] - b_num[LON_MIN])
    turns = 3 if spans >= 360.0 else 1
    for turn in range(turns):
        shift = frame + (0.0, -360.0, 360.0)[turn]
        if (
            b_num[LON_MIN] + shift > a_num[LON_MAX]
            or b_num[LON_MAX] + shift < a_num[LON_MIN]
            or b_num[LAT_MIN] > a_num[LAT_MAX]
            or b_num[LAT_MAX] < a_num[LAT_MIN]
        ):
            continue
        if _edges_meet(a_xy, a_part_start, pa0, pa1, b_xy, b_part_start, pb0, pb1, shift):
            return True
        # no edges meet: one inside the other is told by any one of its positions
        q = b_part_start[pb0]
        if a_type == AREA and _inside(a_xy, a_part_start, pa0, pa1, b_xy[q, 0] + shift, b_xy[q, 1]):
            return True
        q = a_part_start[pa0]
        if b_type == AREA and _inside(b_xy, b_part_start, pb0, pb1, a_xy[q, 0] - shift, a_xy[q, 1]):
            return True
    return False


@jit
def _edges_meet(
    a_xy: FloatArray,
    a_part_start: IntArray,
    pa0: int,
    pa1: int,
    b_xy: FloatArray,
    b_part_start: IntArray,
    pb0: int,
    pb1: int,
    shift: float,
) -> bool:
    """Whether an edge (or the position of a point) of a meets one of b shifted by ``shift``."""
    for p in range(pa0, pa1):
        s0, s1 = a_part_start[p], a_part_start[p + 1]
        for e in range(s0, max(s0 + 1, s1 - 1)):
            f = min(e + 1, s1 - 1)
            ax0, ay0, ax1, ay1 = a_xy[e, 0], a_xy[e, 1], a_xy[f, 0], a_xy[f, 1]
            for r in range(pb0, pb1):
                t0, t1 = b_part_start[r], b_part_start[r + 1]
                for g in range(t0, max(t0 + 1, t1 - 1)):
                    h = min(g + 1, t1 - 1)
                    bx0, by0 = b_xy[g, 0] + shift, b_xy[g, 1]
                    bx1, by1 = b_xy[h, 0] + shift, b_xy[h, 1]
                    if (
                        max(bx0, bx1) < min(ax0, ax1)
                        or min(bx0, bx1) > max(ax0, ax1)
                        or max(by0, by1) < min(ay0, ay1)
                        or min(by0, by1) > max(ay0, ay1)
                    ):
                        continue
                    if _segments_meet(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
                        return True
    return False


@jit
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@jit
def _within_box(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@jit
def _segments_meet(
    ax0: float, ay0: float, ax1: float, ay1: float,
    bx0: float, by0: float, bx1: float, by1: float,
) -> bool:  # fmt: skip
    """Closed segments (possibly single points) share a point."""
    d1 = _orient(bx0, by0, bx1, by1, ax0, ay0)
    d2 = _orient(bx0, by0, bx1, by1, ax1, ay1)
    d3 = _orient(ax0, ay0, ax1, ay1, bx0, by0)
    d4 = _orient(ax0, ay0, ax1, ay1, bx1, by1)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and (
        (d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)
    ):
        return True
    return (
        (d1 == 0 and _within_box(bx0, by0, bx1, by1, ax0, ay0))
        or (d2 == 0 and _within_box(bx0, by0, bx1, by1, ax1, ay1))
        or (d3 == 0 and _within_box(ax0, ay0, ax1, ay1, bx0, by0))
        or (d4 == 0 and _within_box(ax0, ay0, ax1, ay1, bx1, by1))
    )


@jit
def _inside(
    xy: FloatArray, part_start: IntArray, p0: int, p1: int, px: float, py: float
) -> bool:
    """Even-odd rule over every ring of an area (holes and parts included)."""
    inside = False
    for p in range(p0, p1):
        for e in range(part_start[p], part_start[p + 1] - 1):
            x0, y0, x1, y1 = xy[e, 0], xy[e, 1], xy[e + 1, 0], xy[e + 1, 1]
            if (y0 > py) != (y1 > py):
                x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
                if px < x_cross:
                    inside = not inside
    return inside


# --- closest points, in a local projection ---------------------------------------------


@jit
def project_point(
    lon: float, lat: float, lon0: float, sin0: float, cos0: float, rn: float, rm: float
) -> tuple[float, float]:
    """Azimuthal equidistant projection about (lon0, φ0), scaled by the radii at φ0.

    The same formulas as :func:`tansiq.engine.geodesy.local_forward`.
    """
    lam = math.radians(lon - lon0)
    phi = math.radians(lat)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    cos_lam = math.cos(lam)
    cos_c = min(1.0, max(-1.0, sin0 * sin_phi + cos0 * cos_phi * cos_lam))
    c = math.acos(cos_c)
    sin_c = math.sin(c)
    k = c / sin_c if sin_c > 1e-15 else 1.0
    east = k * cos_phi * math.sin(lam)
    north = k * (cos0 * sin_phi - sin0 * cos_phi * cos_lam)
    return east * rn, north * rm


@jit
def _segment_distance(
    px0: float, py0: float, px1: float, py1: float,
    qx0: float, qy0: float, qx1: float, qy1: float,
) -> tuple[float, float, float]:  # fmt: skip
    """Distance between two planar segments and the parameters (u, w) of its ends."""
    dx, dy = px1 - px0, py1 - py0
    ex, ey = qx1 - qx0, qy1 - qy0
    rx, ry = px0 - qx0, py0 - qy0
    a = dx * dx + dy * dy
    e = ex * ex + ey * ey
    f = ex * rx + ey * ry
    if a <= 1e-300 and e <= 1e-300:
        return math.hypot(rx, ry), 0.0, 0.0
    if a <= 1e-300:
        u = 0.0
        w = min(1.0, max(0.0, f / e))
    else:
        c = dx * rx + dy * ry
        if e <= 1e-300:
            w = 0.0
            u = min(1.0, max(0.0, -c / a))
        else:
            b = dx * ex + dy * ey
            denom = a * e - b * b
            u = min(1.0, max(0.0, (b * f - c * e) / denom)) if denom > 1e-18 * a * e else 0.0
            w = (b * u + f) / e
            if w < 0.0:
                w = 0.0
                u = min(1.0, max(0.0, -c / a))
            elif w > 1.0:
                w = 1.0
                u = min(1.0, max(0.0, (b - c) / a))
    x = px0 + u * dx - (qx0 + w * ex)
    y = py0 + u * dy - (qy0 + w * ey)
    return math.hypot(x, y), u, w


# a node of the closest-points search: which pieces, their bound, and their projected
# images at fractions 0, 1/4, 1/2, 3/4 and 1 of each piece (x, y each)
E, F_, T0, T1, G, H, S0, S1, LOWER, SAG_A, SAG_B, EVALUATED = range(12)
A_POINTS, B_POINTS = 12, 22
NODE_COLUMNS = 32
FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)


@jit
def _closest(
    a_xy: FloatArray,
    a_part_start: IntArray,
    pa0: int,
    pa1: int,
    b_xy: FloatArray,
    b_part_start: IntArray,
    pb0: int,
    pb1: int,
    frame: float,
    lon0: float,
    lat0: float,
    cutoff: float,
    stack: FloatArray,
    out: FloatArray,
    at: int,
) -> tuple[float, FloatArray]:
    """Smallest projected distance between the outlines; its points go to ``out[at:at+4]``.

    Each node of the search is a piece [t0, t1] of the edge from position e to f
    of a and a piece [s0, s1] of the edge from g to h of b (f == e for a point),
    with a lower bound of their distance, how far each piece's image strays from
    its chord, and the projected images of five points of each piece, which the
    halves inherit (three of their five). Starting pieces are bounded from their
    projected ends alone, O(1) per pair of pieces, and evaluated (their true
    points measured) when searched; children are evaluated when made, and the
    most promising is searched first. Pieces farther than ``cutoff`` are not
    searched: if none is nearer, the answer is inf.
    """
    phi0 = math.radians(lat0)
    sin0, cos0 = math.sin(phi0), math.cos(phi0)
    w = 1.0 - E2 * sin0 * sin0
    proj = np.array([lon0, sin0, cos0, A / math.sqrt(w), A * (1.0 - E2) / (w * math.sqrt(w)),
                     frame])  # fmt: skip
    best = np.array([math.inf, math.nan, math.nan, math.nan, math.nan])
    # start: every pair of edges, cut into pieces of at most START_PIECE_DEG
    pieces_a = _pieces(a_xy, a_part_start, pa0, pa1, 0.0, proj)
    pieces_b = _pieces(b_xy, b_part_start, pb0, pb1, frame, proj)
    na, nb = len(pieces_a), len(pieces_b)
    lows = np.empty(na * nb)
    upper = math.inf
    for ia in range(na):
        pa = pieces_a[ia]
        sag_a = _sagitta(pa, 4)
        for ib in range(nb):
            pb = pieces_b[ib]
            sag_b = _sagitta(pb, 4)
            chord, _, _ = _segment_distance(
                pa[4], pa[5], pa[12], pa[13], pb[4], pb[5], pb[12], pb[13]
            )
            lows[ia * nb + ib] = max(0.0, chord - sag_a - sag_b)
            # every point of an image is within its sagitta of the chord: an upper bound
            upper = min(upper, chord + sag_a + sag_b)
    bound = min(upper, cutoff)
    keep = np.flatnonzero(lows <= bound)
    keep = keep[np.argsort(-lows[keep])]  # the most promising on top of the stack
    while len(keep) > len(stack):
        stack = _grow(stack)
    top = 0
    for k in keep:
        pa, pb = pieces_a[k // nb], pieces_b[k % nb]
        node = stack[top]
        node[E], node[F_], node[T0], node[T1] = pa[0], pa[1], pa[2], pa[3]
        node[G], node[H], node[S0], node[S1] = pb[0], pb[1], pb[2], pb[3]
        node[A_POINTS : A_POINTS + 10] = pa[4:14]
        node[B_POINTS : B_POINTS + 10] = pb[4:14]
        node[LOWER] = lows[k]
        node[EVALUATED] = 0.0
        top += 1
    children = np.empty((4, NODE_COLUMNS))
    while top > 0:
        top -= 1
        lower = stack[top, LOWER]
        if lower > min(best[0], bound) or lower < 0.0:  # too far, or within the tolerance
            continue
        node = stack[top].copy()
        if node[EVALUATED] == 0.0:  # a starting piece, bounded from its ends only
            lower = _evaluate(a_xy, b_xy, node, proj, best)
            if lower > min(best[0], bound) or lower < 0.0:
                continue
        # halve the piece that strays more from its chord, or both if they are alike
        split_a = node[SAG_A] > 0.0 and node[SAG_A] >= 0.5 * node[SAG_B]
        split_b = node[SAG_B] > 0.0 and node[SAG_B] >= 0.5 * node[SAG_A]
        made = 0
        for half_a in range(2 if split_a else 1):
            for half_b in range(2 if split_b else 1):
                child = children[made]
                child[:] = node
                if split_a:
                    _halve(child, node, T0, A_POINTS, half_a, a_xy, int(node[E]), int(node[F_]),
                           0.0, proj)  # fmt: skip
                if split_b:
                    _halve(child, node, S0, B_POINTS, half_b, b_xy, int(node[G]), int(node[H]),
                           frame, proj)  # fmt: skip
                child[LOWER] = _evaluate(a_xy, b_xy, child, proj, best)
                made += 1
        while top + made > len(stack):
            stack = _grow(stack)
        # worst child first, so that the best is searched next
        for c in np.argsort(-children[:made, LOWER]):
            stack[top] = children[c]
            top += 1
    out[at : at + 4] = best[1:]
    return best[0], stack


@jit
def _halve(
    child: FloatArray, parent: FloatArray, range_at: int, points_at: int, second: int,
    xy: FloatArray, e: int, f: int, shift: float, proj: FloatArray,
) -> None:  # fmt: skip
    """Make ``child``'s piece on one side the first (or second) half of ``parent``'s.

    The half's ends and middle are the parent's points at 0, 1/4, 1/2 (or 1/2, 3/4,
    1); only its quarters are projected anew.
    """
    t0, t1 = parent[range_at], parent[range_at + 1]
    tm = (t0 + t1) / 2
    lo, hi = (t0, tm) if second == 0 else (tm, t1)
    child[range_at], child[range_at + 1] = lo, hi
    inherit = points_at + 4 * second  # the parent's point at 0 or 1/2
    for k in range(3):
        child[points_at + 4 * k] = parent[inherit + 2 * k]
        child[points_at + 4 * k + 1] = parent[inherit + 2 * k + 1]
    lon, lat = xy[e, 0] + shift, xy[e, 1]
    dlon, dlat = xy[f, 0] - xy[e, 0], xy[f, 1] - xy[e, 1]
    for k in (1, 3):
        t = lo + FRACTIONS[k] * (hi - lo)
        x, y = project_point(
            lon + t * dlon, lat + t * dlat, proj[0], proj[1], proj[2], proj[3], proj[4]
        )
        child[points_at + 2 * k] = x
        child[points_at + 2 * k + 1] = y


@jit
def _sagitta(points: FloatArray, at: int) -> float:
    """How far the image of a piece may stray from its chord, from its five projected points.

    Twice the largest gap, at a quarter, half and three quarters of the piece,
    between the image and the chord at the same fraction: the middle alone would
    miss an S-shaped image (a lon/lat-straight edge crossing the equator bends
    both ways), the quarters catch it.
    """
    x0, y0, x1, y1 = points[at], points[at + 1], points[at + 8], points[at + 9]
    worst = 0.0
    for k in (1, 2, 3):
        q = FRACTIONS[k]
        x, y = points[at + 2 * k], points[at + 2 * k + 1]
        worst = max(worst, math.hypot(x - (x0 + q * (x1 - x0)), y - (y0 + q * (y1 - y0))))
    return 2.0 * worst


@jit
def _evaluate(
    a_xy: FloatArray, b_xy: FloatArray, node: FloatArray, proj: FloatArray, best: FloatArray
) -> float:
    """A lower bound of the projected distance of a node's pieces; updates ``best``.

    Returns the bound, negated (minus a tiny amount) when both pieces are already
    within the tolerance of their chords: such a node is not split further.
    """
    e, f, g, h = int(node[E]), int(node[F_]), int(node[G]), int(node[H])
    t0, t1, s0, s1 = node[T0], node[T1], node[S0], node[S1]
    frame = proj[5]
    sag_a = _sagitta(node, A_POINTS)
    sag_b = _sagitta(node, B_POINTS)
    a, b = A_POINTS, B_POINTS
    chord, u, v = _segment_distance(
        node[a], node[a + 1], node[a + 8], node[a + 9],
        node[b], node[b + 1], node[b + 8], node[b + 9],
    )  # fmt: skip
    # the true points at the chords' closest parameters: an upper bound
    ta = t0 + u * (t1 - t0)
    sb = s0 + v * (s1 - s0)
    plon = a_xy[e, 0] + ta * (a_xy[f, 0] - a_xy[e, 0])
    plat = a_xy[e, 1] + ta * (a_xy[f, 1] - a_xy[e, 1])
    qlon = b_xy[g, 0] + frame + sb * (b_xy[h, 0] - b_xy[g, 0])
    qlat = b_xy[g, 1] + sb * (b_xy[h, 1] - b_xy[g, 1])
    px, py = project_point(plon, plat, proj[0], proj[1], proj[2], proj[3], proj[4])
    qx, qy = project_point(qlon, qlat, proj[0], proj[1], proj[2], proj[3], proj[4])
    real = math.hypot(px - qx, py - qy)
    if real < best[0]:
        best[0] = real
        best[1] = plon
        best[2] = plat
        best[3] = qlon
        best[4] = qlat
    node[SAG_A] = sag_a
    node[SAG_B] = sag_b
    node[EVALUATED] = 1.0
    lower = max(0.0, chord - sag_a - sag_b)
    # refine no further than the tolerance, or than the projection itself is right
    if sag_a + sag_b <= max(TOLERANCE_M, RELATIVE_TOLERANCE * chord):
        return -lower - 1e-300 if lower > 0.0 else -1e-300
    return lower


@jit
def _pieces(
    xy: FloatArray, part_start: IntArray, p0: int, p1: int, shift: float, proj: FloatArray
) -> FloatArray:
    """The starting pieces of an outline: (e, f, t0, t1, then x, y at fractions 0..1) each."""
    count = 0
    for p in range(p0, p1):
        for e in range(part_start[p], max(part_start[p] + 1, part_start[p + 1] - 1)):
            f = min(e + 1, part_start[p + 1] - 1)
            count += _cuts(xy[e, 0], xy[e, 1], xy[f, 0], xy[f, 1])
    pieces = np.empty((count, 14))
    row = 0
    for p in range(p0, p1):
        for e in range(part_start[p], max(part_start[p] + 1, part_start[p + 1] - 1)):
            f = min(e + 1, part_start[p + 1] - 1)
            lon, lat = xy[e, 0] + shift, xy[e, 1]
            dlon, dlat = xy[f, 0] - xy[e, 0], xy[f, 1] - xy[e, 1]
            cuts = _cuts(xy[e, 0], xy[e, 1], xy[f, 0], xy[f, 1])
            for c in range(cuts):
                t0, t1 = c / cuts, (c + 1) / cuts
                pieces[row, 0] = e
                pieces[row, 1] = f
                pieces[row, 2] = t0
                pieces[row, 3] = t1
                for k in range(5):
                    t = t0 + FRACTIONS[k] * (t1 - t0)
                    x, y = project_point(lon + t * dlon, lat + t * dlat,
                                         proj[0], proj[1], proj[2], proj[3], proj[4])  # fmt: skip
                    pieces[row, 4 + 2 * k] = x
                    pieces[row, 5 + 2 * k] = y
                row += 1
    return pieces


@jit
def _cuts(lon0: float, lat0: float, lon1: float, lat1: float) -> int:
    return max(1, math.ceil(max(abs(lon1 - lon0), abs(lat1 - lat0)) / START_PIECE_DEG))


@jit
def _grow(stack: FloatArray) -> FloatArray:
    grown = np.empty((2 * len(stack), stack.shape[1]))
    grown[: len(stack)] = stack
    return grown
