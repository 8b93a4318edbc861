"""Random money scenarios: account events and sessions of two bots over about 100 days,
on a half-day grid so that many things share an instant (and month starts are hit), with
a small catalog so that sign-up credits run out, trials end and quotas overflow."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.catalog import Catalog, catalog_from_mapping
from botbill.billing_rules.money import Charge, Movement
from botbill.billing_rules.timeutil import parse_rfc3339_ms

HALF_DAY = 43_200_000
BASE = parse_rfc3339_ms("2026-01-01T00:00:00.000Z")
BOTS = (("acct-a", "bot-1"), ("acct-a", "bot-2"), ("acct-b", "bot-1"))

TEST_CATALOG: dict[str, Any] = {
    "version": "test",
    "low_balance_cents": 50,
    "plans": {
        "trial": {"rank": 0, "billing": "trial", "monthly_fee_cents": 0,
                  "usage_price_cents": 0, "alert_price_cents": 0,
                  "trial_days": 3, "trial_max_usage_sessions": 4},
        "standard": {"rank": 1, "billing": "wallet", "monthly_fee_cents": 0,
                     "usage_price_cents": 20, "alert_price_cents": 2,
                     "signup_credit_cents": 100, "signup_credit_days": 10},
        # fees that make fee * half-days / 62 half-days end in .5 (half to even matters)
        "essential": {"rank": 2, "billing": "invoice", "monthly_fee_cents": 93,
                      "included_usage_sessions": 2, "included_alert_sessions": 3,
                      "usage_price_cents": 12, "alert_price_cents": 1},
        "advanced": {"rank": 3, "billing": "invoice", "monthly_fee_cents": 155,
                     "included_usage_sessions": 4, "included_alert_sessions": 5,
                     "usage_price_cents": 10, "alert_price_cents": 1},
        "enterprise": {"rank": 4, "billing": "contract", "monthly_fee_cents": 0,
                       "usage_price_cents": 0, "alert_price_cents": 0},
    },
}
CATALOG: Catalog = catalog_from_mapping(TEST_CATALOG)
PLAN_IDS = ("trial", "standard", "essential", "advanced", "enterprise", "gold")

times = st.integers(0, 200).map(lambda k: BASE + k * HALF_DAY)
early = st.integers(0, 30).map(lambda k: BASE + k * HALF_DAY)


@st.composite
def account_event(draw: st.DrawFn, number: int) -> dict[str, Any]:
    account_id, bot_id = draw(st.sampled_from(BOTS))
    at = draw(times)
    kind = draw(st.sampled_from((
        "plan_change_requested", "plan_change_requested", "order_placed", "order_settled",
        "order_settled", "credits_granted", "credits_granted", "auto_reload_set",
        "extension_requested", "extension_decided", "owner_changed", "bot_registered")))
    event: dict[str, Any] = {"type": kind, "event_id": f"e{draw(st.integers(0, 99)):02d}-{number}",
                             "account_id": account_id, "bot_id": bot_id, "occurred_at": at}
    if kind == "bot_registered":
        event.update(plan_id=draw(st.sampled_from(PLAN_IDS)), owner_user_id="u")
    elif kind == "plan_change_requested":
        event.update(plan_id=draw(st.sampled_from(PLAN_IDS)))
    elif kind == "order_placed":
        event.update(order_id=draw(st.sampled_from(("o1", "o2", "o3"))),
                     amount_cents=draw(st.sampled_from((9_999, 10_000, 25_000))),
                     payment_method=draw(st.sampled_from(("card", "wire_transfer",
                                                          "auto_reload"))))
    elif kind == "order_settled":
        event.update(order_id=draw(st.sampled_from(
                         ("o1", "o2", "o3", f"reload:{bot_id}:1", f"reload:{bot_id}:2"))),
                     status=draw(st.sampled_from(("paid", "failed"))))
    elif kind == "credits_granted":
        event.update(grant_id=draw(st.sampled_from(("g1", "g2", "g3"))),
                     amount_cents=draw(st.integers(1, 300)))
        if draw(st.booleans()):
            event["expires_at"] = at + draw(st.integers(1, 20)) * HALF_DAY
    elif kind == "auto_reload_set":
        event.update(enabled=draw(st.booleans()),
                     threshold_cents=draw(st.sampled_from((0, 30, 60, 200))),
                     amount_cents=draw(st.sampled_from((5_000, 10_000))))
    elif kind == "extension_requested":
        event.update(request_id=draw(st.sampled_from(("r1", "r2"))),
                     days=draw(st.integers(1, 5)))
    elif kind == "extension_decided":
        event.update(request_id=draw(st.sampled_from(("r1", "r2", "r3"))),
                     approved=draw(st.booleans()), days=draw(st.integers(1, 5)))
    else:
        event.update(owner_user_id="v")
    return event


Session = tuple[str, str, str, int, str]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Session], int]:
    """(account events, sessions, as_of)."""
    events: list[dict[str, Any]] = []
    for index, (account_id, bot_id) in enumerate(BOTS):
        registered = draw(early)
        if draw(st.integers(0, 9)) < 8:
            events.append({"type": "bot_registered", "event_id": f"reg-{index}",
                           "account_id": account_id, "bot_id": bot_id,
                           "occurred_at": registered, "owner_user_id": "u",
                           "plan_id": draw(st.sampled_from(("standard", *PLAN_IDS[:5])))})
        if draw(st.booleans()):  # auto-reload early enough to matter (M6)
            events.append({"type": "auto_reload_set", "event_id": f"set-{index}",
                           "account_id": account_id, "bot_id": bot_id,
                           "occurred_at": registered + draw(st.integers(0, 4)) * HALF_DAY,
                           "enabled": True,
                           "threshold_cents": draw(st.sampled_from((30, 60, 90))),
                           "amount_cents": 10_000})
        for number in range(draw(st.integers(0, 3))):  # small credits while sessions run
            at = registered + draw(st.integers(0, 10)) * HALF_DAY
            credit = {"type": "credits_granted", "event_id": f"cr-{index}-{number}",
                      "account_id": account_id, "bot_id": bot_id, "occurred_at": at,
                      "grant_id": f"c{number}", "amount_cents": draw(st.integers(10, 80))}
            if draw(st.booleans()):
                credit["expires_at"] = at + draw(st.integers(1, 15)) * HALF_DAY
            events.append(credit)
    count = draw(st.integers(0, 25))
    events += [draw(account_event(number)) for number in range(count)]
    sessions: list[Session] = []
    for number in range(draw(st.integers(0, 40))):
        account_id, bot_id = draw(st.sampled_from(BOTS))
        kind = draw(st.sampled_from(("usage", "usage", "alert")))
        at = draw(st.one_of(early, times))  # many early: while sign-up credits last
        sessions.append((account_id, bot_id, kind, at, f"{kind}/s{number}"))
    as_of = draw(times) + draw(st.sampled_from((0, 0, 1, HALF_DAY - 1)))
    return events, sessions, as_of


def movements(events: list[dict[str, Any]], sessions: list[Session]) -> list[Movement]:
    found: list[Movement] = [account_event_from_mapping(e) for e in events]
    found += [Charge(a, b, at, kind, sid) for a, b, kind, at, sid in sessions]  # type: ignore[arg-type]
    return found


@st.composite
def reload_scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Session], int]:
    """One standard bot with auto-reload on, small grants and settlements of its derived
    orders, and sessions: M6 crossings while an order is pending, failed, paid."""
    account_id, bot_id = BOTS[0]
    common = {"account_id": account_id, "bot_id": bot_id}
    events: list[dict[str, Any]] = [
        {"type": "bot_registered", "event_id": "reg", "occurred_at": BASE,
         "plan_id": "standard", "owner_user_id": "u", **common},
        {"type": "auto_reload_set", "event_id": "set", "occurred_at": BASE, "enabled": True,
         "threshold_cents": draw(st.sampled_from((30, 60, 90))), "amount_cents": 10_000,
         **common}]
    soon = st.integers(0, 16).map(lambda k: BASE + k * HALF_DAY)
    for number in range(draw(st.integers(0, 4))):
        events.append({"type": "credits_granted", "event_id": f"g{number}",
                       "occurred_at": draw(soon), "grant_id": f"g{number}",
                       "amount_cents": draw(st.integers(10, 60)), **common})
    for number in range(draw(st.integers(0, 3))):
        events.append({"type": "order_settled", "event_id": f"s{number}",
                       "occurred_at": draw(soon),
                       "order_id": f"reload:{bot_id}:{draw(st.integers(1, 3))}",
                       "status": draw(st.sampled_from(("paid", "failed"))), **common})
    sessions: list[Session] = [
        (account_id, bot_id, draw(st.sampled_from(("usage", "alert"))), draw(soon),
         f"s{number}") for number in range(draw(st.integers(1, 30)))]
    return events, sessions, BASE + 20 * HALF_DAY
