"""Calendar months in UTC on integer epoch milliseconds (MONEY_RULES: ``month_start``).

A month is named by its *key*, ``year * 12 + month - 1``, so that consecutive months are
consecutive integers. Only integer arithmetic: ``timedelta`` of whole milliseconds is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["month_bounds", "month_key", "month_start", "month_text", "next_month_start"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def month_key(t: int) -> int:
    """The key of the month ``t`` (epoch ms) falls in."""
    moment = _EPOCH + timedelta(milliseconds=t)
    return moment.year * 12 + moment.month - 1


def month_bounds(key: int) -> tuple[int, int]:
    """``[start, end)`` of month ``key`` in epoch ms."""
    year, month = divmod(key, 12)
    after_year, after_month = divmod(key + 1, 12)
    return (_to_ms(datetime(year, month + 1, 1, tzinfo=UTC)),
            _to_ms(datetime(after_year, after_month + 1, 1, tzinfo=UTC)))


def month_start(t: int) -> int:
    """``month_start(t)``: 00:00 UTC of the first day of ``t``'s month."""
    return month_bounds(month_key(t))[0]


def next_month_start(t: int) -> int:
    """``month_start`` of the month after ``t``'s."""
    return month_bounds(month_key(t))[1]


def month_text(key: int) -> str:
    """``YYYY-MM``."""
    year, month = divmod(key, 12)
    return f"{year:04d}-{month + 1:02d}"
