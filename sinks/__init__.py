"""ClickHouse for botbill: versioned schema, idempotent batch writes, the reads jobs need.

Writers hand a :class:`SinkBatch` to a :class:`SessionStore` (:class:`ClickHouseStore`, or
:class:`InMemoryStore` in callers' unit tests), through :func:`write_with_retry`, and commit
Kafka offsets only after it returned. See ``sinks/README.md``.
"""

from __future__ import annotations

from .clickhouse import ClickHouseStore
from .connection import connect
from .exceptions import MigrationError, SinkError, SinkUnavailable
from .migrations import migrate
from .queries import UsageSummary, billed_sessions, raw_events, usage_summary
from .retry import write_with_retry
from .store import (
    DeadLetterRecord,
    InMemoryStore,
    LateEventRecord,
    RawEventRecord,
    SessionStore,
    SinkBatch,
    UsageSnapshot,
)

__all__ = [
    "ClickHouseStore",
    "DeadLetterRecord",
    "InMemoryStore",
    "LateEventRecord",
    "MigrationError",
    "RawEventRecord",
    "SessionStore",
    "SinkBatch",
    "SinkError",
    "SinkUnavailable",
    "UsageSnapshot",
    "UsageSummary",
    "billed_sessions",
    "connect",
    "migrate",
    "raw_events",
    "usage_summary",
    "write_with_retry",
]
