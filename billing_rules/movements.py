"""What the money engine takes and gives: movements (account events, :class:`Charge`,
:class:`Void`) in the order of MONEY_RULES M1 within an instant (:func:`movement_key`), and
outputs (ledger entries, notifications, entitlements, rejections; derived auto-reload orders
are :class:`~.account_events.OrderPlaced`), each with a deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .account_events import AccountEvent, OrderPlaced

__all__ = [
    "Charge",
    "Draws",
    "Entitlement",
    "LedgerEntry",
    "Movement",
    "Notification",
    "Output",
    "Rejection",
    "SessionKind",
    "Void",
    "movement_key",
]

SessionKind = Literal["usage", "alert"]


@dataclass(frozen=True, slots=True)
class Charge:
    """A billed session that starts at ``at`` (usage: ``billing_session_start``, alert:
    ``delivered_at``); ``session_id`` is its identity (the same session charges once)."""

    account_id: str
    bot_id: str
    at: int
    kind: SessionKind
    session_id: str


@dataclass(frozen=True, slots=True)
class Void:
    """A session the stream voided (BILLING_RULES §4), learned at ``at``."""

    account_id: str
    bot_id: str
    at: int
    session_id: str


Movement = AccountEvent | Charge | Void


def movement_key(movement: Movement) -> tuple[int, int, int, str]:
    """The total order of M1 within an instant: account events (step 2) by ``event_id``,
    then debits (step 4) by session identity, then voids."""
    if isinstance(movement, Charge):
        return (movement.at, 4, 0, movement.session_id)
    if isinstance(movement, Void):
        return (movement.at, 4, 1, movement.session_id)
    return (movement.occurred_at, 2, 0, movement.event_id)


# -- outputs -------------------------------------------------------------------------------

Draws = tuple[tuple[str, int], ...]
"""``(grant_id, cents)`` a debit drew from; ``""`` is the overdraft."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One wallet movement. ``kind``: grant, debit, reversal (a void gives a debit back),
    repayment (a grant paying overdraft, ``draws`` = the debits it paid), expiry."""

    entry_id: str
    account_id: str
    bot_id: str
    at: int
    kind: str
    amount_cents: int
    grant_id: str = ""
    session_id: str = ""
    draws: Draws = ()


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: str
    account_id: str
    bot_id: str
    at: int
    kind: str  # low_balance, suspended, expired, expiring, downgrade_scheduled, ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Entitlement:
    """May the bot serve users (M5)? Written when it changes (a compacted topic's value)."""

    account_id: str
    bot_id: str
    allowed: bool
    status: str
    since: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """An account event that breaks a rule: never applied."""

    event: AccountEvent
    reason: str


Output = LedgerEntry | Notification | Entitlement | Rejection | OrderPlaced
