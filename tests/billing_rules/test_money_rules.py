"""One test per edge of MONEY_RULES: the order within an instant, half-to-even proration,
expiry at the exact instant, auto-reload suppression while pending, the plan timeline,
trials, notifications, rejections, the catalog and the account events' shape."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.catalog import Catalog, catalog_from_mapping
from botbill.billing_rules.exceptions import InvalidCatalog, InvalidEvent, MovementOutOfOrder
from botbill.billing_rules.invoices import balance_rows, invoice_rows, invoices, prorate
from botbill.billing_rules.money import (
    BotBook,
    Charge,
    Entitlement,
    LedgerEntry,
    Movement,
    Notification,
    Rejection,
    Void,
    run_books,
)
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.jobs.catalog_file import load_catalog
from tests.billing_rules.money_strategies import CATALOG as SMALL

DEFAULT = load_catalog()
ACCOUNT, BOT = "acct", "bot"


def at(text: str) -> int:
    return parse_rfc3339_ms(text if text.endswith("Z") else text + "T00:00:00.000Z")


class Script:
    """Builds one bot's movements: ``s.event("order_placed", "2026-01-01", ...)``."""

    def __init__(self) -> None:
        self.moves: list[Movement] = []
        self.count = 0

    def event(self, kind: str, when: str, **fields: Any) -> Script:
        self.count += 1
        if "expires_at" in fields:
            fields["expires_at"] = at(fields["expires_at"])
        record = {"type": kind, "event_id": fields.pop("event_id", f"e{self.count:03d}"),
                  "account_id": ACCOUNT, "bot_id": BOT, "occurred_at": at(when), **fields}
        self.moves.append(account_event_from_mapping(record))
        return self

    def register(self, when: str, plan: str) -> Script:
        return self.event("bot_registered", when, plan_id=plan, owner_user_id="o")

    def session(self, when: str, kind: str = "usage", sid: str = "") -> Script:
        self.count += 1
        self.moves.append(Charge(ACCOUNT, BOT, at(when), kind,  # type: ignore[arg-type]
                                 sid or f"{kind}/{self.count}"))
        return self

    def run(self, as_of: str, catalog: Catalog = DEFAULT) -> tuple[BotBook, list[Any]]:
        books, outputs = run_books(self.moves, at(as_of), catalog)
        return books[(ACCOUNT, BOT)], outputs


def kinds(outputs: list[Any], kind: type) -> list[Any]:
    return [o for o in outputs if isinstance(o, kind)]


# -- M1: order within an instant ------------------------------------------------------------


def test_a_plan_change_at_t_applies_to_a_session_starting_at_t() -> None:
    book, _ = (Script().register("2026-01-01", "standard")
               .event("plan_change_requested", "2026-01-05", plan_id="essential")
               .session("2026-01-05").run("2026-01-06"))
    assert book.debited == 0
    assert book.fee_sessions == {(2026 * 12, "usage"): 1}


def test_a_payment_at_t_pays_a_session_at_t_and_a_grant_expiring_at_t_cannot() -> None:
    book, outputs = (Script().register("2026-01-01", "essential")
                     .event("plan_change_requested", "2026-01-02", plan_id="enterprise")
                     .event("credits_granted", "2026-01-02", grant_id="g", amount_cents=100,
                            expires_at="2026-01-10T00:00:00.000Z")
                     .run("2026-01-03"))
    assert book.plan_id == "enterprise"  # nothing priced there; now the wallet edges:
    script = (Script().register("2026-01-01", "standard")
              .event("credits_granted", "2026-01-01", grant_id="g", amount_cents=100,
                     expires_at="2026-01-10T00:00:00.000Z")
              .session("2026-01-10"))
    book, outputs = script.run("2026-01-11")
    (debit,) = [e for e in kinds(outputs, LedgerEntry) if e.kind == "debit"]
    assert dict(debit.draws) == {"signup:bot": 20}  # g expired at that very instant
    assert book.expired == 100


def test_a_grant_expiring_just_after_the_session_pays_for_it_first() -> None:
    _, outputs = (Script().register("2026-01-01", "standard")
                  .event("credits_granted", "2026-01-01", grant_id="g", amount_cents=100,
                         expires_at="2026-01-10T00:00:00.001Z")
                  .session("2026-01-10").run("2026-01-11"))
    (debit,) = [e for e in kinds(outputs, LedgerEntry) if e.kind == "debit"]
    assert dict(debit.draws) == {"g": 20}  # expires first, so drawn first


def test_a_paid_order_at_t_pays_an_overdraft_session_at_t() -> None:
    custom = json.loads(_catalog_text())
    custom["plans"]["standard"]["signup_credit_cents"] = 0
    catalog = catalog_from_mapping(custom)
    book, outputs = (Script().register("2026-01-01", "standard")
                     .event("order_placed", "2026-01-01", order_id="o", amount_cents=10_000,
                            payment_method="card")
                     .session("2026-01-02")
                     .event("order_settled", "2026-01-02", order_id="o", status="paid")
                     .run("2026-01-03", catalog))
    assert book.overdraft == 0 and book.balance == 10_000 - 20
    assert not [e for e in kinds(outputs, LedgerEntry) if e.kind == "repayment"]


def test_a_grant_arriving_later_repays_the_overdraft_first() -> None:
    custom = json.loads(_catalog_text())
    custom["plans"]["standard"]["signup_credit_cents"] = 0
    book, outputs = (Script().register("2026-01-01", "standard").session("2026-01-02")
                     .session("2026-01-02", "alert")
                     .event("credits_granted", "2026-01-03", grant_id="g", amount_cents=15)
                     .run("2026-01-04", catalog_from_mapping(custom)))
    (repayment,) = [e for e in kinds(outputs, LedgerEntry) if e.kind == "repayment"]
    assert repayment.amount_cents == 15 and book.overdraft == 7 and book.balance == -7
    assert book.status_at(at("2026-01-04")) == "suspended"


def test_a_downgrade_taking_effect_at_month_start_prices_a_session_at_that_instant() -> None:
    book, outputs = (Script().register("2026-01-01", "essential")
                     .event("plan_change_requested", "2026-01-20", plan_id="standard")
                     .session("2026-02-01").run("2026-02-02"))
    assert book.timeline == [(at("2026-01-01"), "essential"), (at("2026-02-01"), "standard")]
    assert book.debited == 20 and book.granted == 50_000  # the sign-up credit, same instant
    notes = [n.kind for n in kinds(outputs, Notification)]
    assert notes == ["downgrade_scheduled", "downgrade_applied"]


# -- M1: the plan timeline ------------------------------------------------------------------


def test_downgrades_are_replaced_cancelled_and_dropped_by_an_upgrade() -> None:
    base = Script().register("2026-03-01", "advanced")
    replaced, _ = (base.event("plan_change_requested", "2026-03-10", plan_id="essential")
                   .event("plan_change_requested", "2026-03-25", plan_id="standard")
                   .run("2026-04-02"))
    assert replaced.plan_id == "standard"
    cancelled, _ = (Script().register("2026-03-01", "advanced")
                    .event("plan_change_requested", "2026-03-10", plan_id="essential")
                    .event("plan_change_requested", "2026-03-20", plan_id="advanced")
                    .run("2026-04-02"))
    assert cancelled.plan_id == "advanced" and cancelled.scheduled is None
    dropped, _ = (Script().register("2026-03-01", "essential")
                  .event("plan_change_requested", "2026-03-10", plan_id="standard")
                  .event("plan_change_requested", "2026-03-20", plan_id="advanced")
                  .run("2026-04-02"))
    assert dropped.timeline == [(at("2026-03-01"), "essential"), (at("2026-03-20"), "advanced")]


def test_flags_show_a_scheduled_downgrade() -> None:
    book, _ = (Script().register("2026-03-01", "advanced")
               .event("plan_change_requested", "2026-03-10", plan_id="essential")
               .run("2026-03-11"))
    assert book.flags(at("2026-03-11")) == {"downgrade_scheduled":
                                            "essential@2026-04-01T00:00:00.000Z"}


# -- M3: invoices ---------------------------------------------------------------------------


def test_prorate_rounds_half_to_even() -> None:
    assert [prorate(n, 2) for n in (1, 3, 5, 7, 4)] == [0, 2, 2, 4, 2]
    assert prorate(10, 4) == 2 and prorate(11, 4) == 3 and prorate(9, 4) == 2


def test_a_subscription_line_rounds_half_to_even_once() -> None:
    # SMALL: essential 93, advanced 155 a month. On each for half of January (31 days):
    # 46.5 -> 46 and 77.5 -> 78 if rounded per period, but one line: 124.0 -> 124.
    script = (Script().register("2026-01-01", "essential")
              .event("plan_change_requested", "2026-01-16T12:00:00.000Z", plan_id="advanced"))
    def january(book: BotBook) -> Any:
        found = invoices({(ACCOUNT, BOT): book}, SMALL, at("2026-02-05"))
        return next(i for i in found if i.period == "2026-01")

    book, _ = script.run("2026-02-05", SMALL)
    assert january(book).lines[0].amount_cents == 124 and january(book).status == "final"
    half, _ = Script().register("2026-01-16T12:00:00.000Z", "essential").run("2026-02-05", SMALL)
    assert january(half).lines[0].amount_cents == 46  # 46.5: half to even
    half, _ = Script().register("2026-01-16T12:00:00.000Z", "advanced").run("2026-02-05", SMALL)
    assert january(half).lines[0].amount_cents == 78  # 77.5: half to even


def test_an_invoice_is_a_draft_until_the_grace_ends() -> None:
    book, _ = Script().register("2026-01-01", "essential").run("2026-02-01")
    draft = invoice_rows(invoices({(ACCOUNT, BOT): book}, DEFAULT, at("2026-02-01")))
    assert [row["status"] for row in draft] == ["draft", "draft"]  # January and February
    just = at("2026-02-02")
    book, _ = Script().register("2026-01-01", "essential").run("2026-02-02")
    rows = invoice_rows(invoices({(ACCOUNT, BOT): book}, DEFAULT, just - 1))
    assert rows[0]["status"] == "draft"
    rows = invoice_rows(invoices({(ACCOUNT, BOT): book}, DEFAULT, just))
    assert rows[0]["status"] == "final" and rows[0]["total_cents"] == 9_900


def test_overage_uses_the_last_fee_plan_of_the_month() -> None:
    script = Script().register("2026-01-01", "essential")
    for n in range(5):
        script.session(f"2026-01-0{n + 2}")
    script.event("plan_change_requested", "2026-01-20", plan_id="standard")
    book, _ = script.run("2026-02-05", SMALL)
    (invoice,) = invoices({(ACCOUNT, BOT): book}, SMALL, at("2026-02-05"))
    usage = invoice.lines[1]
    assert (usage.quantity, usage.unit_price_cents) == (3, 12)  # 5 - 2 included, essential


def test_receipts_are_final_at_once_in_the_month_of_settlement() -> None:
    book, _ = (Script().register("2026-01-01", "enterprise")
               .event("order_placed", "2026-01-31", order_id="o1", amount_cents=12_345,
                      payment_method="wire_transfer")
               .event("order_settled", "2026-02-01", order_id="o1", status="paid")
               .run("2026-02-01"))
    rows = invoice_rows(invoices({(ACCOUNT, BOT): book}, DEFAULT, at("2026-02-01")))
    assert rows == [{"invoice_id": "RCT-o1", "account_id": ACCOUNT, "period": "2026-02",
                     "status": "final",
                     "lines": [{"bot_id": BOT, "kind": "funds", "quantity": 1,
                                "unit_price_cents": 12_345, "amount_cents": 12_345}],
                     "total_cents": 12_345}]


# -- M4: expiry and voids -------------------------------------------------------------------


def test_expiry_is_an_explicit_ledger_entry_at_the_exact_instant() -> None:
    script = (Script().register("2026-01-01", "standard")
              .event("credits_granted", "2026-01-02", grant_id="g", amount_cents=500,
                     expires_at="2026-01-05T06:00:00.000Z").session("2026-01-03"))
    before, _ = script.run("2026-01-05T05:59:59.999Z")
    assert before.expired == 0
    book, outputs = script.run("2026-01-05T06:00:00.000Z")
    (expiry,) = [e for e in kinds(outputs, LedgerEntry) if e.kind == "expiry"]
    assert (expiry.at, expiry.amount_cents, expiry.grant_id) == (
        at("2026-01-05T06:00:00.000Z"), 480, "g")
    assert book.balance == 50_000


def test_a_void_after_the_debit_gives_back_what_it_took() -> None:
    book, _ = (Script().register("2026-01-01", "standard").session("2026-01-02", sid="s1")
               .run("2026-01-02"))
    assert book.balance == 50_000 - 20
    (reversal,) = book.apply(Void(ACCOUNT, BOT, at("2026-01-03"), "s1"))
    assert isinstance(reversal, LedgerEntry) and reversal.kind == "reversal"
    assert dict(reversal.draws) == {"signup:bot": 20} and book.balance == 50_000


def test_movements_must_come_in_order() -> None:
    book, _ = Script().register("2026-01-01", "standard").run("2026-01-05")
    with pytest.raises(MovementOutOfOrder):
        book.apply(Charge(ACCOUNT, BOT, at("2026-01-04"), "usage", "late"))


# -- M5: status, flags, notifications, entitlements -----------------------------------------


def test_a_trial_ends_by_time_and_extensions_decided_on_trial_extend_it() -> None:
    script = (Script().register("2026-05-01", "trial")
              .event("extension_requested", "2026-05-10", request_id="r1", days=7)
              .event("extension_requested", "2026-05-10", request_id="r2", days=30)
              .event("extension_decided", "2026-05-12", request_id="r1", approved=True, days=10)
              .event("extension_decided", "2026-05-12", request_id="r2", approved=False,
                     days=30))
    book, outputs = script.run("2026-05-24T23:59:59.999Z")
    assert book.trial_end == at("2026-05-25") and book.status_at(at("2026-05-24")) == "trial"
    book, outputs = script.run("2026-05-25")
    assert book.status_at(at("2026-05-25")) == "expired"
    notes = [(n.kind, n.at) for n in kinds(outputs, Notification)]
    assert notes == [("extension_decided", at("2026-05-12")),
                     ("extension_decided", at("2026-05-12")),
                     ("expiring", at("2026-05-22")), ("expired", at("2026-05-25"))]
    assert [(e.allowed, e.since) for e in kinds(outputs, Entitlement)] == [
        (True, at("2026-05-01")), (False, at("2026-05-25"))]


def test_a_trial_ends_at_its_last_included_session() -> None:
    script = Script().register("2026-05-01", "trial")
    for n in range(4):  # SMALL: at most 4 usage sessions
        script.session(f"2026-05-01T0{n + 1}:00:00.000Z")
    book, outputs = script.run("2026-05-01T05:00:00.000Z", SMALL)
    assert book.status_at(at("2026-05-01T03:59:59.999Z")) == "trial"
    assert book.status_at(at("2026-05-01T04:00:00.000Z")) == "expired"
    assert [(n.kind, n.at) for n in kinds(outputs, Notification)] == [
        ("expiring", at("2026-05-01")), ("expired", at("2026-05-01T04:00:00.000Z"))]


def test_flags_show_an_expiring_trial_and_a_pending_extension() -> None:
    book, _ = (Script().register("2026-05-01", "trial")
               .event("extension_requested", "2026-05-12", request_id="r1", days=7)
               .run("2026-05-12"))
    assert book.flags(at("2026-05-12")) == {"expiring": "2026-05-15T00:00:00.000Z",
                                            "extension_pending": "r1"}


def test_low_balance_uses_the_auto_reload_threshold_while_enabled() -> None:
    script = (Script().register("2026-01-01", "standard")
              .event("auto_reload_set", "2026-01-01T01:00:00.000Z", enabled=True,
                     threshold_cents=60_000, amount_cents=10_000))
    book, outputs = script.run("2026-01-02")
    assert book.status_at(at("2026-01-02")) == "low_balance"
    assert [n.kind for n in kinds(outputs, Notification)] == ["low_balance"]


def test_each_transition_is_notified_once_whatever_the_redeliveries() -> None:
    script = (Script().register("2026-01-01", "standard")
              .event("plan_change_requested", "2026-01-05", plan_id="trial"))
    moves = script.moves + script.moves
    _, outputs = run_books(moves, at("2026-06-01"), DEFAULT)
    notes = [n.kind for n in kinds(outputs, Notification)]
    assert notes == ["suspended"]  # the sign-up credit expired after 90 days
    assert len(kinds(outputs, Rejection)) == 1  # a trial request, once


# -- M6: auto-reload ------------------------------------------------------------------------


def test_auto_reload_is_suppressed_while_its_order_is_pending() -> None:
    script = (Script().register("2026-06-01", "standard")
              .event("auto_reload_set", "2026-06-01T01:00:00.000Z", enabled=True,
                     threshold_cents=49_970, amount_cents=10_000)
              .session("2026-06-02T10:00:00.000Z").session("2026-06-02T10:15:00.000Z")
              .event("credits_granted", "2026-06-02T11:00:00.000Z", grant_id="g1",
                     amount_cents=100))
    for minute in ("12:00", "12:30", "13:00", "13:30", "14:00"):  # the last two cross again
        script.session(f"2026-06-02T{minute}:00.000Z")
    _, outputs = script.run("2026-06-03")
    placed = [o for o in outputs if type(o).__name__ == "OrderPlaced"]
    assert [(o.order_id, o.occurred_at, o.payment_method) for o in placed] == [
        ("reload:bot:1", at("2026-06-02T10:15:00.000Z"), "auto_reload")]
    # failed: the next crossing places reload:bot:2
    script.event("order_settled", "2026-06-03", order_id="reload:bot:1", status="failed")
    script.event("credits_granted", "2026-06-03T01:00:00.000Z", grant_id="g2",
                 amount_cents=40)
    script.session("2026-06-03T02:00:00.000Z").session("2026-06-03T02:30:00.000Z")
    _, outputs = script.run("2026-06-04")
    placed = [o.order_id for o in outputs if type(o).__name__ == "OrderPlaced"]
    assert placed == ["reload:bot:1", "reload:bot:2"]


def test_an_input_holding_the_derived_order_is_the_same_event() -> None:
    script = (Script().register("2026-06-01", "standard")
              .event("auto_reload_set", "2026-06-01", enabled=True, threshold_cents=50_000,
                     amount_cents=10_000)
              .session("2026-06-02")
              .event("order_placed", "2026-06-02", event_id="reload:bot:1",
                     order_id="reload:bot:1", amount_cents=10_000, payment_method="auto_reload")
              .event("order_settled", "2026-06-03", order_id="reload:bot:1", status="paid"))
    book, outputs = script.run("2026-06-04")
    assert not kinds(outputs, Rejection)
    assert book.granted == 60_000 and book.reloads_placed == 1
    ghost = Script().register("2026-06-01", "standard").event(
        "order_placed", "2026-06-02", event_id="reload:bot:7", order_id="reload:bot:7",
        amount_cents=10_000, payment_method="auto_reload")
    _, outputs = ghost.run("2026-06-04")
    assert [r.reason for r in kinds(outputs, Rejection)] == [
        "an auto-reload order the rules did not place"]


# -- §1: rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "reason"), [
    (lambda s: s.event("owner_changed", "2026-01-01", owner_user_id="x"), "not registered"),
    (lambda s: s.register("2026-01-03", "standard"), "already registered"),
    (lambda s: s.event("plan_change_requested", "2026-01-03", plan_id="gold"), "unknown plan"),
    (lambda s: s.event("plan_change_requested", "2026-01-03", plan_id="trial"), "one trial"),
    (lambda s: s.event("order_placed", "2026-01-03", order_id="o", amount_cents=9_999,
                       payment_method="card"), "under the minimum"),
    (lambda s: s.event("order_placed", "2026-01-03", order_id="o1", amount_cents=10_000,
                       payment_method="card"), "already used"),
    (lambda s: s.event("order_settled", "2026-01-03", order_id="o1", status="failed"),
     "already settled"),
    (lambda s: s.event("order_settled", "2026-01-03", order_id="nope", status="paid"),
     "no order"),
    (lambda s: s.event("credits_granted", "2026-01-03", grant_id="g1", amount_cents=5),
     "already used"),
    (lambda s: s.event("credits_granted", "2026-01-03", grant_id="order:o2", amount_cents=5),
     "reserved"),
    (lambda s: s.event("auto_reload_set", "2026-01-03", enabled=True, threshold_cents=5,
                       amount_cents=9_000), "under the minimum"),
    (lambda s: s.event("extension_requested", "2026-01-03", request_id="r1", days=3),
     "already used"),
    (lambda s: s.event("extension_decided", "2026-01-03", request_id="r9", approved=True,
                       days=3), "no extension request"),
    (lambda s: s.event("extension_decided", "2026-01-03", request_id="r1", approved=True,
                       days=3), "already decided"),
])
def test_an_event_breaking_a_rule_is_rejected_with_its_reason_and_not_applied(
        build: Any, reason: str) -> None:
    base = Script()
    if reason != "not registered":
        (base.register("2026-01-01", "standard")
         .event("order_placed", "2026-01-02", order_id="o1", amount_cents=10_000,
                payment_method="card")
         .event("order_settled", "2026-01-02", order_id="o1", status="paid")
         .event("credits_granted", "2026-01-02", grant_id="g1", amount_cents=5)
         .event("extension_requested", "2026-01-02", request_id="r1", days=3)
         .event("extension_decided", "2026-01-02", request_id="r1", approved=False, days=3))
    build(base)
    if reason == "not registered":
        books, outputs = run_books(base.moves, at("2026-01-04"), DEFAULT)
        assert balance_rows(books, at("2026-01-04")) == []
        assert [r.reason for r in kinds(outputs, Rejection)] == [
            "the bot is not registered (no bot_registered at or before this event)"]
        return
    before_books, _ = run_books(base.moves[:-1], at("2026-01-04"), DEFAULT)
    before_book = before_books[(ACCOUNT, BOT)]
    book, outputs = base.run("2026-01-04")
    (rejection,) = kinds(outputs, Rejection)
    assert reason in rejection.reason
    assert rejection.event is base.moves[-1]
    assert balance_rows({(ACCOUNT, BOT): book}, at("2026-01-04")) == \
        balance_rows({(ACCOUNT, BOT): before_book}, at("2026-01-04"))
    assert book.plan_id == before_book.plan_id and book.auto_reload == before_book.auto_reload


def test_an_unregistered_bot_has_no_balance_row() -> None:
    book, _ = Script().session("2026-01-02").run("2026-01-04")
    assert balance_rows({(ACCOUNT, BOT): book}, at("2026-01-04")) == []


# -- §1: the shape of account events --------------------------------------------------------


@pytest.mark.parametrize(("record", "field"), [
    ({"type": "order_placed", "order_id": "o", "amount_cents": 1.5, "payment_method": "card"},
     "amount_cents"),
    ({"type": "order_placed", "order_id": "o", "amount_cents": 10_000,
      "payment_method": "cash"}, "payment_method"),
    ({"type": "order_settled", "order_id": "o", "status": "maybe"}, "status"),
    ({"type": "credits_granted", "grant_id": "g", "amount_cents": 0}, "amount_cents"),
    ({"type": "credits_granted", "grant_id": "g", "amount_cents": 5,
      "expires_at": "2026-01-01T00:00:00.000Z"}, "expires_at"),
    ({"type": "extension_requested", "request_id": "r", "days": 91}, "days"),
    ({"type": "extension_decided", "request_id": "r", "approved": "yes", "days": 3},
     "approved"),
    ({"type": "auto_reload_set", "enabled": True, "threshold_cents": True,
      "amount_cents": 10_000}, "threshold_cents"),
    ({"type": "bot_registered", "plan_id": "", "owner_user_id": "o"}, "plan_id"),
    ({"type": "owner_changed"}, "owner_user_id"),
    ({"type": "no_such_event"}, "type"),
    ({"type": "owner_changed", "owner_user_id": "o", "occurred_at": -10**14}, "occurred_at"),
    ({"type": "owner_changed", "owner_user_id": "o", "occurred_at": "2201-01-01T00:00:00.000Z"},
     "occurred_at"),
    ({"type": "credits_granted", "grant_id": "g", "amount_cents": 5,
      "expires_at": "2999-01-01T00:00:00.000Z"}, "expires_at"),
])
def test_a_malformed_account_event_names_the_record_and_the_field(record: dict[str, Any],
                                                                   field: str) -> None:
    full = {"event_id": "ev-9", "account_id": "a", "bot_id": "b",
            "occurred_at": "2026-01-01T00:00:00.000Z", **record}
    with pytest.raises(InvalidEvent) as caught:
        account_event_from_mapping(full)
    assert caught.value.record == "'ev-9'" and repr(field) in caught.value.reason


# -- §2: the catalog ------------------------------------------------------------------------


def _catalog_text() -> str:
    return resources.files("botbill.billing_rules").joinpath("data/catalog.json").read_text()


def test_the_shipped_catalog_holds_the_contract_defaults() -> None:
    plans = DEFAULT.plans
    table = {  # MONEY_RULES §2, copied by hand
        "trial": (0, 0, 0, 0, 0, 0), "standard": (1, 0, 0, 0, 20, 2),
        "essential": (2, 9_900, 1_000, 5_000, 12, 1),
        "advanced": (3, 49_900, 6_000, 30_000, 10, 1), "enterprise": (4, 0, 0, 0, 0, 0)}
    assert {p: (v.rank, v.monthly_fee_cents, v.included_usage_sessions,
                v.included_alert_sessions, v.usage_price_cents, v.alert_price_cents)
            for p, v in plans.items()} == table
    assert (plans["trial"].trial_days, plans["trial"].trial_max_usage_sessions) == (14, 2_000)
    assert (plans["standard"].signup_credit_cents, plans["standard"].signup_credit_days) == (
        50_000, 90)
    assert DEFAULT.low_balance_cents == 2_000 and DEFAULT.version


@pytest.mark.parametrize(("change", "reason"), [
    (lambda c: c.pop("version"), "'version'"),
    (lambda c: c["plans"]["standard"].update(rank=2), "ranks must be distinct"),
    (lambda c: c["plans"]["essential"].update(monthly_fee_cents=99.0), "'monthly_fee_cents'"),
    (lambda c: c["plans"]["essential"].update(monthly_fee_cents=-1), "'monthly_fee_cents'"),
    (lambda c: c["plans"]["advanced"].update(billing="monthly"), "'billing'"),
    (lambda c: c["plans"]["advanced"].update(colour="red"), "unknown field"),
    (lambda c: c["plans"]["enterprise"].update(billing="trial", trial_days=1,
                                               trial_max_usage_sessions=1), "exactly one"),
    (lambda c: c["plans"]["trial"].pop("trial_days"), "'trial_days'"),
    (lambda c: c.update(low_balance_cents="2000"), "'low_balance_cents'"),
])
def test_a_bad_catalog_is_refused_with_the_reason(change: Any, reason: str) -> None:
    data = json.loads(_catalog_text())
    change(data)
    with pytest.raises(InvalidCatalog) as caught:
        catalog_from_mapping(data, "mine.json")
    assert reason in str(caught.value) and "mine.json" in str(caught.value)


def test_the_catalog_file_comes_from_the_option_then_the_environment(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(_catalog_text())
    data["version"] = "from-env"
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(data))
    monkeypatch.setenv("BOTBILL_CATALOG", str(env_file))
    assert load_catalog().version == "from-env"
    data["version"] = "from-option"
    option_file = tmp_path / "option.json"
    option_file.write_text(json.dumps(data))
    assert load_catalog(str(option_file)).version == "from-option"
    with pytest.raises(InvalidCatalog, match="cannot read"):
        load_catalog(str(tmp_path / "missing.json"))


def test_an_account_with_only_enterprise_bots_is_an_enterprise_customer() -> None:
    from botbill.billing_rules.invoices import enterprise_accounts

    def registered(account_id: str, bot_id: str, plan: str) -> Movement:
        return account_event_from_mapping({
            "type": "bot_registered", "event_id": f"{account_id}/{bot_id}",
            "account_id": account_id, "bot_id": bot_id, "occurred_at": at("2026-01-01"),
            "plan_id": plan, "owner_user_id": "o"})

    moves = [registered(ACCOUNT, BOT, "enterprise"), registered("other", "b2", "enterprise"),
             registered("other", "b3", "standard")]
    books, _ = run_books(moves, at("2026-01-02"), DEFAULT)
    assert enterprise_accounts(books, DEFAULT) == {ACCOUNT}


def test_the_stream_reading_its_own_reload_order_back_changes_nothing() -> None:
    book, outputs = (Script().register("2026-06-01", "standard")
                     .event("auto_reload_set", "2026-06-01", enabled=True,
                            threshold_cents=50_000, amount_cents=10_000)
                     .session("2026-06-02").run("2026-06-02"))
    (order,) = [o for o in outputs if type(o).__name__ == "OrderPlaced"]
    before = balance_rows({(ACCOUNT, BOT): book}, at("2026-06-02"))
    assert book.apply(order) == []  # older than the debit that placed it: R1, not an error
    assert balance_rows({(ACCOUNT, BOT): book}, at("2026-06-02")) == before
