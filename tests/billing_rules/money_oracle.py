"""An independent oracle of MONEY_RULES (M1-M6, §4), written from the contract alone.

A different structure from ``billing_rules.money``: it steps one bot instant by instant
(whatever happens at an instant is gathered and run in the M1 order), keeps grants as
plain dicts, overdraft as a single number, and prices invoices with ``Fraction`` and
Python's ``round`` (half to even). Slow and simple on purpose. Voids are not modelled.

Inputs are plain data: account events as dicts (``occurred_at``/``expires_at`` in epoch
ms), sessions as ``(account_id, bot_id, kind, start_ms, session_id)``, and a catalog as
``{plan_id: {...}}`` with the same keys as the shipped JSON (plus ``low_balance_cents``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

DAY = 86_400_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def first_of_next_month(ms: int) -> int:
    d = to_dt(ms)
    return to_ms(datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=UTC))


def first_of_month(ms: int) -> int:
    d = to_dt(ms)
    return to_ms(datetime(d.year, d.month, 1, tzinfo=UTC))


def ym(ms: int) -> str:
    return to_dt(ms).strftime("%Y-%m")


class OracleBot:
    def __init__(self, catalog: dict[str, Any], bot_id: str) -> None:
        self.cat = catalog
        self.bot_id = bot_id
        self.registered: int | None = None
        self.plan: str | None = None
        self.segments: list[list[Any]] = []  # [start, plan]
        self.pending_downgrade: tuple[str, int] | None = None
        self.got_signup = False
        self.trial_end: int | None = None
        self.trial_sessions = 0
        self.trial_used_up_at: int | None = None
        self.requests: dict[str, str] = {}  # id -> "open" | "done"
        self.orders: dict[str, dict[str, Any]] = {}
        self.reload_n = 0
        self.reload: tuple[bool, int, int] = (False, 0, 0)
        self.grants: list[dict[str, Any]] = []
        self.debt = 0
        self.granted = self.debited = self.expired = 0
        self.fee_log: list[tuple[int, str]] = []  # (start, kind) of sessions on fee plans
        self.receipts: list[tuple[str, int, int]] = []
        self.rejected: list[tuple[str, str]] = []

    def billing(self, plan: str | None) -> str:
        return "" if plan is None else self.cat["plans"][plan]["billing"]

    # -- wallet --
    def add_grant(self, gid: str, amount: int, at: int, exp: int | None) -> None:
        self.granted += amount
        paid_back = min(self.debt, amount)
        self.debt -= paid_back
        self.grants.append({"id": gid, "left": amount - paid_back, "from": at, "exp": exp,
                            "done": False})

    def balance(self) -> int:
        return self.granted - self.debited - self.expired

    def switch(self, plan: str, at: int) -> None:
        self.plan = plan
        self.segments.append([at, plan])
        spec = self.cat["plans"][plan]
        if spec["billing"] == "wallet" and not self.got_signup:
            self.got_signup = True
            if spec["signup_credit_cents"]:
                self.add_grant(f"signup:{self.bot_id}", spec["signup_credit_cents"], at,
                               at + spec["signup_credit_days"] * DAY)

    def status(self, t: int) -> str:
        b = self.billing(self.plan)
        if b == "trial":
            assert self.trial_end is not None
            if t >= self.trial_end or (self.trial_used_up_at is not None
                                       and self.trial_used_up_at <= t):
                return "expired"
        if b == "wallet":
            if self.balance() <= 0:
                return "suspended"
            enabled, threshold, _ = self.reload
            limit = threshold if enabled else self.cat["low_balance_cents"]
            if self.balance() < limit:
                return "low_balance"
        if b == "trial":
            return "trial"
        return "active"

    # -- one account event --
    def event(self, e: dict[str, Any]) -> None:
        why = self.why_invalid(e)
        if why:
            self.rejected.append((e["event_id"], why))

    def why_invalid(self, e: dict[str, Any]) -> str:
        kind, at = e["type"], e["occurred_at"]
        plans = self.cat["plans"]
        if self.registered is None and kind != "bot_registered":
            return "unregistered"
        if kind == "bot_registered":
            if self.registered is not None:
                return "twice"
            if e["plan_id"] not in plans:
                return "unknown plan"
            self.registered = at
            if plans[e["plan_id"]]["billing"] == "trial":
                self.trial_end = at + plans[e["plan_id"]]["trial_days"] * DAY
            self.switch(e["plan_id"], at)
        elif kind == "plan_change_requested":
            target = e["plan_id"]
            if target not in plans:
                return "unknown plan"
            if plans[target]["billing"] == "trial":
                return "trial"
            assert self.plan is not None
            here, there = plans[self.plan]["rank"], plans[target]["rank"]
            if there > here:
                self.pending_downgrade = None
                self.switch(target, at)
            elif there == here:
                self.pending_downgrade = None
            else:
                self.pending_downgrade = (target, first_of_next_month(at))
        elif kind == "order_placed":
            if e["amount_cents"] < 10_000:
                return "minimum"
            if e["order_id"] in self.orders:
                return "order twice"
            self.orders[e["order_id"]] = {"amount": e["amount_cents"], "state": "pending",
                                          "reload": e["payment_method"] == "auto_reload"}
            if e["payment_method"] == "auto_reload":
                self.reload_n += 1
        elif kind == "order_settled":
            order = self.orders.get(e["order_id"])
            if order is None:
                return "unknown order"
            if order["state"] != "pending":
                return "settled twice"
            order["state"] = e["status"]
            if e["status"] == "paid":
                self.receipts.append((e["order_id"], order["amount"], at))
                self.add_grant("order:" + e["order_id"], order["amount"], at, None)
        elif kind == "credits_granted":
            if any(g["id"] == e["grant_id"] for g in self.grants):
                return "grant twice"
            self.add_grant(e["grant_id"], e["amount_cents"], at, e.get("expires_at"))
        elif kind == "auto_reload_set":
            if e["enabled"] and e["amount_cents"] < 10_000:
                return "minimum"
            self.reload = (e["enabled"], e["threshold_cents"], e["amount_cents"])
        elif kind == "extension_requested":
            if e["request_id"] in self.requests:
                return "request twice"
            self.requests[e["request_id"]] = "open"
        elif kind == "extension_decided":
            state = self.requests.get(e["request_id"])
            if state != "open":
                return "unknown or decided request"
            self.requests[e["request_id"]] = "done"
            if e["approved"] and self.billing(self.plan) == "trial":
                assert self.trial_end is not None
                self.trial_end += e["days"] * DAY
        return ""

    def session(self, kind: str, at: int) -> None:
        b = self.billing(self.plan)
        if b == "trial" and kind == "usage":
            self.trial_sessions += 1
            assert self.plan is not None
            if self.trial_sessions == self.cat["plans"][self.plan]["trial_max_usage_sessions"]:
                self.trial_used_up_at = at
        elif b == "invoice":
            self.fee_log.append((at, kind))
        elif b == "wallet":
            assert self.plan is not None
            price = self.cat["plans"][self.plan][f"{kind}_price_cents"]
            before = self.balance()
            need = price
            usable = [g for g in self.grants if g["left"] > 0 and not g["done"]
                      and g["from"] <= at and (g["exp"] is None or at < g["exp"])]
            usable.sort(key=lambda g: (g["exp"] is None, g["exp"] or 0, g["from"], g["id"]))
            for g in usable:
                take = min(need, g["left"])
                g["left"] -= take
                need -= take
            self.debt += need
            self.debited += price
            enabled, threshold, amount = self.reload
            if enabled and before >= threshold > self.balance() and not any(
                    o["reload"] and o["state"] == "pending" for o in self.orders.values()):
                self.reload_n += 1
                self.orders[f"reload:{self.bot_id}:{self.reload_n}"] = {
                    "amount": amount, "state": "pending", "reload": True}

    def run(self, events: list[dict[str, Any]], sessions: list[tuple[str, int, str]],
            as_of: int) -> None:
        seen: set[str] = set()
        unique = []
        for e in sorted(events, key=lambda e: (e["occurred_at"], e["event_id"], repr(e))):
            if e["event_id"] not in seen and e["occurred_at"] <= as_of:
                seen.add(e["event_id"])
                unique.append(e)
        sess = sorted({s for s in sessions if s[1] <= as_of}, key=lambda s: (s[1], s[2]))
        t = -1
        while True:
            later = [e["occurred_at"] for e in unique if e["occurred_at"] > t]
            later += [s[1] for s in sess if s[1] > t]
            if self.pending_downgrade and self.pending_downgrade[1] > t:
                later.append(self.pending_downgrade[1])
            later += [g["exp"] for g in self.grants if g["exp"] is not None and g["exp"] > t
                      and not g["done"]]
            later = [x for x in later if x <= as_of]
            if not later:
                return
            t = min(later)
            if self.pending_downgrade and self.pending_downgrade[1] == t:
                target = self.pending_downgrade[0]
                self.pending_downgrade = None
                self.switch(target, t)
            for e in unique:  # already sorted by (time, event_id)
                if e["occurred_at"] == t:
                    self.event(e)
            for g in self.grants:
                if g["exp"] == t and not g["done"]:
                    g["done"] = True
                    self.expired += g["left"]
                    g["left"] = 0
            for kind, at, _ in sess:
                if at == t and self.registered is not None:
                    self.session(kind, at)


def oracle(catalog: dict[str, Any], events: list[dict[str, Any]],
           sessions: list[tuple[str, str, str, int, str]], as_of: int, grace: int = DAY,
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """(balance rows, invoice rows, bots) as of ``as_of``."""
    keys = {(e["account_id"], e["bot_id"]) for e in events}
    keys |= {(s[0], s[1]) for s in sessions}
    bots: dict[tuple[str, str], OracleBot] = {}
    for key in sorted(keys):
        bot = bots[key] = OracleBot(catalog, key[1])
        bot.run([e for e in events if (e["account_id"], e["bot_id"]) == key],
                [(s[2], s[3], s[4]) for s in sessions if (s[0], s[1]) == key], as_of)
    stamp = to_dt(as_of).strftime("%Y-%m-%dT%H:%M:%S.") + f"{as_of % 1000:03d}Z"
    balances = [{"account_id": a, "bot_id": b, "as_of": stamp, "plan_id": bot.plan,
                 "status": bot.status(as_of), "granted_cents": bot.granted,
                 "debited_cents": bot.debited, "expired_cents": bot.expired,
                 "balance_cents": bot.balance()}
                for (a, b), bot in sorted(bots.items()) if bot.registered is not None]
    return balances, invoices_of(catalog, bots, as_of, grace), bots


def invoices_of(catalog: dict[str, Any], bots: dict[tuple[str, str], OracleBot], as_of: int,
                grace: int) -> list[dict[str, Any]]:
    plans = catalog["plans"]
    found: dict[str, dict[str, Any]] = {}
    for (account, bot_id), bot in sorted(bots.items()):
        for order_id, amount, at in bot.receipts:
            found[f"RCT-{order_id}"] = {
                "invoice_id": f"RCT-{order_id}", "account_id": account, "period": ym(at),
                "status": "final", "lines": [{"bot_id": bot_id, "kind": "funds", "quantity": 1,
                                              "unit_price_cents": amount,
                                              "amount_cents": amount}]}
        if bot.registered is None:
            continue
        month = first_of_month(bot.registered)
        while month <= as_of:
            end = first_of_next_month(month)
            fee = Fraction(0)
            on_fee = 0
            last = None
            for i, (start, plan) in enumerate(bot.segments):
                stop = bot.segments[i + 1][0] if i + 1 < len(bot.segments) else end
                lo, hi = max(start, month), min(stop, end)
                if hi > lo and plans[plan]["billing"] == "invoice":
                    on_fee += hi - lo
                    fee += Fraction(plans[plan]["monthly_fee_cents"] * (hi - lo), end - month)
                    last = plan
            if on_fee:
                spec = plans[last]
                usage = sum(1 for at, k in bot.fee_log if month <= at < end and k == "usage")
                alerts = sum(1 for at, k in bot.fee_log if month <= at < end and k == "alert")
                over_u = max(0, usage - spec["included_usage_sessions"])
                over_a = max(0, alerts - spec["included_alert_sessions"])
                key = f"INV-{account}-{ym(month)}"
                invoice = found.setdefault(key, {
                    "invoice_id": key, "account_id": account, "period": ym(month),
                    "status": "final" if as_of >= end + grace else "draft", "lines": []})
                amount = round(fee)
                invoice["lines"] += [
                    {"bot_id": bot_id, "kind": "subscription", "quantity": 1,
                     "unit_price_cents": amount, "amount_cents": amount},
                    {"bot_id": bot_id, "kind": "usage_overage", "quantity": over_u,
                     "unit_price_cents": spec["usage_price_cents"],
                     "amount_cents": over_u * spec["usage_price_cents"]},
                    {"bot_id": bot_id, "kind": "alert_overage", "quantity": over_a,
                     "unit_price_cents": spec["alert_price_cents"],
                     "amount_cents": over_a * spec["alert_price_cents"]}]
            month = end
    for invoice in found.values():
        invoice["total_cents"] = sum(line["amount_cents"] for line in invoice["lines"])
    return [found[k] for k in sorted(found)]
