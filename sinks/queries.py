"""The reads jobs need, deduplicated at query time with ``FINAL``.

``FINAL`` (not ``argMax``) because it reads the same on ClickHouse 18.16 and current
versions, and a plain ``WHERE`` after it filters the surviving (latest) row, never an older
revision. Never ``PREWHERE``: that filters before deduplication.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, NamedTuple

from clickhouse_driver import Client

from botbill.billing_rules.sessions import AlertSession, UsageSession

from ._driver import translated
from ._tables import EVENT_COLUMNS, USAGE_COLUMNS, event_mapping

__all__ = ["UsageSummary", "billed_sessions", "billed_usage_rows", "raw_events",
           "snapshot_revisions",
           "usage_revisions", "usage_summary"]

_BLOCK = {"max_block_size": 10_000}

# A usage row is billed unless voided or superseded: the conversation's newest snapshot
# (usage_snapshots) has a higher revision and covers the row's visit (the row starts after
# the snapshot's closed_end). No snapshot joins as revision 0, which supersedes nothing.
# Usage and alert rows in one stream, sorted exactly like billing_rules' row_sort_key:
# (account, bot, 0 usage / 1 alert, conversation, start / delivered_at, index, event id).
def billed_usage_rows(columns: str, where: str) -> str:
    """The SQL of the billed usage rows (voided and superseded left out) with ``columns``
    (a select list over usage_sessions' columns) and extra ``where`` clauses (``AND ...``):
    the one place the rule is written, for the export and the usage summaries alike."""
    return f"""
    SELECT {columns}
    FROM
    (
        SELECT {", ".join(USAGE_COLUMNS)}, revision, billing_day
        FROM usage_sessions FINAL
        WHERE voided = 0 {where}
    ) AS usage
    ANY LEFT JOIN
    (
        SELECT account_id, bot_id, conversation_id, revision AS snapshot_revision,
               closed_end AS snapshot_closed_end
        FROM usage_snapshots FINAL
    ) AS snapshot USING (account_id, bot_id, conversation_id)
    WHERE revision >= snapshot_revision OR conversation_session_start <= snapshot_closed_end"""


_BILLED = f"""
SELECT {", ".join(USAGE_COLUMNS)}, event_id, delivered_at, kind
FROM
(
    {billed_usage_rows(f"{', '.join(USAGE_COLUMNS)}, '' AS event_id, "
                       "toInt64(0) AS delivered_at, toUInt8(0) AS kind, "
                       "conversation_session_start AS at", "{usage}")}
    UNION ALL
    SELECT account_id, bot_id, '' AS conversation_id, '' AS channel, '' AS user_id,
           toInt64(0) AS conversation_session_start, toInt64(0) AS conversation_session_end,
           toUInt32(0) AS session_index, toInt64(0) AS billing_session_start,
           toInt64(0) AS billing_session_end, event_id, delivered_at,
           toUInt8(1) AS kind, delivered_at AS at
    FROM alert_sessions FINAL
    WHERE 1 {{alerts}}
)
ORDER BY account_id, bot_id, kind, conversation_id, at, session_index, event_id
"""


class UsageSummary(NamedTuple):
    """Billed sessions of one bot in one UTC month (``month`` is its first day)."""

    account_id: str
    bot_id: str
    month: date
    usage_sessions: int
    alert_sessions: int


def billed_sessions(client: Client, *, account: str | None = None, bot: str | None = None,
                    day_from: date | None = None, day_to: date | None = None,
                    ) -> Iterator[UsageSession | AlertSession]:
    """What is billed now: latest revision of every usage session, voided and superseded
    ones left out (see ``_BILLED``), and the alert sessions, in ``row_sort_key`` order.
    ``day_from``/``day_to`` (inclusive) select on the billing day the rules gave each
    session (``billing_rules.periods``).
    """
    params: dict[str, Any] = {"account": account, "bot": bot,
                              "day_from": day_from, "day_to": day_to}
    sql = _BILLED.format(usage=_filters(params, "billing_day"),
                         alerts=_filters(params, "billing_day"))
    usage_width = len(USAGE_COLUMNS)
    with translated("usage_sessions, alert_sessions"):
        for row in client.execute_iter(sql, params, settings=_BLOCK):
            if row[-1] == 0:
                yield UsageSession(*row[:usage_width])
            else:
                yield AlertSession(*row[:2], *row[usage_width:usage_width + 2])


def raw_events(client: Client, *, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
    """The archived input events with ``start_ms <= occurred_at < end_ms``, deduplicated, as
    ``event_to_mapping`` gives them (test traffic included: the rules drop it), ordered by
    time. Redeliveries with different content may both appear; the rules' R1 keeps one."""
    sql = (f"SELECT {', '.join(EVENT_COLUMNS)} FROM raw_events FINAL "
           "WHERE occurred_at >= %(start)s AND occurred_at < %(end)s "
           "ORDER BY occurred_at, account_id, bot_id, conversation_id, event_id")
    with translated("raw_events"):
        for row in client.execute_iter(sql, {"start": start_ms, "end": end_ms},
                                       settings=_BLOCK):
            yield event_mapping(row[0], row[1:])


def usage_revisions(client: Client, conversation_ids: Iterable[str],
                    ) -> dict[tuple[str, str, str, int, int], int]:
    """The highest revision stored per usage-session identity, for these conversations
    (reconciliation writes one above it)."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    sql = ("SELECT account_id, bot_id, conversation_id, conversation_session_start, "
           "session_index, max(revision) FROM usage_sessions "
           "WHERE conversation_id IN %(ids)s "
           "GROUP BY account_id, bot_id, conversation_id, conversation_session_start, "
           "session_index")
    with translated("usage_sessions"):
        rows = client.execute(sql, {"ids": tuple(ids)})
    return {(a, b, c, int(start), int(index)): int(rev) for a, b, c, start, index, rev in rows}


def snapshot_revisions(client: Client, conversation_ids: Iterable[str],
                       ) -> dict[tuple[str, str, str], int]:
    """The newest snapshot revision per conversation (account, bot, conversation), for
    these conversations: a correction must ride above it, or the snapshot supersedes it."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    sql = ("SELECT account_id, bot_id, conversation_id, max(revision) FROM usage_snapshots "
           "WHERE conversation_id IN %(ids)s GROUP BY account_id, bot_id, conversation_id")
    with translated("usage_snapshots"):
        rows = client.execute(sql, {"ids": tuple(ids)})
    return {(a, b, c): int(rev) for a, b, c, rev in rows}


def usage_summary(client: Client, *, account: str | None = None, bot: str | None = None,
                  ) -> list[UsageSummary]:
    """Billed usage and alert sessions per account, bot and month (``bot_usage_monthly``)."""
    params = {"account": account, "bot": bot}
    sql = ("SELECT account_id, bot_id, month, usage_sessions, alert_sessions "
           f"FROM bot_usage_monthly WHERE 1 {_filters(params)} "
           "ORDER BY account_id, bot_id, month")
    with translated("bot_usage_monthly"):
        rows = client.execute(sql, params)
    return [UsageSummary(*row) for row in rows]


def _filters(params: dict[str, Any], day_column: str = "") -> str:
    """``AND ...`` for each filter given; values travel as parameters, never in the text."""
    clauses = []
    if params.get("account") is not None:
        clauses.append("account_id = %(account)s")
    if params.get("bot") is not None:
        clauses.append("bot_id = %(bot)s")
    if params.get("day_from") is not None:
        clauses.append(f"{day_column} >= toDate(%(day_from)s)")
    if params.get("day_to") is not None:
        clauses.append(f"{day_column} <= toDate(%(day_to)s)")
    return "".join(f" AND {clause}" for clause in clauses)
