"""A seeded multi-month money scenario for the end-to-end test and the benchmark: JSON Lines
events (usage and account events together, as ``botbill produce --from`` and ``botbill
replay`` read them), in time order, with redeliveries.

Every story of MONEY_RULES is in it, on a small catalog (:data:`CATALOG`, so that money runs
out within a few sessions): all plans; upgrades and downgrades (one scheduled, applied at a
month's start); orders paid, failed and left pending; credits expiring with money left;
a wallet in overdraft, then a paid top-up; trials that end (by time, and extended by an
approved extension, another denied); auto-reload; an unregistered bot; rule-breaking events;
duplicates. It ends with a quiet *tick* (an ``owner_changed`` for every bot) a day after the
last story, so the stream's event time passes every notification. ``LAST_BOT`` ends with a
balance of exactly one usage session: the next one suspends it.
"""

from __future__ import annotations

import random
from typing import Any

from botbill.billing_rules.timeutil import format_ms, parse_rfc3339_ms

__all__ = ["CATALOG", "END", "LAST_BOT", "generate"]

MIN = 60_000
DAY = 1_440 * MIN
START = parse_rfc3339_ms("2026-01-01T00:00:00.000Z")
END = parse_rfc3339_ms("2026-04-20T00:00:00.000Z")  # the tick
LAST_BOT = ("acct-e", "bot-last")

CATALOG: dict[str, Any] = {
    "version": "e2e-small",
    "low_balance_cents": 100,
    "plans": {
        "trial": {"rank": 0, "billing": "trial", "monthly_fee_cents": 0,
                  "usage_price_cents": 0, "alert_price_cents": 0,
                  "trial_days": 14, "trial_max_usage_sessions": 30},
        "standard": {"rank": 1, "billing": "wallet", "monthly_fee_cents": 0,
                     "usage_price_cents": 20, "alert_price_cents": 2,
                     "signup_credit_cents": 200, "signup_credit_days": 30},
        "essential": {"rank": 2, "billing": "invoice", "monthly_fee_cents": 9900,
                      "included_usage_sessions": 5, "included_alert_sessions": 10,
                      "usage_price_cents": 12, "alert_price_cents": 1},
        "advanced": {"rank": 3, "billing": "invoice", "monthly_fee_cents": 49900,
                     "included_usage_sessions": 20, "included_alert_sessions": 50,
                     "usage_price_cents": 10, "alert_price_cents": 1},
        "enterprise": {"rank": 4, "billing": "contract", "monthly_fee_cents": 0,
                       "usage_price_cents": 0, "alert_price_cents": 0},
    },
}


class _Story:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[dict[str, Any]] = []
        self.ids = 0

    def _id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}-{self.ids:05d}"

    def account(self, bot: tuple[str, str], kind: str, at: int, **fields: Any) -> None:
        self.events.append({"type": kind, "event_id": self._id("acc"), "account_id": bot[0],
                            "bot_id": bot[1], "occurred_at": at, **fields})

    def visit(self, bot: tuple[str, str], at: int, minutes: int = 2) -> None:
        """A conversation: a USER turn, BOT replies every few minutes for ``minutes``
        (under 15: one usage session; 20..40: two or three)."""
        conversation = self._id("conv")
        common = {"account_id": bot[0], "bot_id": bot[1], "conversation_id": conversation,
                  "user_id": f"u{self.rng.randint(1, 50)}", "channel": "web"}
        self.events.append({"type": "conversation_turn", "event_id": self._id("turn"),
                            "occurred_at": at, "speaker": "USER", **common})
        for offset in range(min(minutes, 5), minutes + 1, 5):
            self.events.append({"type": "conversation_turn", "event_id": self._id("turn"),
                                "occurred_at": at + offset * MIN, "speaker": "BOT",
                                **common})

    def alert(self, bot: tuple[str, str], at: int) -> None:
        self.events.append({"type": "alert_delivered", "event_id": self._id("alert"),
                            "account_id": bot[0], "bot_id": bot[1], "occurred_at": at,
                            "alert_id": self._id("a"), "user_id": "u1", "channel": "sms"})

    def visits(self, bot: tuple[str, str], first: int, count: int, every: int,
               minutes: int = 2) -> int:
        at = first
        for _ in range(count):
            self.visit(bot, at + self.rng.randint(0, 60) * MIN, minutes)
            at += every
        return at


def generate(seed: int = 7) -> list[dict[str, Any]]:
    """The scenario's events (``occurred_at`` as RFC 3339), in time order."""
    rng = random.Random(seed)
    s = _Story(rng)
    reg = "bot_registered"
    # standard: runs dry, overdraft, a paid top-up repays it; a failed order gives nothing
    dry = ("acct-a", "bot-dry")
    s.account(dry, reg, START + DAY, plan_id="standard", owner_user_id="o-a")
    s.visits(dry, START + 2 * DAY, 14, DAY // 2)  # 14 x 20 > 200: overdraft
    s.account(dry, "order_placed", START + 10 * DAY, order_id="o-dry-1",
              amount_cents=10_000, payment_method="card")
    s.account(dry, "order_placed", START + 10 * DAY + MIN, order_id="o-dry-2",
              amount_cents=20_000, payment_method="wire_transfer")
    s.account(dry, "order_settled", START + 11 * DAY, order_id="o-dry-2", status="failed")
    s.account(dry, "order_settled", START + 12 * DAY, order_id="o-dry-1", status="paid")
    s.visits(dry, START + 13 * DAY, 6, 3 * DAY, minutes=25)
    s.account(dry, "order_placed", START + 40 * DAY, order_id="o-dry-3",
              amount_cents=15_000, payment_method="card")  # left pending
    # standard: a promotional credit expires with money left, so does the sign-up credit
    promo = ("acct-a", "bot-promo")
    s.account(promo, reg, START + 3 * DAY, plan_id="standard", owner_user_id="o-a")
    s.account(promo, "credits_granted", START + 4 * DAY, grant_id="promo-1",
              amount_cents=500, expires_at=format_ms(START + 20 * DAY))
    s.visits(promo, START + 5 * DAY, 3, 2 * DAY)
    for day in (6, 9, 15):
        s.alert(promo, START + day * DAY + 7 * 60 * MIN)
    # trial: ends by time (expiring 3 days before), then upgraded to standard
    trial = ("acct-b", "bot-trial")
    s.account(trial, reg, START + 2 * DAY, plan_id="trial", owner_user_id="o-b")
    s.visits(trial, START + 3 * DAY, 5, 2 * DAY)
    s.account(trial, "plan_change_requested", START + 25 * DAY, plan_id="standard")
    s.visits(trial, START + 26 * DAY, 3, DAY)
    # trial extended: one request approved (10 days), one denied, one decision unknown
    ext = ("acct-b", "bot-ext")
    s.account(ext, reg, START + 31 * DAY, plan_id="trial", owner_user_id="o-b")
    s.account(ext, "extension_requested", START + 40 * DAY, request_id="r1", days=7)
    s.account(ext, "extension_decided", START + 42 * DAY, request_id="r1", approved=True,
              days=10)
    s.account(ext, "extension_requested", START + 43 * DAY, request_id="r2", days=30)
    s.account(ext, "extension_decided", START + 44 * DAY, request_id="r2", approved=False,
              days=30)
    s.account(ext, "extension_decided", START + 45 * DAY, request_id="r9", approved=True,
              days=5)  # never requested: rejected
    s.visits(ext, START + 32 * DAY, 8, 3 * DAY)
    # essential -> advanced (upgrade at once) -> essential (scheduled, applied on 04-01)
    ess = ("acct-c", "bot-ess")
    s.account(ess, reg, START + 9 * DAY, plan_id="essential", owner_user_id="o-c")
    s.visits(ess, START + 10 * DAY, 30, 2 * DAY, minutes=20)
    s.account(ess, "plan_change_requested", START + 45 * DAY, plan_id="advanced")
    s.account(ess, "plan_change_requested", START + 68 * DAY, plan_id="essential")
    for day in range(12, 100, 4):
        s.alert(ess, START + day * DAY + 3 * 60 * MIN)
    # advanced -> standard at the next month's start (sign-up credit then), then debits
    down = ("acct-c", "bot-down")
    s.account(down, reg, START + 4 * DAY, plan_id="advanced", owner_user_id="o-c")
    s.visits(down, START + 5 * DAY, 10, 5 * DAY)
    s.account(down, "plan_change_requested", START + 50 * DAY, plan_id="standard")
    s.visits(down, START + 60 * DAY, 6, 4 * DAY)
    # enterprise: usage tracked, nothing priced; its order is never settled
    ent = ("acct-d", "bot-ent")
    s.account(ent, reg, START + 6 * DAY, plan_id="enterprise", owner_user_id="o-d")
    s.visits(ent, START + 7 * DAY, 10, 6 * DAY)
    s.account(ent, "order_placed", START + 20 * DAY, order_id="o-ent-1",
              amount_cents=10_000, payment_method="card")
    # auto-reload: the third session crosses 150 -> reload:bot-auto:1, paid a day later
    auto = ("acct-e", "bot-auto")
    s.account(auto, reg, START + 7 * DAY, plan_id="standard", owner_user_id="o-e")
    s.account(auto, "auto_reload_set", START + 7 * DAY + MIN, enabled=True,
              threshold_cents=150, amount_cents=10_000)
    for number in range(3):
        s.visit(auto, START + (8 + number) * DAY)
    s.account(auto, "order_settled", START + 11 * DAY + MIN, order_id="reload:bot-auto:1",
              status="paid")
    s.visits(auto, START + 12 * DAY, 4, 5 * DAY)
    # a rule break or two, and a bot that never registered (metered, not priced)
    s.account(auto, "order_placed", START + 30 * DAY, order_id="o-small", amount_cents=500,
              payment_method="card")
    s.account(auto, "order_settled", START + 31 * DAY, order_id="o-nowhere", status="paid")
    ghost = ("acct-e", "bot-ghost")
    s.visits(ghost, START + 5 * DAY, 3, 10 * DAY)
    s.account(ghost, "credits_granted", START + 6 * DAY, grant_id="g", amount_cents=100)
    # the latency bot: 9 sessions of its 200 sign-up credit: 20 left, allowed
    last = LAST_BOT
    s.account(last, reg, END - 10 * DAY, plan_id="standard", owner_user_id="o-e")
    for number in range(9):
        s.visit(last, END - 9 * DAY + number * DAY // 2)
    for bot in (dry, promo, trial, ext, ess, down, ent, auto, ghost, last):
        s.account(bot, "owner_changed", END, owner_user_id="o-tick")
    events = sorted(s.events, key=lambda e: (e["occurred_at"], e["event_id"]))
    out: list[dict[str, Any]] = []
    for event in events:  # redeliveries: about one event in twenty, right after itself
        record = {**event, "occurred_at": format_ms(event["occurred_at"])}
        out.append(record)
        if rng.random() < 0.05:
            out.append(dict(record))
    return out
