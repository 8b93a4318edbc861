"""The money engine: one bot's plan timeline, wallet, status and auto-reload (MONEY_RULES M1,
M2, M4, M5, M6) as a fold over its time-ordered movements.

A :class:`BotBook` is the explicit per-bot state (what the stream's balance agent, keyed by
bot, keeps); :meth:`BotBook.apply` takes the next movement — an account event, a priced
session start (:class:`Charge`) or a voided session (:class:`Void`) — and returns what it
caused: ledger entries, notifications, entitlement changes, derived auto-reload orders and
rejections. Time-driven changes (a downgrade at the start of a month, a grant's expiry, a
trial's end) are timers inside the book, run when a later movement or :meth:`BotBook.advance`
moves time past them, so the result depends on event time only, never on a clock.

Movements must come in :func:`movement_key` order, which is MONEY_RULES M1's order within an
instant: (1) a scheduled downgrade, (2) account events by ``event_id``, (3) expiries,
(4) debits (then voids). Everything output carries a deterministic id, so a rebuild from the
same movements writes the same rows (the types are in :mod:`.movements`). :func:`run_books`
is the whole fold for a batch (``replay``): it sorts, deduplicates and runs each bot's book
up to an instant.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .account_events import (
    AccountEvent,
    AutoReloadSet,
    BotRegistered,
    CreditsGranted,
    ExtensionDecided,
    ExtensionRequested,
    OrderPlaced,
    OrderSettled,
    OwnerChanged,
    PlanChangeRequested,
)
from .calendar import month_key, next_month_start
from .catalog import Catalog, Plan
from .exceptions import MovementOutOfOrder
from .movements import (
    Charge,
    Entitlement,
    LedgerEntry,
    Movement,
    Notification,
    Output,
    Rejection,
    SessionKind,
    Void,
    movement_key,
)
from .timeutil import format_ms

__all__ = [
    "DAY_MS",
    "EXPIRING_WITHIN_MS",
    "ORDER_MINIMUM_CENTS",
    "BotBook",
    "BotKey",
    "Charge",
    "Entitlement",
    "LedgerEntry",
    "Movement",
    "Notification",
    "Output",
    "Rejection",
    "Void",
    "movement_key",
    "run_books",
]

DAY_MS = 86_400_000
ORDER_MINIMUM_CENTS = 10_000
EXPIRING_WITHIN_MS = 3 * DAY_MS
_NEVER = 2**63
BotKey = tuple[str, str]
"""``(account_id, bot_id)``: a bot (MONEY_RULES §1)."""


# -- state ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Lot:
    """A grant: its money, what is left, and when it may be used."""

    grant_id: str
    amount: int
    remaining: int
    available: int
    expires_at: int | None
    expired: bool = False

    def order(self) -> tuple[int, int, str]:
        return (_NEVER if self.expires_at is None else self.expires_at, self.available,
                self.grant_id)


@dataclass(slots=True)
class Order:
    amount: int
    method: str
    status: str = "pending"  # pending | paid | failed
    settled_at: int | None = None


@dataclass(slots=True)
class Debt:
    session_id: str
    cents: int


@dataclass(slots=True)
class ChargedSession:
    billing: str
    kind: SessionKind
    month: int
    draws: dict[str, int] = field(default_factory=dict)  # grant_id ("" = overdraft) -> cents


@dataclass(slots=True)
class BotBook:
    """One bot's money state. Mutated only by :meth:`apply` and :meth:`advance`."""

    account_id: str
    bot_id: str
    catalog: Catalog
    registered_at: int | None = None
    owner_user_id: str = ""
    plan_id: str = ""
    timeline: list[tuple[int, str]] = field(default_factory=list)  # (from, plan_id)
    scheduled: tuple[str, int, str] | None = None  # (plan_id, effective at, event_id)
    had_wallet: bool = False
    trial_end: int | None = None
    trial_usage: int = 0
    trial_exhausted_at: int | None = None
    requests: dict[str, bool] = field(default_factory=dict)  # request_id -> decided
    orders: dict[str, Order] = field(default_factory=dict)
    reloads_placed: int = 0
    echoes: dict[str, OrderPlaced] = field(default_factory=dict)
    auto_reload: tuple[bool, int, int] = (False, 0, 0)  # enabled, threshold, amount
    lots: dict[str, Lot] = field(default_factory=dict)
    overdraft: int = 0
    unpaid: list[Debt] = field(default_factory=list)  # overdraft, oldest debit first
    sessions: dict[str, ChargedSession] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    granted: int = 0
    debited: int = 0
    expired: int = 0
    fee_sessions: dict[tuple[int, SessionKind], int] = field(default_factory=dict)
    paid_orders: list[tuple[str, int, int]] = field(default_factory=list)  # id, cents, at
    seen: set[str] = field(default_factory=set)
    position: tuple[int, int, int, str] = (-_NEVER, 0, 0, "")
    open_instant: int | None = None
    clock: int = -_NEVER
    last_eval: int = -_NEVER
    status: str = ""
    expiring: bool = False
    allowed: bool | None = None
    expiry_queue: list[tuple[int, str]] = field(default_factory=list)  # heap of unexpired
    _plan: Plan | None = field(default=None, repr=False, compare=False)

    # -- reading -------------------------------------------------------------------------

    @property
    def balance(self) -> int:
        return self.granted - self.debited - self.expired

    @property
    def plan(self) -> Plan | None:
        plan = self._plan
        if plan is None or plan.plan_id != self.plan_id:
            plan = self._plan = self.catalog.plans.get(self.plan_id)
        return plan

    def status_at(self, t: int) -> str:
        """M5, for the state after every movement at or before ``t``."""
        plan = self.plan
        if plan is None:
            return ""
        if plan.billing == "trial":
            end = self.trial_end if self.trial_end is not None else _NEVER
            exhausted = self.trial_exhausted_at
            if t >= end or (exhausted is not None and exhausted <= t):
                return "expired"
        if plan.billing == "wallet":
            if self.balance <= 0:
                return "suspended"
            enabled, threshold, _ = self.auto_reload
            if self.balance < (threshold if enabled else self.catalog.low_balance_cents):
                return "low_balance"
        return "trial" if plan.billing == "trial" else "active"

    def flags(self, t: int) -> dict[str, str]:
        """The information shown beside the status: a scheduled downgrade, a trial that
        ends within 3 days, an extension request waiting for an answer."""
        shown: dict[str, str] = {}
        if self.scheduled is not None:
            shown["downgrade_scheduled"] = f"{self.scheduled[0]}@{format_ms(self.scheduled[1])}"
        if self._is_expiring(t):
            shown["expiring"] = format_ms(self.trial_end or 0)
        if any(not decided for decided in self.requests.values()):
            shown["extension_pending"] = ",".join(
                sorted(r for r, decided in self.requests.items() if not decided))
        return shown

    def _is_expiring(self, t: int) -> bool:
        return (self.status_at(t) == "trial" and self.trial_end is not None
                and t >= self.trial_end - EXPIRING_WITHIN_MS)

    # -- the fold ------------------------------------------------------------------------

    def apply(self, movement: Movement) -> list[Output]:
        """Apply the next movement (and every timer due before it). An account event already
        seen (R1), such as the bot's own auto-reload order read back, changes nothing,
        however late it comes."""
        if not isinstance(movement, (Charge, Void)) and movement.event_id in self.seen:
            return []
        key = movement_key(movement)
        if key < self.position:
            raise MovementOutOfOrder(
                f"{self.account_id}/{self.bot_id}: movement at {key} after {self.position}")
        out: list[Output] = []
        self._run_timers(out, (key[0], key[1]))
        self.position = key
        self._touch(key[0])
        if isinstance(movement, Charge):
            self._charge(movement, out)
        elif isinstance(movement, Void):
            self._void(movement, out)
        else:
            self._account_event(movement, out)
        return out

    def advance(self, t: int) -> list[Output]:
        """Run every timer up to and including instant ``t`` and close that instant."""
        out: list[Output] = []
        self._run_timers(out, (t, 6))
        self.position = max(self.position, (t, 6, 0, ""))
        return out

    def _touch(self, t: int) -> None:
        self.open_instant = self.clock = t

    def _run_timers(self, out: list[Output], until: tuple[int, int]) -> None:
        while True:
            candidates: list[tuple[int, int]] = []
            if self.open_instant is not None:
                candidates.append((self.open_instant, 5))
            if self.scheduled is not None:
                candidates.append((self.scheduled[1], 1))
            if self.expiry_queue:
                candidates.append((self.expiry_queue[0][0], 3))
            plan = self.plan
            if plan is not None and plan.billing == "trial" and self.trial_end is not None:
                for at in (self.trial_end - EXPIRING_WITHIN_MS, self.trial_end):
                    if at > self.last_eval and at >= self.clock:
                        candidates.append((at, 5))
            if not candidates:
                return
            due = min(candidates)
            if due >= until:
                return
            at, step = due
            if step == 5:
                self._evaluate(at, out)
                continue
            self._touch(at)
            if step == 1:
                self._apply_downgrade(at, out)
            else:
                self._expire(at, out)

    # -- M1: the plan timeline -------------------------------------------------------------

    def _set_plan(self, plan_id: str, at: int, out: list[Output]) -> None:
        self.plan_id = plan_id
        if self.timeline and self.timeline[-1][0] == at:
            self.timeline[-1] = (at, plan_id)
        else:
            self.timeline.append((at, plan_id))
        plan = self.catalog.plans[plan_id]
        if plan.billing == "wallet" and not self.had_wallet:
            self.had_wallet = True
            if plan.signup_credit_cents > 0:
                self._grant(f"signup:{self.bot_id}", plan.signup_credit_cents, at,
                            at + plan.signup_credit_days * DAY_MS, out)

    def _apply_downgrade(self, at: int, out: list[Output]) -> None:
        assert self.scheduled is not None
        plan_id = self.scheduled[0]
        self.scheduled = None
        self._set_plan(plan_id, at, out)
        out.append(self._note("downgrade_applied", str(at), at, plan_id))

    def _plan_change(self, event: PlanChangeRequested, out: list[Output]) -> str:
        new = self.catalog.plans.get(event.plan_id)
        if new is None:
            return f"unknown plan_id {event.plan_id!r}"
        if new.billing == "trial":
            return "a bot has one trial, at registration: a plan change cannot request it"
        current = self.catalog.plans[self.plan_id]
        at = event.occurred_at
        if new.rank > current.rank:
            self.scheduled = None
            self._set_plan(new.plan_id, at, out)
        elif new.rank == current.rank:
            self.scheduled = None
        else:
            self.scheduled = (new.plan_id, next_month_start(at), event.event_id)
            out.append(self._note("downgrade_scheduled", event.event_id, at,
                                  f"{new.plan_id} from {format_ms(next_month_start(at))}"))
        return ""

    # -- account events ------------------------------------------------------------------

    def _account_event(self, event: AccountEvent, out: list[Output]) -> None:
        self.seen.add(event.event_id)
        if isinstance(event, OrderPlaced) and self._is_reload_echo(event):
            self.echoes[event.order_id] = event  # our own order read back: checked at the end
            return
        reason = self._apply_event(event, out)
        if reason:
            out.append(Rejection(event, reason))

    def _is_reload_echo(self, event: OrderPlaced) -> bool:
        return (event.payment_method == "auto_reload" and event.order_id == event.event_id
                and re.fullmatch(rf"reload:{re.escape(self.bot_id)}:[1-9][0-9]*",
                                 event.order_id) is not None)

    def _apply_event(self, event: AccountEvent, out: list[Output]) -> str:
        """Apply one account event; return why it is invalid, or ``""``."""
        at = event.occurred_at
        if self.registered_at is None:
            if not isinstance(event, BotRegistered):
                return "the bot is not registered (no bot_registered at or before this event)"
            if event.plan_id not in self.catalog.plans:
                return f"unknown plan_id {event.plan_id!r}"
            self.registered_at = at
            self.owner_user_id = event.owner_user_id
            plan = self.catalog.plans[event.plan_id]
            if plan.billing == "trial":
                self.trial_end = at + plan.trial_days * DAY_MS
            self._set_plan(event.plan_id, at, out)
            return ""
        if isinstance(event, BotRegistered):
            return "the bot is already registered (bot_registered is once per bot)"
        if isinstance(event, PlanChangeRequested):
            return self._plan_change(event, out)
        if isinstance(event, OrderPlaced):
            if event.amount_cents < ORDER_MINIMUM_CENTS:
                return f"amount_cents {event.amount_cents} is under the minimum " \
                       f"{ORDER_MINIMUM_CENTS}"
            if event.order_id in self.orders:
                return f"order_id {event.order_id!r} is already used"
            self.orders[event.order_id] = Order(event.amount_cents, event.payment_method)
            if event.payment_method == "auto_reload":
                self.reloads_placed += 1
            return ""
        if isinstance(event, OrderSettled):
            return self._settle(event, out)
        if isinstance(event, CreditsGranted):
            if event.grant_id in self.lots:
                return f"grant_id {event.grant_id!r} is already used"
            if event.grant_id.startswith(("signup:", "order:")):
                return f"grant_id {event.grant_id!r} is reserved (sign-up credit, paid order)"
            self._grant(event.grant_id, event.amount_cents, at, event.expires_at, out)
            return ""
        if isinstance(event, AutoReloadSet):
            if event.enabled and event.amount_cents < ORDER_MINIMUM_CENTS:
                return f"amount_cents {event.amount_cents} is under the minimum " \
                       f"{ORDER_MINIMUM_CENTS}"
            self.auto_reload = (event.enabled, event.threshold_cents, event.amount_cents)
            return ""
        if isinstance(event, ExtensionRequested):
            if event.request_id in self.requests:
                return f"request_id {event.request_id!r} is already used"
            self.requests[event.request_id] = False
            return ""
        if isinstance(event, ExtensionDecided):
            decided = self.requests.get(event.request_id)
            if decided is None:
                return f"no extension request {event.request_id!r} on this bot"
            if decided:
                return f"extension request {event.request_id!r} is already decided"
            self.requests[event.request_id] = True
            current = self.plan
            if event.approved and current is not None and current.billing == "trial" \
                    and self.trial_end is not None:
                self.trial_end += event.days * DAY_MS
            out.append(self._note("extension_decided", event.event_id, at,
                                  f"{event.request_id} "
                                  f"{'approved' if event.approved else 'denied'}"))
            return ""
        assert isinstance(event, OwnerChanged)
        self.owner_user_id = event.owner_user_id
        return ""

    def _settle(self, event: OrderSettled, out: list[Output]) -> str:
        order = self.orders.get(event.order_id)
        if order is None:
            return f"no order {event.order_id!r} was placed earlier on this bot"
        if order.status != "pending":
            return f"order {event.order_id!r} is already settled ({order.status})"
        order.status = event.status
        order.settled_at = event.occurred_at
        if event.status == "paid":
            self.paid_orders.append((event.order_id, order.amount, event.occurred_at))
            self._grant(f"order:{event.order_id}", order.amount, event.occurred_at, None, out)
        return ""

    # -- M4: the wallet ------------------------------------------------------------------

    def _entry_id(self, *parts: object) -> str:
        return ":".join((self.account_id, self.bot_id, *map(str, parts)))

    def _grant(self, grant_id: str, amount: int, at: int, expires_at: int | None,
               out: list[Output]) -> None:
        self.granted += amount
        out.append(LedgerEntry(self._entry_id("grant", grant_id), self.account_id, self.bot_id,
                               at, "grant", amount, grant_id))
        lot = Lot(grant_id, amount, amount, at, expires_at)
        self.lots[grant_id] = lot
        if expires_at is not None:
            heapq.heappush(self.expiry_queue, (expires_at, grant_id))
        repaid: list[tuple[str, int]] = []
        while self.overdraft and lot.remaining:
            debt = self.unpaid[0]
            session_id, owed = debt.session_id, debt.cents
            pay = min(owed, lot.remaining)
            lot.remaining -= pay
            self.overdraft -= pay
            draws = self.sessions[session_id].draws
            draws[""] -= pay
            if not draws[""]:
                del draws[""]
            draws[grant_id] = draws.get(grant_id, 0) + pay
            repaid.append((session_id, pay))
            if pay == owed:
                self.unpaid.pop(0)
            else:
                debt.cents = owed - pay
        if repaid:
            out.append(LedgerEntry(self._entry_id("repayment", grant_id), self.account_id,
                                   self.bot_id, at, "repayment", sum(c for _, c in repaid),
                                   grant_id, draws=tuple(repaid)))

    def _expire(self, at: int, out: list[Output]) -> None:
        due: list[Lot] = []
        while self.expiry_queue and self.expiry_queue[0][0] == at:
            due.append(self.lots[heapq.heappop(self.expiry_queue)[1]])
        for lot in sorted(due, key=Lot.order):
            if not lot.expired:
                lot.expired = True
                self.expired += lot.remaining
                out.append(LedgerEntry(self._entry_id("expiry", lot.grant_id), self.account_id,
                                       self.bot_id, at, "expiry", lot.remaining, lot.grant_id))
                lot.remaining = 0

    def _charge(self, charge: Charge, out: list[Output]) -> None:
        plan = self.plan
        if plan is None or charge.session_id in self.sessions:
            return  # not registered yet (metered, not priced), or charged already
        at = charge.at
        session = ChargedSession(plan.billing, charge.kind, month_key(at))
        self.sessions[charge.session_id] = session
        if plan.billing == "trial" and charge.kind == "usage":
            self.trial_usage += 1
            if self.trial_usage == plan.trial_max_usage_sessions:
                self.trial_exhausted_at = at
        elif plan.billing == "invoice":
            counter = (session.month, charge.kind)
            self.fee_sessions[counter] = self.fee_sessions.get(counter, 0) + 1
        elif plan.billing == "wallet":
            price = plan.usage_price_cents if charge.kind == "usage" else plan.alert_price_cents
            if price:
                self._debit(charge.session_id, session, price, at, out)

    def _debit(self, session_id: str, session: ChargedSession, price: int, at: int,
               out: list[Output]) -> None:
        before = self.balance
        left = price
        usable = [lot for lot in self.lots.values() if lot.remaining and not lot.expired
                  and lot.available <= at and (lot.expires_at is None or at < lot.expires_at)]
        for lot in sorted(usable, key=Lot.order):
            if not left:
                break
            take = min(left, lot.remaining)
            lot.remaining -= take
            left -= take
            session.draws[lot.grant_id] = take
        if left:
            self.overdraft += left
            session.draws[""] = left
            self.unpaid.append(Debt(session_id, left))
        self.debited += price
        generation = self.generations.get(session_id, 0) + 1
        self.generations[session_id] = generation
        out.append(LedgerEntry(self._entry_id("debit", session_id, generation), self.account_id,
                               self.bot_id, at, "debit", price, session_id=session_id,
                               draws=tuple(sorted(session.draws.items()))))
        self._auto_reload(before, at, out)

    def _void(self, void: Void, out: list[Output]) -> None:
        session = self.sessions.pop(void.session_id, None)
        if session is None:
            return
        if session.billing == "trial" and session.kind == "usage":
            self.trial_usage -= 1
            plan = self.plan
            if plan is not None and self.trial_usage < plan.trial_max_usage_sessions:
                self.trial_exhausted_at = None
        elif session.billing == "invoice":
            self.fee_sessions[(session.month, session.kind)] -= 1
        if not session.draws:
            return
        generation = self.generations[void.session_id]
        entry = self._entry_id("reversal", void.session_id, generation)
        total = 0
        for grant_id, cents in sorted(session.draws.items()):
            total += cents
            if not grant_id:
                self.overdraft -= cents
                self.unpaid = [d for d in self.unpaid if d.session_id != void.session_id]
                continue
            lot = self.lots[grant_id]
            if lot.expired:  # given back to a grant that has expired since: expires again
                self.expired += cents
                out.append(LedgerEntry(f"{entry}:expiry:{grant_id}", self.account_id,
                                       self.bot_id, void.at, "expiry", cents, grant_id))
            else:
                lot.remaining += cents
        self.debited -= total
        out.append(LedgerEntry(entry, self.account_id, self.bot_id, void.at, "reversal", total,
                               session_id=void.session_id,
                               draws=tuple(sorted(session.draws.items()))))

    # -- M6: auto-reload -----------------------------------------------------------------

    def _auto_reload(self, before: int, at: int, out: list[Output]) -> None:
        enabled, threshold, amount = self.auto_reload
        if not enabled or not before >= threshold > self.balance:
            return
        if any(o.method == "auto_reload" and o.status == "pending"
               for o in self.orders.values()):
            return
        self.reloads_placed += 1
        order_id = f"reload:{self.bot_id}:{self.reloads_placed}"
        self.orders[order_id] = Order(amount, "auto_reload")
        self.seen.add(order_id)
        out.append(OrderPlaced(order_id, self.account_id, self.bot_id, at, order_id, amount,
                               "auto_reload"))

    def unmatched_echoes(self) -> list[Rejection]:
        """Auto-reload orders read back from the input that the rules did not place."""
        return [Rejection(e, "an auto-reload order the rules did not place")
                for order_id, e in sorted(self.echoes.items()) if order_id not in self.orders]

    # -- M5: status, flags, notifications ------------------------------------------------

    def _note(self, kind: str, tag: str, at: int, detail: str = "") -> Notification:
        return Notification(self._entry_id("notification", kind, tag), self.account_id,
                            self.bot_id, at, kind, detail)

    def _evaluate(self, at: int, out: list[Output]) -> None:
        self.open_instant = None
        self.last_eval = self.clock = at
        if self.plan is None:
            return
        status = self.status_at(at)
        if status != self.status and status in ("low_balance", "suspended", "expired"):
            out.append(self._note(status, str(at), at))
        self.status = status
        expiring = self._is_expiring(at)
        if expiring and not self.expiring:
            out.append(self._note("expiring", str(at), at, str(self.trial_end)))
        self.expiring = expiring
        allowed = status not in ("expired", "suspended")
        if allowed != self.allowed:
            self.allowed = allowed
            out.append(Entitlement(self.account_id, self.bot_id, allowed, status, at))


def run_books(movements: Iterable[Movement], as_of: int, catalog: Catalog,
              ) -> tuple[dict[BotKey, BotBook], list[Output]]:
    """Fold every bot's movements at or before ``as_of`` (any input order; redeliveries
    count once) and close the instant ``as_of``. Returns the books and all outputs."""
    per_bot: dict[BotKey, list[Movement]] = {}
    for movement in movements:
        at = movement.at if isinstance(movement, (Charge, Void)) else movement.occurred_at
        if at <= as_of:
            per_bot.setdefault((movement.account_id, movement.bot_id), []).append(movement)
    books: dict[BotKey, BotBook] = {}
    outputs: list[Output] = []
    for key in sorted(per_bot):
        book = books[key] = BotBook(key[0], key[1], catalog)
        for movement in _in_order(per_bot[key]):
            outputs.extend(book.apply(movement))
        outputs.extend(book.advance(as_of))
        outputs.extend(book.unmatched_echoes())
    return books, outputs


def _in_order(movements: list[Movement]) -> list[Movement]:
    """:func:`movement_key` order; records that share a key (one ``event_id`` twice with
    different content: R1 counts the first) are ordered by their content, so that the
    result never depends on the input's order."""
    keyed = sorted(((movement_key(m), m) for m in movements), key=lambda item: item[0])
    ordered: list[Movement] = []
    start = 0
    for index in range(1, len(keyed) + 1):
        if index == len(keyed) or keyed[index][0] != keyed[start][0]:
            group = [m for _, m in keyed[start:index]]
            ordered.extend(sorted(group, key=repr) if len(group) > 1 else group)
            start = index
    return ordered
