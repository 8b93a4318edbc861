"""The money tables (migrations 0008-0014): typed rows, idempotent writes, deduplicated reads.

Writers: the balance agent (balances, orders, ledger, notifications), the invoicing job
(invoices, as ``billing_rules.invoices.Invoice``: the header's ``total_cents`` is stored for
SQL readers, and read back as the sum of the lines), ``botbill users add`` (users). Readers:
the admin API, ``balances export``, ``invoices export``. Every table is a
``ReplacingMergeTree`` on a deterministic key with an explicit version, read with ``FINAL``
(same on ClickHouse 18.16 and current), so writing the same rows again changes nothing and
a higher version replaces a lower one.

Flush order and failures: each ``write_*`` is one INSERT per table (atomic per block in
ClickHouse); a failure raises :class:`SinkUnavailable` and the caller retries the same rows
(idempotent) before it commits its Kafka offsets. :func:`write_invoice` writes the lines
before the header, so a reader never finds a header whose lines are missing; a crash in
between leaves unreferenced lines that the retry overwrites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

from botbill.billing_rules.invoices import Invoice, InvoiceLine
from botbill.billing_rules.timeutil import format_ms

from ._driver import translated
from .exceptions import SinkError

__all__ = [
    "BotBalance",
    "LedgerEntry",
    "Notification",
    "Order",
    "User",
    "read_balances",
    "read_invoices",
    "read_ledger",
    "read_notifications",
    "read_orders",
    "read_users",
    "user_by_token_hash",
    "write_balances",
    "write_invoice",
    "write_ledger",
    "write_notifications",
    "write_orders",
    "write_users",
]

Client = Any  # clickhouse_driver.Client, or anything with its execute(query, params)


@dataclass(frozen=True, slots=True)
class BotBalance:
    """One registered bot: the MONEY_RULES §4 balance row plus flags, owner and settings.
    ``""``/``0`` mean none (no downgrade scheduled, no trial end...)."""

    account_id: str
    bot_id: str
    as_of: int
    plan_id: str
    status: str
    granted_cents: int
    debited_cents: int
    expired_cents: int
    balance_cents: int
    owner_user_id: str = ""
    registered_at: int = 0
    trial_end: int = 0
    downgrade_plan_id: str = ""
    downgrade_at: int = 0
    expiring: bool = False
    extension_pending: bool = False
    auto_reload_enabled: bool = False
    auto_reload_threshold_cents: int = 0
    auto_reload_amount_cents: int = 0
    version: int = 0

    def to_row(self) -> dict[str, Any]:
        """The MONEY_RULES §4 balance line."""
        return {"account_id": self.account_id, "bot_id": self.bot_id,
                "as_of": format_ms(self.as_of), "plan_id": self.plan_id,
                "status": self.status, "granted_cents": self.granted_cents,
                "debited_cents": self.debited_cents, "expired_cents": self.expired_cents,
                "balance_cents": self.balance_cents}


@dataclass(frozen=True, slots=True)
class Order:
    """An "add funds" order; ``payment_status`` pending | paid | failed."""

    account_id: str
    bot_id: str
    order_id: str
    placed_at: int
    amount_cents: int
    payment_method: str
    payment_status: str = "pending"
    settled_at: int = 0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One wallet movement; ``amount_cents`` signed (+ grant, - debit or expiry)."""

    account_id: str
    bot_id: str
    entry_id: str
    at: int
    kind: str
    grant_id: str
    amount_cents: int
    reference: str = ""
    version: int = 1


@dataclass(frozen=True, slots=True)
class Notification:
    account_id: str
    bot_id: str
    notification_id: str
    at: int
    kind: str
    detail: str = ""
    version: int = 1


@dataclass(frozen=True, slots=True)
class User:
    """An API user; ``token_hash`` is the hex SHA-256 of the bearer token."""

    account_id: str
    user_id: str
    role: str
    token_hash: str
    created_at: int
    version: int = 1


def _columns(cls: type[Any], skip: tuple[str, ...] = ()) -> list[str]:
    return [f.name for f in fields(cls) if f.name not in skip]


def _insert(client: Client, table: str, columns: Sequence[str],
            rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        with translated(table):
            client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(rows))


def _select(client: Client, sql: str, params: Mapping[str, Any], table: str) -> list[Any]:
    with translated(table):
        return list(client.execute(sql, dict(params)))


def _where(params: Mapping[str, Any]) -> str:
    """``AND col = %(col)s`` for each filter given (values travel as parameters)."""
    return "".join(f" AND {name} = %({name})s" for name, value in params.items()
                   if value is not None)


def _present(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


_BALANCE_COLUMNS = _columns(BotBalance)


def write_balances(client: Client, balances: Iterable[BotBalance]) -> None:
    """Upsert bots' rows; the highest ``version`` per bot wins."""
    rows = [tuple(int(v) if isinstance(v, bool) else v for v in astuple(b)) for b in balances]
    _insert(client, "bot_balances", _BALANCE_COLUMNS, rows)


def read_balances(client: Client, *, account: str | None = None,
                  bot: str | None = None) -> list[BotBalance]:
    """Current rows, ordered by account then bot (MONEY_RULES §4 order)."""
    params = {"account_id": account, "bot_id": bot}
    sql = (f"SELECT {', '.join(_BALANCE_COLUMNS)} FROM bot_balances FINAL WHERE 1"
           f"{_where(params)} ORDER BY account_id, bot_id")
    flags = {"expiring", "extension_pending", "auto_reload_enabled"}
    out = []
    for row in _select(client, sql, _present(params), "bot_balances"):
        values: dict[str, Any] = {name: (bool(v) if name in flags else v)
                  for name, v in zip(_BALANCE_COLUMNS, row, strict=True)}
        out.append(BotBalance(**values))
    return out


_ORDER_COLUMNS = _columns(Order)


def write_orders(client: Client, orders: Iterable[Order]) -> None:
    """Upsert orders: version 1 pending, 2 settled, so a late redelivery of the placement
    never hides the settlement."""
    rows = [(*astuple(o), 1 if o.payment_status == "pending" else 2) for o in orders]
    _insert(client, "orders", [*_ORDER_COLUMNS, "version"], rows)


def read_orders(client: Client, *, account: str | None = None, bot: str | None = None,
                order_id: str | None = None) -> list[Order]:
    """Orders, newest first (then by id)."""
    params = {"account_id": account, "bot_id": bot, "order_id": order_id}
    sql = (f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders FINAL WHERE 1{_where(params)} "
           "ORDER BY placed_at DESC, order_id")
    return [Order(*row) for row in _select(client, sql, _present(params), "orders")]


_LINE_COLUMNS = _columns(InvoiceLine)


def write_invoice(client: Client, invoice: Invoice, *, version: int,
                  issued_at: int = 0) -> bool:
    """Write one invoice at ``version`` (e.g. the ``as_of`` it was computed for); returns
    whether anything was written.

    - a final invoice never changes: writing it again identical is a no-op, writing it
      different raises :class:`SinkError` (carry the correction to the next invoice);
    - a draft at a lower version than the stored one is stale: a no-op;
    - a final invoice is written above every draft version.
    """
    stored = _latest_headers(client, {"invoice_id": invoice.invoice_id,
                                      "account_id": invoice.account_id})
    current = stored.get(invoice.invoice_id)
    if current is not None:
        old_version, old_status = current[6], current[3]
        if old_status == "final":
            old = read_invoices(client, account=invoice.account_id,
                                invoice_id=invoice.invoice_id)
            if old and old[0] == invoice:
                return False
            raise SinkError(f"invoices: invoice {invoice.invoice_id} is final and never "
                            "changes; put the correction on the next invoice as an "
                            "adjustment line")
        if invoice.status == "final":
            version = max(version, old_version + 1)
        elif version < old_version:
            return False
    lines = [(invoice.account_id, invoice.invoice_id, version, number, *astuple(line))
             for number, line in enumerate(invoice.lines, start=1)]
    _insert(client, "invoice_lines",
            ["account_id", "invoice_id", "version", "line_no", *_LINE_COLUMNS], lines)
    _insert(client, "invoices",
            ["account_id", "invoice_id", "period", "status", "total_cents", "issued_at",
             "version"],
            [(invoice.account_id, invoice.invoice_id, invoice.period, invoice.status,
              invoice.total_cents, issued_at, version)])
    return True


def _latest_headers(client: Client, params: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    sql = ("SELECT account_id, invoice_id, period, status, total_cents, issued_at, version "
           f"FROM invoices FINAL WHERE 1{_where(params)} ORDER BY invoice_id")
    return {row[1]: tuple(row) for row in _select(client, sql, _present(params), "invoices")}


def read_invoices(client: Client, *, account: str | None = None, month: str | None = None,
                  invoice_id: str | None = None) -> list[Invoice]:
    """Invoices and receipts, ordered by ``invoice_id`` (``billing_rules.invoices.invoice_row``
    gives the MONEY_RULES §4 row); ``month`` ("YYYY-MM") selects the period."""
    headers = _latest_headers(client, {"account_id": account, "period": month,
                                       "invoice_id": invoice_id})
    if not headers:
        return []
    sql = (f"SELECT account_id, invoice_id, version, line_no, {', '.join(_LINE_COLUMNS)} "
           "FROM invoice_lines FINAL WHERE invoice_id IN %(ids)s "
           "ORDER BY invoice_id, version, line_no")
    lines: dict[tuple[str, str, int], list[InvoiceLine]] = {}
    for row in _select(client, sql, {"ids": tuple(headers)}, "invoice_lines"):
        lines.setdefault((row[0], row[1], row[2]), []).append(InvoiceLine(*row[4:]))
    out = []
    for inv_id, (acct, _, period, status, _total, _issued, version) in headers.items():
        out.append(Invoice(inv_id, acct, period, status,
                           tuple(lines.get((acct, inv_id, version), ()))))
    return out


_LEDGER_COLUMNS = _columns(LedgerEntry)


def write_ledger(client: Client, entries: Iterable[LedgerEntry]) -> None:
    _insert(client, "wallet_ledger", _LEDGER_COLUMNS, [astuple(e) for e in entries])


def read_ledger(client: Client, *, account: str, bot: str | None = None) -> list[LedgerEntry]:
    params = {"account_id": account, "bot_id": bot}
    sql = (f"SELECT {', '.join(_LEDGER_COLUMNS)} FROM wallet_ledger FINAL WHERE 1"
           f"{_where(params)} ORDER BY bot_id, at, entry_id")
    return [LedgerEntry(*row) for row in _select(client, sql, _present(params),
                                                 "wallet_ledger")]


_NOTIFICATION_COLUMNS = _columns(Notification)


def write_notifications(client: Client, notifications: Iterable[Notification]) -> None:
    _insert(client, "notifications", _NOTIFICATION_COLUMNS,
            [astuple(n) for n in notifications])


def read_notifications(client: Client, *, account: str,
                       bot: str | None = None) -> list[Notification]:
    params = {"account_id": account, "bot_id": bot}
    sql = (f"SELECT {', '.join(_NOTIFICATION_COLUMNS)} FROM notifications FINAL WHERE 1"
           f"{_where(params)} ORDER BY at DESC, notification_id")
    return [Notification(*row) for row in _select(client, sql, _present(params),
                                                  "notifications")]


_USER_COLUMNS = _columns(User)


def write_users(client: Client, users: Iterable[User]) -> None:
    _insert(client, "users", _USER_COLUMNS, [astuple(u) for u in users])


def read_users(client: Client, *, account: str | None = None) -> list[User]:
    params = {"account_id": account}
    sql = (f"SELECT {', '.join(_USER_COLUMNS)} FROM users FINAL WHERE 1{_where(params)} "
           "ORDER BY account_id, user_id")
    return [User(*row) for row in _select(client, sql, _present(params), "users")]


def user_by_token_hash(client: Client, token_hash: str) -> User | None:
    """The user whose current token has this hash (an old token of a user no longer does)."""
    sql = (f"SELECT {', '.join(_USER_COLUMNS)} FROM users FINAL "
           "WHERE token_hash = %(token_hash)s ORDER BY account_id, user_id LIMIT 1")
    rows = _select(client, sql, {"token_hash": token_hash}, "users")
    return User(*rows[0]) if rows else None
