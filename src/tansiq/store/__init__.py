"""Where the service keeps parties, their keys and (later) their filings.

:class:`Store` is the small interface the service talks to, one method per
operation; :class:`SqliteStore` is the embedded default (one file, WAL).
"""

from tansiq.store.base import (
    ConflictRecord,
    EventRecord,
    FilingRecord,
    PartyRecord,
    Store,
    TokenRecord,
)
from tansiq.store.sqlite import SqliteStore

__all__ = [
    "ConflictRecord",
    "EventRecord",
    "FilingRecord",
    "PartyRecord",
    "SqliteStore",
    "Store",
    "TokenRecord",
]
