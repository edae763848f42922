"""How conflicts are shown: the spec's JSON document, or a table for people."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from tansiq.engine.conflict import Conflict


def conflicts_document(conflicts: Sequence[Conflict]) -> dict[str, list[dict[str, object]]]:
    """``{"conflicts": [...]}`` as ``tansiq conflicts --json`` prints it (sorted by (a, b))."""
    return {"conflicts": [_entry(c) for c in conflicts]}


def _entry(conflict: Conflict) -> dict[str, object]:
    return {
        "a": conflict.a,
        "b": conflict.b,
        "horizontal_distance_m": round(conflict.horizontal_distance_m, 3),
        "vertical_gap_m": round(conflict.vertical_gap_m, 3),
        "time_gap_s": round(conflict.time_gap_s, 3),
        "separation": {
            "horizontal_m": conflict.horizontal_m,
            "vertical_m": conflict.vertical_m,
            "time_s": conflict.time_s,
        },
        "kinds": [conflict.volume_a.kind, conflict.volume_b.kind],
        "parties": [conflict.volume_a.party, conflict.volume_b.party],
    }


def conflicts_json(conflicts: Sequence[Conflict]) -> str:
    return json.dumps(conflicts_document(conflicts), ensure_ascii=False)


def conflicts_table(conflicts: Sequence[Conflict], console: Console) -> None:
    if not conflicts:
        console.print("No conflicts.")
        return
    table = Table(title=f"{len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''}")
    table.add_column("a (party)", no_wrap=True)
    table.add_column("b (party)", no_wrap=True)
    for header in ("horizontal m", "vertical m", "time s"):
        table.add_column(header, justify="right", no_wrap=True)
    for c in conflicts:
        table.add_row(
            f"{c.a} ({c.volume_a.party})",
            f"{c.b} ({c.volume_b.party})",
            f"{c.horizontal_distance_m:,.1f}",
            f"{c.vertical_gap_m:,.1f}",
            f"{c.time_gap_s:,.0f}",
        )
    console.print(table)
