"""M3 corrections: a final invoice never changes, what the rules say later goes on the next
invoice as ``adjustment`` lines, exactly once. Oracle: per bot, what the rules charge for the
final months minus everything issued for them (written from MONEY_RULES M3 alone)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from botbill.billing_rules.invoices import (
    Invoice,
    InvoiceLine,
    adjustment_lines,
    carry_adjustments,
)

BOTS = ("bot-a", "bot-b", "bot-c")
KINDS = ("subscription", "usage_overage", "alert_overage")


def line(bot: str, kind: str, amount: int) -> InvoiceLine:
    return InvoiceLine(bot, kind, 1, amount, amount)


lines = st.lists(st.builds(line, st.sampled_from(BOTS), st.sampled_from(KINDS),
                           st.integers(0, 60_000)), max_size=6)


def monthly(month: int, body: list[InvoiceLine], status: str = "final") -> Invoice:
    return Invoice(f"INV-acct-2026-{month:02d}", "acct", f"2026-{month:02d}", status,
                   tuple(body))


def oracle(issued: list[Invoice], now: list[Invoice]) -> dict[str, int]:
    finals = [i for i in issued if i.status == "final" and i.invoice_id.startswith("INV-")]
    ids = {i.invoice_id for i in finals}
    delta: dict[str, int] = {}
    for invoice in now:
        if invoice.invoice_id in ids:
            for item in invoice.lines:
                delta[item.bot_id] = delta.get(item.bot_id, 0) + item.amount_cents
    for invoice in finals:
        for item in invoice.lines:
            delta[item.bot_id] = delta.get(item.bot_id, 0) - item.amount_cents
    return {bot: cents for bot, cents in delta.items() if cents}


def test_nothing_learned_nothing_carried() -> None:
    issued = [monthly(1, [line("bot-a", "subscription", 9900)])]
    assert adjustment_lines(issued, issued) == ()


def test_a_late_overage_is_one_line_for_its_bot() -> None:
    issued = [monthly(2, [line("bot-a", "subscription", 9900),
                          InvoiceLine("bot-a", "usage_overage", 0, 12, 0)])]
    now = [monthly(2, [line("bot-a", "subscription", 9900),
                       InvoiceLine("bot-a", "usage_overage", 3, 12, 36)])]
    assert adjustment_lines(issued, now) == (InvoiceLine("bot-a", "adjustment", 1, 36, 36),)


def test_an_invoice_that_no_longer_exists_is_credited() -> None:
    issued = [monthly(2, [line("bot-b", "subscription", 4000)])]
    assert adjustment_lines(issued, []) == (InvoiceLine("bot-b", "adjustment", 1, -4000,
                                                        -4000),)


def test_drafts_and_receipts_are_never_adjusted() -> None:
    draft = monthly(3, [line("bot-a", "subscription", 100)], status="draft")
    receipt = Invoice("RCT-o-1", "acct", "2026-03", "final", (line("bot-a", "funds", 10_000),))
    assert adjustment_lines([draft, receipt], [monthly(3, [], "draft")]) == ()


def test_carried_lines_follow_their_bot_and_make_an_invoice_if_needed() -> None:
    march = monthly(3, [line("bot-a", "subscription", 100), line("bot-c", "subscription", 5)],
                    status="draft")
    extra = (InvoiceLine("bot-a", "adjustment", 1, -7, -7),
             InvoiceLine("bot-b", "adjustment", 1, 9, 9))
    carried = carry_adjustments(march, extra, account_id="acct", period="2026-03",
                                status="draft")
    assert carried is not None
    assert [(x.bot_id, x.kind) for x in carried.lines] == [
        ("bot-a", "subscription"), ("bot-a", "adjustment"), ("bot-b", "adjustment"),
        ("bot-c", "subscription")]
    assert carried.total_cents == 100 + 5 - 7 + 9
    alone = carry_adjustments(None, extra, account_id="acct", period="2026-04", status="final")
    assert alone == Invoice("INV-acct-2026-04", "acct", "2026-04", "final", extra)
    assert carry_adjustments(None, (), account_id="acct", period="2026-04",
                             status="final") is None
    assert carry_adjustments(march, (), account_id="acct", period="2026-03",
                             status="draft") is march


@given(st.lists(st.tuples(lines, lines), min_size=1, max_size=4), lines)
@example([([line("bot-a", "subscription", 10)], [])], [])
def test_corrections_are_carried_exactly_once(months: list[tuple[list[InvoiceLine],
                                                                  list[InvoiceLine]]],
                                              next_lines: list[InvoiceLine]) -> None:
    issued = [monthly(m, body) for m, (body, _) in enumerate(months, start=1)]
    now = [monthly(m, body) for m, (_, body) in enumerate(months, start=1)]
    extra = adjustment_lines(issued, now)
    assert {x.bot_id: x.amount_cents for x in extra} == oracle(issued, now)
    assert all(x.kind == "adjustment" and x.quantity == 1
               and x.unit_price_cents == x.amount_cents != 0 for x in extra)
    assert [x.bot_id for x in extra] == sorted({x.bot_id for x in extra})
    # The next month is issued final with them; the rules say the same later: nothing more.
    following = carry_adjustments(monthly(len(months) + 1, next_lines), extra,
                                  account_id="acct", period=f"2026-{len(months) + 1:02d}",
                                  status="final")
    assert following is not None or not extra
    issued_after = [*issued, *([following] if following is not None else [])]
    now_after = [*now, monthly(len(months) + 1, next_lines)]
    assert adjustment_lines(issued_after, now_after) == ()
