"""Billed sessions counted per bucket (hour, day, month) for the admin API's usage summary and
the Manage view's "this month so far": deduplicated with ``FINAL``, voided sessions left out,
a usage session counted where its ``billing_session_start`` falls (R7), an alert at delivery.
Buckets are computed from epoch milliseconds (portable to 18.16); months with ``toYYYYMM``.
"""

from __future__ import annotations

from typing import Any, Literal

from ._driver import translated

__all__ = ["usage_buckets"]

Client = Any
_STEP_MS = {"hour": 3_600_000, "day": 86_400_000}


def usage_buckets(client: Client, *, account: str, unit: Literal["usage", "alert"],
                  group: Literal["hour", "day", "month"], start_ms: int, end_ms: int,
                  bot: str | None = None) -> list[tuple[int | str, int]]:
    """``[(bucket, sessions)]`` over ``[start_ms, end_ms)``, in bucket order; a bucket is the
    epoch ms of its hour/day start, or ``"YYYY-MM"`` for a month. Empty buckets are absent."""
    table, column, extra = (("usage_sessions", "billing_session_start", " AND voided = 0")
                            if unit == "usage" else ("alert_sessions", "delivered_at", ""))
    if group == "month":
        bucket = f"toYYYYMM(toDateTime(intDiv({column}, 1000), 'UTC'))"
    else:
        step = _STEP_MS[group]
        bucket = f"intDiv({column}, {step}) * {step}"
    params: dict[str, Any] = {"account": account, "start": start_ms, "end": end_ms}
    bot_filter = ""
    if bot is not None:
        params["bot"] = bot
        bot_filter = " AND bot_id = %(bot)s"
    sql = (f"SELECT bucket, count() AS sessions FROM (SELECT {bucket} AS bucket "
           f"FROM {table} FINAL WHERE account_id = %(account)s{bot_filter}{extra} "
           f"AND {column} >= %(start)s AND {column} < %(end)s) "
           "GROUP BY bucket ORDER BY bucket")
    with translated(table):
        rows = client.execute(sql, params)
    if group == "month":
        return [(f"{int(b) // 100:04d}-{int(b) % 100:02d}", int(n)) for b, n in rows]
    return [(int(b), int(n)) for b, n in rows]
