"""What is billed: usage sessions (R6, R7), alert sessions (R8), and the stream's changes.

``to_row`` gives the JSON Lines form of BILLING_RULES §3, shared by ``replay`` and the
finance export so that the two can be compared row for row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import AlertDelivered
from .timeutil import format_ms

__all__ = ["AlertSession", "SessionChange", "UsageSession", "alert_session", "row_sort_key",
           "to_row"]


@dataclass(frozen=True, slots=True)
class UsageSession:
    """One billed 15-minute usage session. Times are epoch ms, UTC.

    Identity (what a correction replaces or voids): ``identity``.
    """

    account_id: str
    bot_id: str
    conversation_id: str
    channel: str
    user_id: str
    conversation_session_start: int
    conversation_session_end: int
    session_index: int
    billing_session_start: int
    billing_session_end: int

    @property
    def identity(self) -> tuple[str, str, str, int, int]:
        return (self.account_id, self.bot_id, self.conversation_id,
                self.conversation_session_start, self.session_index)


@dataclass(frozen=True, slots=True)
class AlertSession:
    """One delivered alert (R8)."""

    account_id: str
    bot_id: str
    event_id: str
    delivered_at: int


def alert_session(event: AlertDelivered) -> AlertSession:
    """R8: every delivered alert that R1 and R2 let through is one alert session, at its
    ``occurred_at``."""
    return AlertSession(event.account_id, event.bot_id, event.event_id, event.occurred_at)


@dataclass(frozen=True, slots=True)
class SessionChange:
    """The stream's output for one usage session: opened (or updated) or voided.

    ``revision`` only grows per conversation: it is the number of distinct events the
    conversation has applied, so a rebuilt or replayed state never outranks a newer one.
    """

    session: UsageSession
    revision: int
    voided: bool


def to_row(session: UsageSession | AlertSession) -> dict[str, Any]:
    """The BILLING_RULES §3 JSON object for one billed session."""
    if isinstance(session, AlertSession):
        return {"kind": "alert", "account_id": session.account_id, "bot_id": session.bot_id,
                "event_id": session.event_id, "delivered_at": format_ms(session.delivered_at)}
    return {
        "kind": "usage",
        "account_id": session.account_id,
        "bot_id": session.bot_id,
        "conversation_id": session.conversation_id,
        "channel": session.channel,
        "user_id": session.user_id,
        "conversation_session_start": format_ms(session.conversation_session_start),
        "conversation_session_end": format_ms(session.conversation_session_end),
        "session_index": session.session_index,
        "billing_session_start": format_ms(session.billing_session_start),
        "billing_session_end": format_ms(session.billing_session_end),
    }


def row_sort_key(session: UsageSession | AlertSession) -> tuple[Any, ...]:
    """The stable output order: account, bot, then usage by conversation and time, alerts by
    delivery time."""
    if isinstance(session, AlertSession):
        return (session.account_id, session.bot_id, 1, "", session.delivered_at, 0,
                session.event_id)
    return (session.account_id, session.bot_id, 0, session.conversation_id,
            session.conversation_session_start, session.session_index, "")
