"""Billed sessions counted per bucket (hour, day, month) for the admin API's usage summary and
the Manage view's "this month so far": deduplicated with ``FINAL``, voided and superseded
sessions left out (``queries.billed_usage_rows``),
a usage session counted where its ``billing_session_start`` falls (R7), an alert at delivery.
Days and months come from the ``billing_day`` the sink stored from the rules
(``billing_rules.periods``), never re-derived here; hours from the instant itself.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ._driver import translated
from .queries import billed_usage_rows

__all__ = ["usage_buckets"]

Client = Any
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


def usage_buckets(client: Client, *, account: str, unit: Literal["usage", "alert"],
                  group: Literal["hour", "day", "month"], start_ms: int, end_ms: int,
                  bot: str | None = None) -> list[tuple[int | str, int]]:
    """``[(bucket, sessions)]`` over ``[start_ms, end_ms)``, in bucket order; a bucket is the
    epoch ms of its hour/day start, or ``"YYYY-MM"`` for a month. Empty buckets are absent."""
    table, column = (("usage_sessions", "billing_session_start") if unit == "usage"
                     else ("alert_sessions", "delivered_at"))
    if group == "month":
        bucket = "toStartOfMonth(billing_day)"
    elif group == "day":
        bucket = "billing_day"
    else:
        bucket = f"intDiv({column}, {_HOUR_MS}) * {_HOUR_MS}"
    params: dict[str, Any] = {"account": account, "start": start_ms, "end": end_ms}
    bot_filter = ""
    if bot is not None:
        params["bot"] = bot
        bot_filter = " AND bot_id = %(bot)s"
    where = (f"AND account_id = %(account)s{bot_filter} "
             f"AND {column} >= %(start)s AND {column} < %(end)s")
    rows_sql = (billed_usage_rows(f"{bucket} AS bucket", where) if unit == "usage"
                else f"SELECT {bucket} AS bucket FROM {table} FINAL WHERE 1 {where}")
    sql = (f"SELECT bucket, count() AS sessions FROM ({rows_sql}) "
           "GROUP BY bucket ORDER BY bucket")
    with translated(table):
        rows = client.execute(sql, params)
    if group == "month":
        return [(f"{b.year:04d}-{b.month:02d}", int(n)) for b, n in rows]
    if group == "day":
        return [((b - _EPOCH).days * _DAY_MS, int(n)) for b, n in rows]
    return [(int(b), int(n)) for b, n in rows]
