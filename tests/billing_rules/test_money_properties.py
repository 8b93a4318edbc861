"""The money engine against the independent oracle (``money_oracle``), and its invariants:
any order and redelivery gives the same results; ``balance = granted - debited - expired``
and the ledger adds up; a void gives back exactly what its debit took; invoices are
idempotent."""

from __future__ import annotations

import functools
import json
import random
from importlib import resources
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from botbill.billing_rules.account_events import OrderPlaced, account_event_from_mapping
from botbill.billing_rules.batch import BatchBiller
from botbill.billing_rules.events import event_from_mapping
from botbill.billing_rules.invoices import balance_rows, invoice_rows, invoices
from botbill.billing_rules.money import (
    BotBook,
    Charge,
    LedgerEntry,
    Notification,
    Void,
    movement_key,
    run_books,
)
from botbill.billing_rules.sessions import AlertSession
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.jobs.catalog_file import load_catalog
from botbill.jobs.replay_money import session_charge
from tests.billing_rules.money_oracle import oracle
from tests.billing_rules.money_strategies import (
    CATALOG,
    HALF_DAY,
    TEST_CATALOG,
    Session,
    movements,
    reload_scenario,
    scenario,
)
from tests.examples_dir import EXAMPLES

DEFAULT_CATALOG = load_catalog()

Scenario = tuple[list[dict[str, Any]], list[Session], int]


def engine_rows(events: list[dict[str, Any]], sessions: list[Session], as_of: int,
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    books, _ = run_books(movements(events, sessions), as_of, CATALOG)
    return balance_rows(books, as_of), invoice_rows(invoices(books, CATALOG, as_of))


@settings(max_examples=250)
@given(scenario())
def test_engine_equals_the_oracle(case: Scenario) -> None:
    events, sessions, as_of = case
    expected_balances, expected_invoices, _ = oracle(TEST_CATALOG, events, sessions, as_of)
    balances, found = engine_rows(events, sessions, as_of)
    assert balances == expected_balances
    assert found == expected_invoices


@settings(max_examples=200)
@given(reload_scenario())
def test_auto_reload_equals_the_oracle(case: Scenario) -> None:
    events, sessions, as_of = case
    expected_balances, expected_invoices, bots = oracle(TEST_CATALOG, events, sessions, as_of)
    books, outputs = run_books(movements(events, sessions), as_of, CATALOG)
    assert balance_rows(books, as_of) == expected_balances
    assert invoice_rows(invoices(books, CATALOG, as_of)) == expected_invoices
    (bot,) = bots.values()
    placed = [o.order_id for o in outputs if isinstance(o, OrderPlaced)]
    assert placed == [k for k in bot.orders if k.startswith("reload:")]


@settings(max_examples=100)
@given(scenario(), st.randoms(use_true_random=False))
def test_any_order_and_redelivery_gives_the_same_results(case: Scenario,
                                                         rng: random.Random) -> None:
    events, sessions, as_of = case
    moves = movements(events, sessions)
    books, outputs = run_books(moves, as_of, CATALOG)
    again = moves + rng.sample(moves, k=len(moves) // 2)
    rng.shuffle(again)
    books2, outputs2 = run_books(again, as_of, CATALOG)
    assert balance_rows(books2, as_of) == balance_rows(books, as_of)
    assert invoice_rows(invoices(books2, CATALOG, as_of)) == \
        invoice_rows(invoices(books, CATALOG, as_of))
    assert outputs2 == outputs  # the same ledger, notifications, entitlements, in order
    notes = [o.notification_id for o in outputs if isinstance(o, Notification)]
    assert len(notes) == len(set(notes))
    entries = [o.entry_id for o in outputs if isinstance(o, LedgerEntry)]
    assert len(entries) == len(set(entries))


@settings(max_examples=200)
@given(scenario())
def test_balance_is_granted_minus_debited_minus_expired_and_the_ledger_adds_up(
        case: Scenario) -> None:
    events, sessions, as_of = case
    books, outputs = run_books(movements(events, sessions), as_of, CATALOG)
    for key, book in books.items():
        entries = [o for o in outputs if isinstance(o, LedgerEntry)
                   and (o.account_id, o.bot_id) == key]
        total = {kind: sum(e.amount_cents for e in entries if e.kind == kind)
                 for kind in ("grant", "debit", "reversal", "expiry")}
        assert book.granted == total["grant"]
        assert book.debited == total["debit"] - total["reversal"]
        assert book.expired == total["expiry"]
        assert book.balance == book.granted - book.debited - book.expired
        left = sum(lot.remaining for lot in book.lots.values())
        assert book.balance == left - book.overdraft
        assert book.overdraft >= 0 and (book.overdraft == 0 or book.balance < 0)
        for entry in entries:
            if entry.kind == "debit":
                assert sum(c for _, c in entry.draws) == entry.amount_cents


@settings(max_examples=200)
@given(scenario(), st.data())
def test_a_void_gives_back_exactly_what_its_debit_took(case: Scenario, data: Any) -> None:
    events, sessions, _ = case
    moves = sorted(movements(events, sessions), key=movement_key)
    books: dict[tuple[str, str], BotBook] = {}
    for move in moves:
        key = (move.account_id, move.bot_id)
        book = books.setdefault(key, BotBook(key[0], key[1], CATALOG))
        book.apply(move)
    charged = [(key, sid) for key, book in books.items() for sid, s in book.sessions.items()
               if s.draws]
    if not charged:
        return
    key, session_id = data.draw(st.sampled_from(sorted(charged)))
    book = books[key]
    took = dict(book.sessions[session_id].draws)
    before = {g: lot.remaining for g, lot in book.lots.items()}
    expired_lots = {g for g, lot in book.lots.items() if lot.expired}
    balance, debited, expired, overdraft = (book.balance, book.debited, book.expired,
                                            book.overdraft)
    at = max(book.position[0], book.clock)
    out = book.apply(Void(key[0], key[1], at, session_id))
    reversal = [o for o in out if isinstance(o, LedgerEntry) and o.kind == "reversal"]
    assert len(reversal) == 1 and dict(reversal[0].draws) == took
    price = sum(took.values())
    assert book.debited == debited - price
    assert book.overdraft == overdraft - took.get("", 0)
    back_to_expired = sum(c for g, c in took.items() if g in expired_lots)
    assert book.expired == expired + back_to_expired
    assert book.balance == balance + price - back_to_expired
    for grant_id, cents in took.items():
        if grant_id and grant_id not in expired_lots:
            assert book.lots[grant_id].remaining == before[grant_id] + cents
    assert book.apply(Void(key[0], key[1], at, session_id)) == []  # a second void: nothing


@settings(max_examples=100)
@given(scenario())
def test_a_session_voided_at_once_is_as_if_never_charged(case: Scenario) -> None:
    events, sessions, as_of = case
    events = [e for e in events if e["type"] != "auto_reload_set"]  # a reload is a fact
    moves = movements(events, sessions)
    voids = [Void(m.account_id, m.bot_id, m.at, m.session_id) for m in moves
             if isinstance(m, Charge) and m.session_id.endswith(("0", "3", "7"))]
    kept = [m for m in moves if not (isinstance(m, Charge) and m.session_id.endswith(
        ("0", "3", "7")))]
    books, _ = run_books(moves + voids, as_of, CATALOG)
    books2, _ = run_books(kept, as_of, CATALOG)
    assert balance_rows(books, as_of) == balance_rows(books2, as_of)
    assert invoice_rows(invoices(books, CATALOG, as_of)) == \
        invoice_rows(invoices(books2, CATALOG, as_of))


@settings(max_examples=100)
@given(scenario(), st.integers(0, 60).map(lambda k: k * HALF_DAY))
def test_invoices_are_idempotent_and_final_ones_never_change(case: Scenario,
                                                              later: int) -> None:
    events, sessions, as_of = case
    books, _ = run_books(movements(events, sessions), as_of, CATALOG)
    first = invoice_rows(invoices(books, CATALOG, as_of))
    assert invoice_rows(invoices(books, CATALOG, as_of)) == first
    books_later, _ = run_books(movements(events, sessions), as_of + later, CATALOG)
    after = {row["invoice_id"]: row
             for row in invoice_rows(invoices(books_later, CATALOG, as_of + later))}
    for row in first:
        if row["status"] == "final":
            assert after[row["invoice_id"]] == row


@functools.cache
def worked_examples() -> tuple[list[dict[str, Any]], list[Session]]:
    """examples/money/events.jsonl as the oracle's input: well-formed account events (times
    in ms) and the sessions BatchBiller bills from the usage events."""
    records = [json.loads(line) for line in
               (EXAMPLES / "money" / "events.jsonl").read_text().splitlines()]
    usage = [r for r in records if r["type"] in ("conversation_turn", "agent_handoff",
                                                  "alert_delivered")]
    account = [dict(r) for r in records if r not in usage]
    for record in account:
        for field in ("occurred_at", "expires_at"):
            if isinstance(record.get(field), str):
                record[field] = parse_rfc3339_ms(record[field])
    account = [r for r in account if not (r["type"].startswith("extension")
                                          and not 1 <= r["days"] <= 90)]
    biller = BatchBiller(max_disorder_ms=400 * 86_400_000)
    billed = [b for e in usage for b in biller.add(event_from_mapping(e))] + biller.finish()
    sessions = []
    for b in billed:
        charge = session_charge(b)
        sessions.append((b.account_id, b.bot_id, "alert" if isinstance(b, AlertSession)
                         else "usage", charge.at, charge.session_id))
    return account, sessions


def test_the_oracle_agrees_with_the_worked_examples() -> None:
    """The oracle itself, checked on examples/money (so it is not just the engine twice)."""
    money = EXAMPLES / "money"
    account, sessions = worked_examples()
    catalog = json.loads(catalog_text())
    for path in sorted(money.glob("balances-*.jsonl")):
        day = path.stem.removeprefix("balances-")
        as_of = parse_rfc3339_ms(f"{day}T00:00:00.000Z")
        balances, found, _ = oracle(catalog, account, sessions, as_of)
        expected = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(balances, key=repr) == sorted(expected, key=repr)
        expected = [json.loads(line) for line in
                    (money / f"invoices-{day}.jsonl").read_text().splitlines()]
        assert sorted(found, key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("when", [
    "2026-01-15T10:15:00.000Z", "2026-02-01T00:00:00.000Z", "2026-03-31T23:59:59.999Z",
    "2026-04-01T00:00:00.000Z", "2026-04-05T10:30:00.000Z", "2026-04-07T00:00:00.000Z",
    "2026-04-10T00:00:00.000Z", "2026-05-01T00:00:00.000Z", "2026-05-02T00:00:00.000Z",
    "2026-06-02T10:15:00.000Z", "2026-06-02T14:00:00.000Z", "2026-06-03T02:30:00.000Z",
    "2026-07-02T00:00:00.000Z"])
def test_the_engine_equals_the_oracle_on_the_worked_examples_at_many_instants(
        when: str) -> None:
    """Accounts s1, s2, s4, s6, s7 (s3 and s5 are checked at the example days: their
    thousands of sessions make the oracle slow) at instants where something happens."""
    account, sessions = worked_examples()
    light = ("acct-s1", "acct-s2", "acct-s4", "acct-s6", "acct-s7")
    account = [e for e in account if e["account_id"] in light]
    sessions = [s for s in sessions if s[0] in light]
    catalog = DEFAULT_CATALOG
    as_of = parse_rfc3339_ms(when)
    balances, found, _ = oracle(json.loads(catalog_text()), account, sessions, as_of)
    moves = [account_event_from_mapping(e) for e in account]
    moves += [Charge(a, b, t, k, sid) for a, b, k, t, sid in sessions]  # type: ignore[arg-type]
    books, _ = run_books(moves, as_of, catalog)
    assert balance_rows(books, as_of) == balances
    assert invoice_rows(invoices(books, catalog, as_of)) == found


def catalog_text() -> str:
    return resources.files("botbill.billing_rules").joinpath("data/catalog.json").read_text()


@example(([], [], 0))
@given(scenario())
def test_rows_have_exactly_the_contract_fields(case: Scenario) -> None:
    events, sessions, as_of = case
    balances, found = engine_rows(events, sessions, as_of)
    for row in balances:
        assert list(row) == ["account_id", "bot_id", "as_of", "plan_id", "status",
                             "granted_cents", "debited_cents", "expired_cents",
                             "balance_cents"]
    for row in found:
        assert list(row) == ["invoice_id", "account_id", "period", "status", "lines",
                             "total_cents"]
        assert all(list(line) == ["bot_id", "kind", "quantity", "unit_price_cents",
                                  "amount_cents"] for line in row["lines"])
        assert row["total_cents"] == sum(line["amount_cents"] for line in row["lines"])


@settings(max_examples=150)
@given(scenario(), st.data())
def test_a_book_restored_from_its_dict_continues_like_the_original(case: Scenario,
                                                                    data: Any) -> None:
    """The balance agent's changelog: fold part, save (through JSON), restore, fold the rest;
    the outputs and rows equal those of the uninterrupted fold."""
    from botbill.billing_rules.money_state import book_from_dict, book_to_dict

    events, sessions, as_of = case
    moves = [m for m in movements(events, sessions)
             if (m.at if isinstance(m, Charge) else m.occurred_at) <= as_of]
    per_bot: dict[tuple[str, str], list[Any]] = {}
    for move in sorted(moves, key=movement_key):
        per_bot.setdefault((move.account_id, move.bot_id), []).append(move)
    whole, _ = run_books(moves, as_of, CATALOG)
    for key, bot_moves in per_bot.items():
        cut = data.draw(st.integers(0, len(bot_moves)))
        book = BotBook(key[0], key[1], CATALOG)
        outputs = [o for m in bot_moves[:cut] for o in book.apply(m)]
        saved = json.loads(json.dumps(book_to_dict(book)))
        restored = book_from_dict(saved, CATALOG)
        assert book_to_dict(restored) == saved
        outputs += [o for m in bot_moves[cut:] for o in restored.apply(m)]
        outputs += restored.advance(as_of)
        fresh = BotBook(key[0], key[1], CATALOG)
        expected = [o for m in bot_moves for o in fresh.apply(m)] + fresh.advance(as_of)
        assert outputs == expected
        assert balance_rows({key: restored}, as_of) == balance_rows({key: whole[key]}, as_of)
        assert invoice_rows(invoices({key: restored}, CATALOG, as_of)) == \
            invoice_rows(invoices({key: whole[key]}, CATALOG, as_of))
