"""After any sequence of filings, replacements, cancellations and changes of the rules,
the open conflicts are exactly those ``detect`` finds among the active volumes under
the rules of the moment, and each says what
``detect`` says now: its window and gaps, its kinds, and regions within its own
side's footprint (a kept conflict that still showed its opening was the bug this
guards against)."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from samples import sample_morning
from stored import assert_extents_hold_the_regions
from tansiq import Party, Scenario, detect
from tansiq.scenario.model import SeparationRule
from tansiq.service import parties
from tansiq.service.theater import Theater
from tansiq.store import SqliteStore

GEOD = Geod(ellps="WGS84")
RULES = [SeparationRule(("*", "*"), horizontal_m=100.0, time_s=600.0)]
PARTIES = ("red", "blue", "green")

feature = st.fixed_dictionaries(
    {
        "lon": st.floats(40.0, 40.01),
        "radius": st.floats(50.0, 400.0),
        "kind": st.sampled_from(["convoy", "patrol"]),
        "start_h": st.integers(6, 9),
        "hours": st.integers(1, 3),
    }
)
#: what a coordinator may set meanwhile: a rule for one pair of kinds, for the same
#: kind, none at all, the same again (the lead time alone changes)
RULE_SETS = [
    RULES,
    [*RULES, SeparationRule(("convoy", "patrol"), horizontal_m=800.0)],
    [SeparationRule(("convoy", "convoy"), horizontal_m=300.0, vertical_m=50.0)],
    [],
    RULES,
    [SeparationRule(("patrol", "*"), horizontal_m=150.0, time_s=600.0)],
    # convoy-patrol as in the second set, convoy-convoy not: after it, the second
    # set's catch-up goes on with both (found by a mutation no region check caught)
    [
        *RULES,
        SeparationRule(("convoy", "patrol"), horizontal_m=800.0),
        SeparationRule(("convoy", "convoy"), horizontal_m=300.0),
    ],
]
change = st.tuples(
    st.sampled_from(["file", "replace", "replace", "cancel", "rules", "catch up"]),
    st.integers(0, 2),  # the party
    st.integers(0, 6),  # which of its filings (of the rules: which set)
    st.lists(feature, min_size=1, max_size=2),
)


def body(features: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f"f{k}",
                    "geometry": {"type": "Point", "coordinates": [f["lon"], 35.0]},
                    "properties": {
                        "kind": f["kind"],
                        "radius_m": f["radius"],
                        "start": f"2017-09-16T{f['start_h']:02d}:00:00Z",
                        "end": f"2017-09-16T{f['start_h'] + f['hours']:02d}:00:00Z",
                    },
                }
                for k, f in enumerate(features)
            ],
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(change, min_size=1, max_size=12))
@pytest.mark.parametrize("sliced", [False, True], ids=["rules at once", "rules caught up"])
def test_open_conflicts_say_what_detect_says_now(
    tmp_path: Path, changes: list[Any], sliced: bool
) -> None:
    """``sliced``: each change of rules judges one volume again, and the rest is judged
    one volume at a time ("catch up") between filings, or when the changes end: what a
    theater serving through a long catch-up does, in its finest interleaving."""
    store = SqliteStore(Path(tempfile.mkdtemp(dir=tmp_path)) / "tansiq.db")  # one per example
    records = [parties.add_party(store, p, p, "en")[0] for p in PARTIES]
    coordinator = parties.add_party(store, "un", "UN", "en", "coordinator")[0]
    theater = Theater(store, clock=sample_morning())
    wait_s = math.inf
    if sliced:
        theater.catch_up_in_background, theater.catch_up_slice_s, wait_s = False, 0.0, 0.0
    theater.set_rules(coordinator, RULES)
    rules = RULES
    held: dict[tuple[int, int], tuple[str, int]] = {}
    for action, who, slot, features in changes:
        if action == "rules":
            rules = RULE_SETS[slot]
            theater.set_rules(coordinator, rules, lead_time_h=float(who), wait_s=wait_s)
            continue
        if action == "catch up":
            theater.catch_up(until=0.0)  # one slice
            continue
        mine = held.get((who, slot))
        if mine is None:
            if action == "cancel":
                continue
            out = theater.file(records[who], "operation", body(features))
        elif action == "cancel":
            out = theater.cancel(records[who], mine[0], mine[1])
        else:
            out = theater.replace(records[who], mine[0], mine[1], body(features))
        if out.filing.state == "cancelled":
            held.pop((who, slot), None)
        else:
            held[(who, slot)] = (out.filing.id, out.filing.version)

    done = theater.catch_up()
    assert done.done and done.judged == done.volumes
    active = store.active_filings()
    volumes = tuple(v for f in active for v in theater.volumes(f.party_id, f.id, f.body))
    scenario = Scenario("now", tuple(Party(p, p, "en") for p in PARTIES), tuple(rules), volumes)
    expected = {(c.a, c.b): c for c in detect(scenario)}
    shown = {
        (min(c.volume_a, c.volume_b), max(c.volume_a, c.volume_b)): c
        for p in PARTIES
        for c in store.conflicts_of_party(p, "open")
    }
    assert shown.keys() == expected.keys()
    by_id = {v.id: v for v in volumes}
    for pair, record in shown.items():
        judged = expected[pair]
        assert (record.window_start, record.window_end) == judged.window
        assert record.horizontal_distance_m == judged.horizontal_distance_m
        assert (record.vertical_gap_m, record.time_gap_s) == (
            judged.vertical_gap_m,
            judged.time_gap_s,
        )
        assert (record.kind_a, record.kind_b) == (
            by_id[record.volume_a].kind,
            by_id[record.volume_b].kind,
        )
        # each side's region is the one drawn now, and lies within that side's own
        # disc as it is now
        near_a, near_b, _ = theater._region_texts(judged)
        if judged.a != record.volume_a:
            near_a, near_b = near_b, near_a
        assert (record.region_a, record.region_b) == (near_a, near_b)
        sides = ((record.region_a, record.volume_a), (record.region_b, record.volume_b))
        for region, volume_id in sides:
            volume = by_id[volume_id]
            ring = shapely.get_coordinates(shapely.from_geojson(region))
            lon, lat = volume.geometry.x, volume.geometry.y
            _, _, apart = GEOD.inv(
                np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1]
            )
            assert apart.max() <= volume.buffer_m * 1.001 + 0.05
    assert_extents_hold_the_regions(store.path)
    # and pages filtered by a box, followed to the end, find what the whole read
    # finds: boxes holding regions whole, across them, beside them, and small ones
    # by the corners of their extents (which an extent meets and a disc may not)
    boxes = [
        (39.99, 34.99, 40.02, 35.01),
        (40.004, 34.99, 40.005, 35.01),
        (40.0, 34.99, 40.0, 35.01),
        (40.03, 34.99, 40.04, 35.01),
        *((w, s, w + 0.001, s + 0.001) for w in (39.996, 40.003, 40.007) for s in (34.996, 35.002)),
    ]
    for box in boxes:
        for party in records:
            found: list[int] = []
            after: int | None = 0
            while after is not None:
                page, after = theater.conflicts_page(party, bbox=box, after=after, limit=3)
                found += [c.id for c in page]
            assert found == [c.id for c in theater.conflicts(party, bbox=box)], box

