"""M3: monthly invoices of the fee-paying plans, receipts of paid orders, and the balance
rows of MONEY_RULES §4, from the bots' books as of an instant.

Pure: the books hold every movement at or before ``as_of`` (:func:`money.run_books`); this
module only reads them. The one rounding of the money rules is here (:func:`prorate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .calendar import month_bounds, month_key, month_text
from .catalog import Catalog
from .money import DAY_MS, BotBook, BotKey
from .timeutil import format_ms

__all__ = [
    "DEFAULT_GRACE_MS",
    "Invoice",
    "InvoiceLine",
    "adjustment_lines",
    "balance_rows",
    "carry_adjustments",
    "enterprise_accounts",
    "invoice_row",
    "invoice_rows",
    "invoices",
    "prorate",
]

DEFAULT_GRACE_MS = DAY_MS
_KINDS = ("subscription", "usage_overage", "alert_overage", "adjustment")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    bot_id: str
    kind: str  # subscription | usage_overage | alert_overage | adjustment | funds
    quantity: int
    unit_price_cents: int
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    account_id: str
    period: str  # YYYY-MM
    status: str  # draft | final
    lines: tuple[InvoiceLine, ...]

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def prorate(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even (both >= 0, denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def _fee_periods(book: BotBook, catalog: Catalog) -> list[tuple[int, int, str]]:
    """``(from, to, plan_id)`` of the bot's periods on invoiced plans; the plan in effect
    as of the book's last movement lasts for ever (a draft counts it to the month's end)."""
    timeline = book.timeline
    periods = []
    for index, (start, plan_id) in enumerate(timeline):
        end = timeline[index + 1][0] if index + 1 < len(timeline) else 2**63
        if end > start and catalog.plans[plan_id].billing == "invoice":
            periods.append((start, end, plan_id))
    return periods


def _bot_lines(book: BotBook, catalog: Catalog, month: int) -> list[InvoiceLine]:
    start, end = month_bounds(month)
    fee_time = 0
    weighted = 0
    last_plan = ""
    for since, until, plan_id in _fee_periods(book, catalog):
        overlap = min(until, end) - max(since, start)
        if overlap > 0:
            fee_time += overlap
            weighted += catalog.plans[plan_id].monthly_fee_cents * overlap
            last_plan = plan_id
    if not fee_time:
        return []
    plan = catalog.plans[last_plan]
    fee = prorate(weighted, end - start)
    usage = max(0, book.fee_sessions.get((month, "usage"), 0) - plan.included_usage_sessions)
    alerts = max(0, book.fee_sessions.get((month, "alert"), 0) - plan.included_alert_sessions)
    return [
        InvoiceLine(book.bot_id, "subscription", 1, fee, fee),
        InvoiceLine(book.bot_id, "usage_overage", usage, plan.usage_price_cents,
                    usage * plan.usage_price_cents),
        InvoiceLine(book.bot_id, "alert_overage", alerts, plan.alert_price_cents,
                    alerts * plan.alert_price_cents),
    ]


def invoices(books: Mapping[BotKey, BotBook], catalog: Catalog, as_of: int,
             grace_ms: int = DEFAULT_GRACE_MS) -> list[Invoice]:
    """Every invoice and receipt as of ``as_of``, ordered by ``invoice_id``."""
    last_month = month_key(as_of)
    per_account: dict[tuple[str, int], list[InvoiceLine]] = {}
    result: list[Invoice] = []
    for (account_id, _), book in sorted(books.items()):
        periods = _fee_periods(book, catalog)
        months = sorted({m for since, until, _ in periods
                         for m in range(month_key(since),
                                        min(month_key(min(until - 1, as_of)), last_month) + 1)})
        for month in months:
            lines = _bot_lines(book, catalog, month)
            if lines:
                per_account.setdefault((account_id, month), []).extend(lines)
        for order_id, amount, settled_at in book.paid_orders:
            line = InvoiceLine(book.bot_id, "funds", 1, amount, amount)
            result.append(Invoice(f"RCT-{order_id}", account_id, month_text(month_key(settled_at)),
                                  "final", (line,)))
    for (account_id, month), lines in per_account.items():
        final = as_of >= month_bounds(month)[1] + grace_ms
        lines.sort(key=lambda line: (line.bot_id, _KINDS.index(line.kind)))
        result.append(Invoice(f"INV-{account_id}-{month_text(month)}", account_id,
                              month_text(month), "final" if final else "draft", tuple(lines)))
    result.sort(key=lambda invoice: invoice.invoice_id)
    return result


def adjustment_lines(finals: Iterable[Invoice], recomputed: Iterable[Invoice],
                     ) -> tuple[InvoiceLine, ...]:
    """The corrections learned after monthly invoices became final (M3: a final invoice never
    changes; the difference goes on the next invoice as ``adjustment`` lines).

    ``finals``: one account's monthly invoices as issued (final), adjustment lines included
    (drafts and receipts among them are ignored);
    ``recomputed``: what the rules give for those invoices now (by ``invoice_id``; one that no
    longer exists counts 0). Per bot, the line is what the rules charge over those months
    minus everything already invoiced for them, so a correction carried once is never
    carried again: quantity 1, unit price = amount (negative is a credit). Bots in order;
    no line where nothing changed. Receipts are never adjusted (a settlement is once).
    """
    issued: dict[str, int] = {}
    ids = set()
    for invoice in finals:
        if invoice.status != "final" or not invoice.invoice_id.startswith("INV-"):
            continue  # drafts still change, receipts never do: neither is adjusted
        ids.add(invoice.invoice_id)
        for line in invoice.lines:
            issued[line.bot_id] = issued.get(line.bot_id, 0) + line.amount_cents
    owed: dict[str, int] = {}
    for invoice in recomputed:
        if invoice.invoice_id in ids:
            for line in invoice.lines:
                owed[line.bot_id] = owed.get(line.bot_id, 0) + line.amount_cents
    lines = []
    for bot_id in sorted(issued.keys() | owed.keys()):
        delta = owed.get(bot_id, 0) - issued.get(bot_id, 0)
        if delta:
            lines.append(InvoiceLine(bot_id, "adjustment", 1, delta, delta))
    return tuple(lines)


def carry_adjustments(invoice: Invoice | None, adjustments: Iterable[InvoiceLine], *,
                      account_id: str, period: str, status: str) -> Invoice | None:
    """The month's invoice with the adjustment lines added (each after its bot's lines); an
    invoice of adjustments only when the month has none; ``None`` when there is neither."""
    extra = tuple(adjustments)
    if not extra:
        return invoice
    if invoice is None:
        invoice = Invoice(f"INV-{account_id}-{period}", account_id, period, status, ())
    lines = sorted((*invoice.lines, *extra),
                   key=lambda line: (line.bot_id, _KINDS.index(line.kind)))
    return Invoice(invoice.invoice_id, invoice.account_id, invoice.period, invoice.status,
                   tuple(lines))


def invoice_row(invoice: Invoice) -> dict[str, Any]:
    """The MONEY_RULES §4 invoice row."""
    return {"invoice_id": invoice.invoice_id, "account_id": invoice.account_id,
            "period": invoice.period, "status": invoice.status,
            "lines": [{"bot_id": line.bot_id, "kind": line.kind, "quantity": line.quantity,
                       "unit_price_cents": line.unit_price_cents,
                       "amount_cents": line.amount_cents} for line in invoice.lines],
            "total_cents": invoice.total_cents}


def invoice_rows(found: list[Invoice]) -> list[dict[str, Any]]:
    """MONEY_RULES §4 invoice rows."""
    return [invoice_row(i) for i in found]


def balance_rows(books: Mapping[BotKey, BotBook], as_of: int) -> list[dict[str, Any]]:
    """MONEY_RULES §4 balance rows: one per bot registered at or before ``as_of``."""
    return [{"account_id": account_id, "bot_id": bot_id, "as_of": format_ms(as_of),
             "plan_id": book.plan_id, "status": book.status_at(as_of),
             "granted_cents": book.granted, "debited_cents": book.debited,
             "expired_cents": book.expired, "balance_cents": book.balance}
            for (account_id, bot_id), book in sorted(books.items())
            if book.registered_at is not None and book.registered_at <= as_of]


def enterprise_accounts(books: Mapping[BotKey, BotBook], catalog: Catalog) -> set[str]:
    """Accounts whose registered bots are all on a ``contract`` plan (``enterprise``) now:
    the console shows them no Orders & Invoices (MONEY_RULES §1)."""
    plans: dict[str, set[str]] = {}
    for (account_id, _), book in books.items():
        if book.registered_at is not None:
            plans.setdefault(account_id, set()).add(catalog.plans[book.plan_id].billing)
    return {account for account, kinds in plans.items() if kinds == {"contract"}}
