"""Reading the account-events archive (``account_events``, filled by the sink from the
``account-events`` topic): every distinct version of every record, as its JSON payload.

``FINAL`` folds redeliveries of one version (same ``event_id`` and content hash); versions
with different content all come back, so the engine makes the same R1 choice as ``replay``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._driver import translated

__all__ = ["account_event_payloads"]

Client = Any  # clickhouse_driver.Client, or anything with its execute_iter(query, params)
_BLOCK = {"max_block_size": 10_000}


def account_event_payloads(client: Client, *, account: str | None = None,
                           bot: str | None = None, until_ms: int | None = None,
                           ) -> Iterator[tuple[str, str]]:
    """``(label, payload)`` of the archived account events (``occurred_at <= until_ms`` when
    given), by account, bot, time and id; ``label`` names the record for error messages."""
    params: dict[str, Any] = {"account": account, "bot": bot, "until": until_ms}
    clauses = {"account": "account_id = %(account)s", "bot": "bot_id = %(bot)s",
               "until": "occurred_at <= %(until)s"}
    where = "".join(f" AND {clauses[name]}" for name, value in params.items()
                    if value is not None)
    sql = ("SELECT event_id, kafka_topic, kafka_partition, kafka_offset, payload "
           f"FROM account_events FINAL WHERE 1{where} "
           "ORDER BY account_id, bot_id, occurred_at, event_id, content_hash")
    present = {name: value for name, value in params.items() if value is not None}
    with translated("account_events"):
        for event_id, topic, partition, offset, payload in client.execute_iter(
                sql, present, settings=_BLOCK):
            yield f"account event {event_id!r} ({topic}[{partition}]@{offset})", payload
