"""The real :class:`~sinks.store.SessionStore`: one INSERT per table per batch.

Delivery guarantee (at least once into ClickHouse, exactly once after deduplication):

1. The worker consumes records and builds a :class:`~sinks.store.SinkBatch`; nothing is
   committed to Kafka yet.
2. :meth:`ClickHouseStore.write_batch` inserts every table that has rows: raw_events,
   usage_sessions, alert_sessions, late_events, dead_letters. If any insert fails it raises
   :class:`~sinks.exceptions.SinkUnavailable` at once; tables already inserted keep their
   rows, the rest have none.
3. Only after ``write_batch`` returned does the worker commit the batch's offsets.

What each failure does:

* an insert fails (network, server down, server error): the exception reaches the caller,
  no offset is committed, and the same batch is written again (:func:`write_with_retry`)
  or, after a crash, rebuilt from the same records. The rows already inserted come again
  with the same identities and revisions, and collapse in the ReplacingMergeTree tables;
  reads use ``FINAL``, so a duplicate never shows, merged or not.
* the worker dies after the inserts but before the commit: the records are consumed
  again; same as above.
* the commit fails: same as above.
* a record the tables cannot hold (a bug upstream): :class:`~sinks.exceptions.SinkError`
  before anything is sent; the worker must stop rather than skip it.

A client is one connection: use one store per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from ._driver import translated
from ._tables import batch_inserts
from .connection import connect, resolve_url
from .store import SinkBatch

__all__ = ["ClickHouseStore"]


class ClickHouseStore:
    """Writes batches to the database of ``url`` (default: ``$BOTBILL_CLICKHOUSE_URL``).

    ``clock`` (seconds, like :func:`time.time`) stamps raw events' ``ingested_at``; it is
    the only value that differs between two writes of one batch, and decides no identity.
    """

    def __init__(self, url: str | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = resolve_url(url)
        self._client = connect(self.url)
        self._clock = clock

    def write_batch(self, batch: SinkBatch) -> None:
        for insert in batch_inserts(batch, ingested_at=int(self._clock() * 1000)):
            with translated(insert.table):
                self._client.execute(insert.sql, insert.rows)

    def close(self) -> None:
        self._client.disconnect()

    def __enter__(self) -> ClickHouseStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
