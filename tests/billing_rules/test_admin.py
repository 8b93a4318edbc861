"""billing_rules.admin against oracles written from MONEY_RULES and issue 8 alone (Decimal
for money text, datetime for calendar months)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from botbill.billing_rules import admin

MS = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 .. 2100


def _dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@given(st.integers(min_value=-10**15, max_value=10**15))
@example(0)
@example(-5)
@example(123_456)
def test_format_cents_is_the_decimal_amount(cents):
    expected = f"{Decimal(cents).scaleb(-2):,.2f}"
    assert admin.format_cents(cents) == expected


@given(MS)
@example(_ms(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)))
@example(_ms(datetime(2024, 2, 29, tzinfo=UTC)))
def test_month_starts_are_calendar_months(t):
    moment = _dt(t)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    assert admin.month_start_ms(t) == _ms(first)
    assert admin.next_month_start_ms(t) == _ms(following)


@given(st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 1, 1)),
       st.integers(min_value=0, max_value=120))
@example(date(2026, 1, 31), 88)
@example(date(2026, 1, 1), 89)
@example(date(2026, 1, 1), 90)
def test_export_covers_at_most_three_calendar_months(first, days):
    last = first + timedelta(days=days)
    month = first.month - 1 + 3
    year = first.year + month // 12
    month = month % 12 + 1
    limit_day = min(first.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0)
                                else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    allowed = last < date(year, month, limit_day)
    start = _ms(datetime(first.year, first.month, first.day, tzinfo=UTC))
    end = _ms(datetime(last.year, last.month, last.day, tzinfo=UTC))
    assert (admin.check_export_window(start, end) is None) == allowed


@given(st.integers(min_value=0, max_value=200 * 86_400_000))
def test_summary_window_is_at_most_90_days(span):
    refusal = admin.check_summary_window(1_000, 1_000 + span, "day")
    assert (refusal is None) == (0 < span <= 90 * 86_400_000)


RANKS = {"trial": 0, "standard": 1, "essential": 2, "advanced": 3, "enterprise": 4}


@given(st.sampled_from(sorted(RANKS)), st.sampled_from(sorted(RANKS)), MS)
def test_plan_changes_follow_m1(current, target, now):
    assert admin.eligible_plans(current) == [
        p for p in sorted(RANKS, key=RANKS.get) if p not in (current, "trial")]
    assert admin.eligible_plans(current, downgrade_scheduled=True) == [
        p for p in sorted(RANKS, key=RANKS.get) if p != "trial"]
    refusal = admin.check_plan_change(current, target)
    assert (refusal is None) == (target != "trial")
    change, at = admin.plan_change_effect(current, target, now)
    if RANKS[target] < RANKS[current]:
        assert (change, _dt(at).day, _dt(at).hour, at > now) == ("downgrade", 1, 0, True)
    else:
        assert at == now and change in ("upgrade", "cancel_scheduled_downgrade")


@given(st.integers(min_value=-10**7, max_value=10**7), st.sampled_from(
    ["card", "wire_transfer", "auto_reload", "cash", ""]))
@example(10_000, "card")
@example(9_999, "card")
def test_add_funds_minimum_and_methods(amount, method):
    refusal = admin.check_order(amount, method)
    assert (refusal is None) == (amount >= 10_000 and method in ("card", "wire_transfer"))
    assert admin.check_order(float(max(amount, 10_000)), "card") is not None  # never floats
    assert admin.check_order(True, "card") is not None


@given(st.integers(min_value=-5, max_value=200))
def test_extension_days_are_1_to_90(days):
    assert (admin.check_extension_days(days) is None) == (1 <= days <= 90)


def test_roles_and_enterprise():
    assert admin.can_reach_billing("admin") is None
    for role in ("member", "shared", "operator"):
        assert "admin" in admin.can_reach_billing(role).reason
    assert admin.is_enterprise_customer(["enterprise", "enterprise"])
    assert not admin.is_enterprise_customer(["enterprise", "standard"])
    assert not admin.is_enterprise_customer([])


@given(st.sampled_from(sorted(RANKS)), st.integers(0, 20_000), st.integers(0, 60_000))
def test_month_to_date_cost(plan, usage, alerts):
    fee = {"essential": 9_900, "advanced": 49_900}.get(plan, 0)
    quota = {"essential": (1_000, 5_000), "advanced": (6_000, 30_000)}.get(plan)
    price = {"standard": (20, 2), "essential": (12, 1), "advanced": (10, 1)}.get(plan, (0, 0))
    if quota is None:
        expected = usage * price[0] + alerts * price[1]
    else:
        expected = (fee + max(0, usage - quota[0]) * price[0]
                    + max(0, alerts - quota[1]) * price[1])
    assert admin.month_to_date_cost_cents(plan, usage, alerts) == expected


def test_account_event_problems_name_the_field():
    base = {"event_id": "e", "account_id": "a", "bot_id": "b", "occurred_at": 5}
    ok = [{"type": "order_placed", "order_id": "o", "amount_cents": 10_000,
           "payment_method": "auto_reload"},
          {"type": "credits_granted", "grant_id": "g", "amount_cents": 1, "expires_at": 6},
          {"type": "extension_decided", "request_id": "r", "approved": False, "days": 90}]
    for extra in ok:
        assert admin.account_event_problem({**base, **extra}) is None
    bad = [({"type": "order_placed", "order_id": "o", "amount_cents": 9_999,
             "payment_method": "card"}, "amount_cents"),
           ({"type": "order_settled", "order_id": "o", "status": "pending"}, "status"),
           ({"type": "credits_granted", "grant_id": "g", "amount_cents": 1,
             "expires_at": 5}, "expires_at"),
           ({"type": "plan_change_requested", "plan_id": "trial"}, "plan_id"),
           ({"type": "extension_requested", "request_id": "r", "days": 91}, "days"),
           ({"type": "owner_changed", "owner_user_id": ""}, "owner_user_id"),
           ({"type": "refund"}, "type")]
    for extra, field in bad:
        assert admin.account_event_problem({**base, **extra}).field == field
