"""The money tables and their typed reads/writes, on chdb (a current ClickHouse) and, marked
``integration``, on the real server: idempotent writes, versions, final invoices frozen."""

from __future__ import annotations

import pytest

from botbill.billing_rules.invoices import Invoice, InvoiceLine, invoice_row
from botbill.sinks import SinkError
from botbill.sinks.migrations import available_migrations
from botbill.sinks.money import (
    BotBalance,
    LedgerEntry,
    Notification,
    Order,
    User,
    read_balances,
    read_invoices,
    read_ledger,
    read_notifications,
    read_orders,
    read_users,
    user_by_token_hash,
    write_balances,
    write_invoice,
    write_ledger,
    write_notifications,
    write_orders,
    write_users,
)

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_money_tables_exist(backend):
    tables = {name for (name,) in backend.client.execute("SHOW TABLES")}
    assert {"bot_balances", "orders", "invoices", "invoice_lines", "wallet_ledger",
            "notifications", "users"} <= tables
    assert {m.name for m in available_migrations()} >= {"bot_balances", "orders", "users"}


def test_balances_highest_version_wins_and_rewrite_is_a_no_op(backend, records):
    old = BotBalance(records.account, "bot-a", T, "standard", "active", 50_000, 100, 0,
                     49_900, owner_user_id="o1", version=1)
    new = BotBalance(records.account, "bot-a", T + 1, "standard", "low_balance", 50_000,
                     49_000, 0, 1_000, owner_user_id="o1", downgrade_plan_id="trial",
                     downgrade_at=T + 5, expiring=True, version=2)
    other = BotBalance(records.account, "bot-0", T, "enterprise", "active", 0, 0, 0, 0,
                       version=1)
    write_balances(backend.client, [new, old, other])
    write_balances(backend.client, [old])  # a redelivered older row
    got = read_balances(backend.client, account=records.account)
    assert got == [other, new]  # ordered by bot, the newer version of bot-a
    assert got[1].to_row() == {"account_id": records.account, "bot_id": "bot-a",
                               "as_of": "2026-01-01T00:00:00.001Z", "plan_id": "standard",
                               "status": "low_balance", "granted_cents": 50_000,
                               "debited_cents": 49_000, "expired_cents": 0,
                               "balance_cents": 1_000}
    assert read_balances(backend.client, account=records.account, bot="bot-0") == [other]


def test_a_settled_order_survives_a_redelivered_placement(backend, records):
    placed = Order(records.account, "bot-a", "o-1", T, 10_000, "card")
    paid = Order(records.account, "bot-a", "o-1", T, 10_000, "card", "paid", T + 60_000)
    write_orders(backend.client, [placed, paid])
    write_orders(backend.client, [placed])
    later = Order(records.account, "bot-b", "o-2", T + 1, 25_000, "wire_transfer")
    write_orders(backend.client, [later])
    assert read_orders(backend.client, account=records.account) == [later, paid]
    assert read_orders(backend.client, account=records.account, bot="bot-a") == [paid]


def _invoice(account: str, status: str, quantity: int) -> Invoice:
    lines = (InvoiceLine("bot-a", "subscription", 1, 9_900, 9_900),
             InvoiceLine("bot-a", "usage_overage", quantity, 12, 12 * quantity))
    return Invoice(f"INV-{account}-2026-01", account, "2026-01", status, lines)


def test_drafts_are_replaced_and_a_final_invoice_never_changes(backend, records):
    draft_2 = _invoice(records.account, "draft", 2)
    draft_5 = _invoice(records.account, "draft", 5)
    assert write_invoice(backend.client, draft_5, version=5)
    assert not write_invoice(backend.client, draft_2, version=2)  # stale draft
    assert read_invoices(backend.client, account=records.account) == [draft_5]
    shorter = Invoice(draft_5.invoice_id, records.account, "2026-01", "draft",
                      draft_5.lines[:1])
    assert write_invoice(backend.client, shorter, version=6)
    assert read_invoices(backend.client, account=records.account) == [shorter]
    final = _invoice(records.account, "final", 7)
    assert write_invoice(backend.client, final, version=3)  # lands above every draft
    assert not write_invoice(backend.client, final, version=9)  # the same again: nothing
    with pytest.raises(SinkError, match="final"):
        write_invoice(backend.client, _invoice(records.account, "final", 8), version=10)
    with pytest.raises(SinkError, match="final"):
        write_invoice(backend.client, draft_5, version=11)
    got = read_invoices(backend.client, account=records.account, month="2026-01")
    assert got == [final]
    assert invoice_row(got[0])["total_cents"] == 9_900 + 7 * 12
    assert read_invoices(backend.client, account=records.account, month="2026-02") == []


def test_the_header_stores_the_total_of_the_lines_for_sql_readers(backend, records):
    write_invoice(backend.client, _invoice(records.account, "final", 3), version=1)
    rows = backend.client.execute(
        "SELECT total_cents FROM invoices FINAL WHERE account_id = %(a)s", {"a": records.account})
    assert [tuple(r) for r in rows] == [(9_900 + 3 * 12,)]


def test_ledger_notifications_and_users_collapse_on_their_ids(backend, records):
    entries = [LedgerEntry(records.account, "bot-a", "grant:signup:bot-a", T, "grant",
                           "signup:bot-a", 50_000),
               LedgerEntry(records.account, "bot-a", "debit:s1:signup:bot-a", T + 1, "debit",
                           "signup:bot-a", -20, "s1")]
    write_ledger(backend.client, entries)
    write_ledger(backend.client, entries[::-1])
    assert read_ledger(backend.client, account=records.account) == entries
    note = Notification(records.account, "bot-a", "n:low_balance:1", T, "low_balance")
    write_notifications(backend.client, [note, note])
    assert read_notifications(backend.client, account=records.account) == [note]
    first = User(records.account, "ann", "admin", "a" * 64, T, 1)
    rotated = User(records.account, "ann", "admin", "b" * 64, T, 2)
    write_users(backend.client, [first, rotated])
    assert read_users(backend.client, account=records.account) == [rotated]
    assert user_by_token_hash(backend.client, "b" * 64) == rotated
    assert user_by_token_hash(backend.client, "a" * 64) is None


def test_usage_buckets_count_live_sessions_by_hour_day_and_month(backend, records):
    from botbill.billing_rules.sessions import SessionChange
    from botbill.sinks import SinkBatch
    from botbill.sinks.usage import usage_buckets

    hour = 3_600_000
    start = T + 25 * hour + 5 * 60_000  # 2026-01-02T01:05Z
    live = [SessionChange(records.usage(i, start=start), 1, False) for i in (1, 2, 3, 4, 5)]
    gone = SessionChange(records.usage(1, conversation="c-void", start=start), 2, True)
    late = SessionChange(records.usage(1, conversation="c-feb", start=T + 40 * 24 * hour),
                         1, False)
    backend.write(SinkBatch(usage_changes=[*live, gone, late],
                            alert_sessions=[records.alert("a1", start),
                                            records.alert("a2", T - 1)]))

    def buckets(unit, group, bot=None):
        return usage_buckets(backend.client, account=records.account, unit=unit, group=group,
                             start_ms=T, end_ms=T + 60 * 24 * hour, bot=bot)

    # sessions start every 15 minutes from 01:05: 01:05, 01:20, 01:35, 01:50, 02:05
    assert buckets("usage", "hour") == [(T + 25 * hour, 4), (T + 26 * hour, 1),
                                        (T + 40 * 24 * hour, 1)]
    assert buckets("usage", "day") == [(T + 24 * hour, 5), (T + 40 * 24 * hour, 1)]
    assert buckets("usage", "month") == [("2026-01", 5), ("2026-02", 1)]
    assert buckets("alert", "month") == [("2026-01", 1)]  # a2 is before the window
    assert buckets("usage", "month", bot="bot-z") == []
