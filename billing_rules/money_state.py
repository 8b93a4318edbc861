"""A :class:`~.money.BotBook` as plain JSON-ready data, and back: the changelog form of the
stream's balance agent (one book per bot). A book restored from its dict continues exactly
as the original would (a property test folds part, restores, folds the rest, and compares
with the uninterrupted fold)."""

from __future__ import annotations

from typing import Any, cast

from .account_events import OrderPlaced, account_event_from_mapping, account_event_to_mapping
from .catalog import Catalog
from .money import BotBook, ChargedSession, Debt, Lot, Order
from .movements import SessionKind

__all__ = ["book_from_dict", "book_to_dict"]

_PLAIN = ("registered_at", "owner_user_id", "plan_id", "had_wallet", "trial_end",
          "trial_usage", "trial_exhausted_at", "requests", "reloads_placed", "overdraft",
          "generations", "granted", "debited", "expired", "open_instant", "clock",
          "last_eval", "status", "expiring", "allowed")


def book_to_dict(book: BotBook) -> dict[str, Any]:
    """Everything the book knows, as JSON-ready data (the catalog is not included)."""
    data: dict[str, Any] = {name: getattr(book, name) for name in _PLAIN}
    data.update(
        account_id=book.account_id, bot_id=book.bot_id,
        catalog_version=book.catalog.version,
        timeline=[list(item) for item in book.timeline],
        scheduled=list(book.scheduled) if book.scheduled else None,
        orders={k: [o.amount, o.method, o.status, o.settled_at]
                for k, o in book.orders.items()},
        echoes={k: account_event_to_mapping(e) for k, e in book.echoes.items()},
        auto_reload=list(book.auto_reload),
        lots=[[lot.grant_id, lot.amount, lot.remaining, lot.available, lot.expires_at,
               lot.expired] for lot in book.lots.values()],
        unpaid=[[debt.session_id, debt.cents] for debt in book.unpaid],
        sessions={k: [s.billing, s.kind, s.month, [list(d) for d in s.draws.items()]]
                  for k, s in book.sessions.items()},
        fee_sessions=[[month, kind, count] for (month, kind), count
                      in book.fee_sessions.items()],
        paid_orders=[list(item) for item in book.paid_orders],
        seen=sorted(book.seen),
        expiry_queue=[list(item) for item in book.expiry_queue],
        position=list(book.position),
    )
    return data


def book_from_dict(data: dict[str, Any], catalog: Catalog) -> BotBook:
    """The inverse of :func:`book_to_dict`, with the catalog in force."""
    book = BotBook(data["account_id"], data["bot_id"], catalog)
    for name in _PLAIN:
        setattr(book, name, data[name])
    book.timeline = [(int(t), str(p)) for t, p in data["timeline"]]
    scheduled = data["scheduled"]
    book.scheduled = (scheduled[0], scheduled[1], scheduled[2]) if scheduled else None
    book.orders = {k: Order(*v) for k, v in data["orders"].items()}
    book.echoes = {k: cast(OrderPlaced, account_event_from_mapping(v))
                   for k, v in data["echoes"].items()}
    enabled, threshold, amount = data["auto_reload"]
    book.auto_reload = (enabled, threshold, amount)
    book.lots = {row[0]: Lot(*row) for row in data["lots"]}
    book.unpaid = [Debt(sid, cents) for sid, cents in data["unpaid"]]
    book.sessions = {k: ChargedSession(billing, cast(SessionKind, kind), month, dict(draws))
                     for k, (billing, kind, month, draws) in data["sessions"].items()}
    book.fee_sessions = {(month, cast(SessionKind, kind)): count
                         for month, kind, count in data["fee_sessions"]}
    book.paid_orders = [(str(o), int(c), int(t)) for o, c, t in data["paid_orders"]]
    book.seen = set(data["seen"])
    book.expiry_queue = [(int(t), str(g)) for t, g in data["expiry_queue"]]
    t, step, sub, key = data["position"]
    book.position = (t, step, sub, key)
    return book
