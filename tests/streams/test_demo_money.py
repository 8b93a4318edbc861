"""``streams.demo_money``: the demo's money tables (ClickHouse next to replay)."""

from __future__ import annotations

from typing import Any

import pytest

from botbill.streams.demo_money import balances_table, cents, invoices_lines


@pytest.mark.parametrize(("amount", "text"), [
    (0, "$0.00"), (5, "$0.05"), (100, "$1.00"), (35_720, "$357.20"),
    (123_456_789, "$1,234,567.89"), (-1, "-$0.01"), (-50_000, "-$500.00")])
def test_cents_are_printed_exactly(amount: int, text: str) -> None:
    assert cents(amount) == text


def _balance(bot: str, balance: int, status: str = "active") -> dict[str, Any]:
    return {"account_id": "a", "bot_id": bot, "as_of": "2026-12-02T00:00:00.000Z",
            "plan_id": "standard", "status": status, "granted_cents": 50_000,
            "debited_cents": 50_000 - balance, "expired_cents": 0, "balance_cents": balance}


def test_equal_balances_agree() -> None:
    rows = [_balance("b1", 100), _balance("b2", 0)]
    text, agree = balances_table(rows, [dict(r) for r in rows])
    assert agree
    assert "DIFFERENT" not in text and text.count(" ok") == 2


@pytest.mark.parametrize("theirs", [
    [_balance("b1", 101)],                    # another balance
    [_balance("b1", 100, status="suspended")],  # same money, another status
    [{**_balance("b1", 100), "expired_cents": 1}],  # a total not shown still counts
    [],                                       # a bot missing on one side
])
def test_any_difference_disagrees(theirs: list[dict[str, Any]]) -> None:
    text, agree = balances_table([_balance("b1", 100)], theirs)
    assert not agree
    assert "DIFFERENT" in text


def _invoice(total: int) -> dict[str, Any]:
    return {"invoice_id": "INV-a-2026-12", "account_id": "a", "period": "2026-12",
            "status": "draft", "total_cents": total,
            "lines": [{"bot_id": "b1", "kind": "usage", "quantity": 1,
                       "unit_price_cents": total, "amount_cents": total}]}


def test_invoices_compare_whole_rows() -> None:
    assert invoices_lines([_invoice(1200)], [_invoice(1200)])[1]
    text, agree = invoices_lines([_invoice(1200)], [_invoice(1201)])
    assert not agree
    assert "$12.00" in text and "$12.01" in text
    assert not invoices_lines([], [_invoice(1200)])[1]
