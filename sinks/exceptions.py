"""The sink's errors, translated from clickhouse-driver at the boundary.

BotbillError (billing_rules.exceptions)
 +-- SinkError                  a write or read that cannot succeed as asked: do not retry
      +-- SinkUnavailable       ClickHouse unreachable or refused the statement: retry later
      +-- MigrationError        a migration file is malformed, or a migration failed

Only :class:`SinkUnavailable` is retried by :func:`sinks.retry.write_with_retry`; anything
else is a bug or a broken deployment, and stops the caller *before* it commits offsets.
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["MigrationError", "SinkError", "SinkUnavailable"]


class SinkError(BotbillError):
    """A sink operation that cannot succeed as asked (e.g. a record the tables cannot hold)."""


class SinkUnavailable(SinkError):
    """ClickHouse could not be reached, or refused the statement.

    Transient by assumption: the batch must be retried, never dropped. ``code`` is the
    server's error code when the server answered (e.g. 81 unknown database: run
    ``botbill db migrate``; 252 too many parts: the server is behind on merges), else None.
    If it persists, an operator must act on ``str(error)``.
    """

    def __init__(self, message: str, *, table: str = "", code: int | None = None) -> None:
        self.table = table
        self.code = code
        super().__init__(f"{table}: {message}" if table else message)


class MigrationError(SinkError):
    """A migration file is malformed, or applying one failed (names the version)."""
