"""``botbill plan-status [--as-of T] [--account A]``: the time-driven side of M5 for bots that
received no event (a trial that ends or is about to, a grant that expires, a downgrade at a
month's start), from what ClickHouse holds.

It recomputes every bot as of ``T`` (default now) with the engine (:mod:`jobs.money_data`)
and writes what changed: the bot's balance row (plan, status, flags, totals), its orders,
the notifications the rules gave up to ``T`` (ids from the engine, never retracted) and the
entitlement (``bot_entitlements`` in ClickHouse: the compacted ``bot-entitlements`` topic is
the balance agent's, not on main yet). Only rows that differ from the stored ones are
written, and every row has a deterministic key, so running it twice changes nothing. A row
carries ``version = T`` (ms): an older run never replaces a newer one. ``botbill worker``
runs it on a schedule (:mod:`jobs.schedule`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from typing import Any

from botbill.billing_rules.account_events import OrderPlaced
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.money import BotBook, Entitlement, Notification
from botbill.sinks import money as store
from botbill.sinks.entitlements import BotEntitlement, read_entitlements, write_entitlements

from ._cli import add_common, as_of_of
from .catalog_file import load_catalog
from .money_data import Recomputed, recompute

__all__ = ["PlanStatusRun", "balance_of", "main", "run_plan_status"]

Client = Any
REASONS = {"expired": "the trial has ended", "suspended": "the wallet is empty (balance <= 0)"}


@dataclass(frozen=True, slots=True)
class PlanStatusRun:
    """How many rows of each table a run wrote."""

    balances: int
    orders: int
    notifications: int
    entitlements: int


def balance_of(book: BotBook, as_of: int) -> store.BotBalance:
    """A registered bot's row as of ``as_of`` (the §4 figures, flags, owner, settings)."""
    flags = book.flags(as_of)
    downgrade = book.scheduled
    enabled, threshold, amount = book.auto_reload
    return store.BotBalance(
        book.account_id, book.bot_id, as_of, book.plan_id, book.status_at(as_of),
        book.granted, book.debited, book.expired, book.balance,
        owner_user_id=book.owner_user_id, registered_at=book.registered_at or 0,
        trial_end=book.trial_end or 0,
        downgrade_plan_id=downgrade[0] if downgrade else "",
        downgrade_at=downgrade[1] if downgrade else 0,
        expiring="expiring" in flags, extension_pending="extension_pending" in flags,
        auto_reload_enabled=enabled, auto_reload_threshold_cents=threshold,
        auto_reload_amount_cents=amount, version=as_of)


def _orders(found: Recomputed) -> list[store.Order]:
    placed: dict[tuple[str, str, str], int] = {}
    for item in (*found.movements, *found.outputs):
        if isinstance(item, OrderPlaced):
            key = (item.account_id, item.bot_id, item.order_id)
            placed[key] = min(placed.get(key, item.occurred_at), item.occurred_at)
    rows = []
    for (account_id, bot_id), book in sorted(found.books.items()):
        for order_id, order in sorted(book.orders.items()):
            rows.append(store.Order(account_id, bot_id, order_id,
                                    placed.get((account_id, bot_id, order_id), 0),
                                    order.amount, order.method, order.status,
                                    order.settled_at or 0))
    return rows


def _entitlements(found: Recomputed) -> list[BotEntitlement]:
    latest: dict[tuple[str, str], Entitlement] = {}
    for output in found.outputs:
        if isinstance(output, Entitlement):
            latest[(output.account_id, output.bot_id)] = output
    return [BotEntitlement(e.account_id, e.bot_id, e.allowed, e.status,
                           REASONS.get(e.status, ""), e.since, found.as_of)
            for _, e in sorted(latest.items())]


def _same(a: Any, b: Any) -> bool:
    """Equal apart from when it was computed (``as_of``/``version``)."""
    strip = {name: 0 for name in ("as_of", "version") if hasattr(a, name)}
    return bool(replace(a, **strip) == replace(b, **strip))


def run_plan_status(client: Client, catalog: Catalog, as_of: int, *,
                    account: str | None = None, found: Recomputed | None = None,
                    ) -> PlanStatusRun:
    """Recompute as of ``as_of`` (or take ``found``, that recompute, already made) and write
    what changed; see the module docstring."""
    if found is None:
        found = recompute(client, catalog, as_of, account=account)
    balances = [balance_of(book, as_of) for _, book in sorted(found.books.items())
                if book.registered_at is not None and book.registered_at <= as_of]
    stored_balances = {(b.account_id, b.bot_id): b
                       for b in store.read_balances(client, account=account)}
    new_balances = [b for b in balances
                    if not _same_or_stale(stored_balances.get((b.account_id, b.bot_id)), b)]
    store.write_balances(client, new_balances)

    stored_orders = {(o.account_id, o.bot_id, o.order_id): o
                     for o in store.read_orders(client, account=account)}
    new_orders = [o for o in _orders(found)
                  if stored_orders.get((o.account_id, o.bot_id, o.order_id)) != o]
    store.write_orders(client, new_orders)

    notes = [o for o in found.outputs if isinstance(o, Notification)]
    known: set[str] = set()
    for account_id in sorted({n.account_id for n in notes}):
        known.update(n.notification_id for n in store.read_notifications(client,
                                                                          account=account_id))
    new_notes = [store.Notification(n.account_id, n.bot_id, n.notification_id, n.at, n.kind,
                                    n.detail) for n in notes if n.notification_id not in known]
    store.write_notifications(client, new_notes)

    stored_rights = {(e.account_id, e.bot_id): e
                     for e in read_entitlements(client, account=account)}
    new_rights = [e for e in _entitlements(found)
                  if not _same_or_stale(stored_rights.get((e.account_id, e.bot_id)), e)]
    write_entitlements(client, new_rights)
    return PlanStatusRun(len(new_balances), len(new_orders), len(new_notes), len(new_rights))


def _same_or_stale(stored: Any, new: Any) -> bool:
    """Nothing to write: the stored row says the same, or was written as of a later T."""
    return stored is not None and (_same(stored, new) or stored.version > new.version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botbill plan-status", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(parser)
    args = parser.parse_args(argv)
    from botbill.sinks.connection import connect

    try:
        client = connect(args.url)
        try:
            done = run_plan_status(client, load_catalog(args.catalog), as_of_of(args),
                                   account=args.account)
        finally:
            client.disconnect()
    except BotbillError as error:
        print(f"botbill plan-status: {error}", file=sys.stderr)
        return 1
    print(f"botbill plan-status: wrote {done.balances} balance rows, {done.orders} orders, "
          f"{done.notifications} notifications, {done.entitlements} entitlements",
          file=sys.stderr)
    return 0
