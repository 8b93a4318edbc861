"""R7/R8: the UTC billing day and month a billed session belongs to.

A usage session belongs to the day and month in which it starts (``billing_session_start``),
an alert session to those of its delivery. This is the one place that says so: ``replay
--summary``, ``reconcile`` and the ClickHouse writer (which stores ``billing_day`` for the
finance views to group by) all call it.
"""

from __future__ import annotations

from datetime import date, timedelta

from .sessions import AlertSession, UsageSession
from .timeutil import DAY_MS

__all__ = ["billed_at", "billing_day", "billing_month", "day_of"]

_EPOCH_DAY = date(1970, 1, 1)


def billed_at(session: UsageSession | AlertSession) -> int:
    """The instant (epoch ms) that decides the session's period."""
    if isinstance(session, AlertSession):
        return session.delivered_at
    return session.billing_session_start


def day_of(epoch_ms: int) -> date:
    """The UTC calendar day of an instant."""
    return _EPOCH_DAY + timedelta(days=epoch_ms // DAY_MS)


def billing_day(session: UsageSession | AlertSession) -> date:
    """The UTC day the session is billed on."""
    return day_of(billed_at(session))


def billing_month(session: UsageSession | AlertSession) -> date:
    """The UTC month the session is billed in, as its first day."""
    return billing_day(session).replace(day=1)
