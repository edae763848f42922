"""What a party is shown: its own filings in full; of another party, only what a conflict
discloses (the window, the gaps, the kinds, the other party's name). The API renders these
dictionaries as JSON; nothing else decides visibility."""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from tansiq.service.public_ids import PublicIds
from tansiq.store import ConflictRecord, FilingRecord, PartyRecord, Store

#: JSON text the store already holds (a filing's body, a drawn region), written into an
#: answer as it is by :func:`dumps`: parsing and re-encoding hundreds of coordinates per
#: conflict was a measurable part of every filing.
RawJSON = orjson.Fragment


def dumps(value: Any) -> str:
    """JSON text of an answer, every :data:`RawJSON` written as its text.

    orjson, not ``json``: rendering answers and event streams was a tenth of a loaded
    server's time with ``json.dumps`` (docs/benchmarks.md). A float that is not finite
    is written ``null`` (``json.dumps`` wrote ``Infinity``, which is not JSON).
    """
    return orjson.dumps(value).decode()


def instant(seconds: float | None) -> str | None:
    """RFC 3339 UTC, or None for an absent or unbounded time."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return _rfc3339(seconds)


@functools.lru_cache(maxsize=4096)
def _rfc3339(seconds: float) -> str:
    # every conflict view writes six instants, mostly the same few (windows, filing times)
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def filing_view(record: FilingRecord, now: float) -> dict[str, Any]:
    """A filing in full (shown to its owner, or to those it is shared with)."""
    return {
        "id": record.id,
        "category": record.category,
        "version": record.version,
        "state": record.state,
        "filed_at": instant(record.filed_at),
        "ends_at": instant(record.ends_at),
        # a filing whose every volume has ended no longer counts (it stays in history);
        # sites and zones too (they were never shown expired: found by a reviewer)
        "expired": record.ends_at < now,
        "body": RawJSON(record.body),
    }


def shared_view(record: FilingRecord, store: Store, now: float) -> dict[str, Any]:
    """Another party's site or zone that it shared with the viewer: in full, with its
    owner; but not whom else it is shared with (its ``share`` member is left out: a
    recipient is not told which other parties exist, nor what the owner shares with them)."""
    owner = store.get_party(record.party_id)
    view = filing_view(record, now)
    # the key may be written with escapes ("\u0073hare" is "share" too: found by a
    # second reviewer); a body with none of either is left as it is, unparsed
    if '"share"' in record.body or "\\u" in record.body:
        # the standard parser: it keeps what filing accepted (lone surrogates, integers
        # past 64 bits) exactly, where orjson refuses or rounds them
        document = json.loads(record.body)
        if isinstance(document, dict) and document.pop("share", None) is not None:
            view["body"] = RawJSON(json.dumps(document))
    view["owner"] = {
        "id": record.party_id,
        "name": owner.name if owner else record.party_id,
        "contact": owner.contact if owner else "",
    }
    return view


def conflict_view(
    record: ConflictRecord, viewer: PartyRecord, store: Store, ids: PublicIds
) -> dict[str, Any]:
    """A conflict as one of its two sides sees it (its id as parties are shown ids)."""
    mine_is_a = record.party_a == viewer.id
    other_id = record.party_b if mine_is_a else record.party_a
    other = store.get_party(other_id)
    my_volume = record.volume_a if mine_is_a else record.volume_b
    filing, _, feature = my_volume.partition("/")
    return {
        "id": ids.show("conflict", record.id),
        # one more each time what it shows or its state changes; an ack may name it
        "version": record.version,
        "state": record.state,
        "window": {"start": instant(record.window_start), "end": instant(record.window_end)},
        "gaps": {
            "horizontal_m": record.horizontal_distance_m,
            "vertical_m": record.vertical_gap_m,
            "time_s": record.time_gap_s,
        },
        "mine": {
            "filing": filing,
            "feature": feature,
            "kind": record.kind_a if mine_is_a else record.kind_b,
            # the part of my footprint within the separation of theirs
            "region": _geometry(record.region_a if mine_is_a else record.region_b),
        },
        "other": {
            "party": {
                "id": other_id,
                "name": other.name if other else other_id,
                "contact": other.contact if other else "",
            },
            "kind": record.kind_b if mine_is_a else record.kind_a,
            # all that is disclosed of their footprint: the part within the separation of mine
            "region": _geometry(record.region_b if mine_is_a else record.region_a),
        },
        # an operation entered a zone: later than its rules ask, or where it may not go
        "late_notice": record.late_notice,
        "no_entry": record.no_entry,
        # the change of the theater's rules it was judged under, as it shows now (the
        # `version` of GET /v1/theater/rules/history); null: the server's defaults, or
        # last written before the store kept it
        "rules_version": record.rules_change,
        "acknowledged": {
            "by_me": instant(record.acked_a_at if mine_is_a else record.acked_b_at),
            "by_other": instant(record.acked_b_at if mine_is_a else record.acked_a_at),
        },
        "opened_at": instant(record.opened_at),
        "closed_at": instant(record.closed_at),
    }



def _geometry(text: str | None) -> RawJSON | None:
    return RawJSON(text) if text else None
