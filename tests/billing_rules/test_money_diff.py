"""``money_diff``: the balance agent writes only what a recompute changed. Whatever sequence of
recomputes it writes (inputs arriving in any order, sessions voided, redeliveries, event time
moving on), applying every diff leaves the final recompute's ledger, every notification is
sent exactly once, the last entitlement sent is the final one, and the signed sum of all
postings is the final balance."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from botbill.billing_rules.money import Entitlement, LedgerEntry, Notification, run_books
from botbill.billing_rules.money_diff import (
    MoneyDiff,
    Reversal,
    Written,
    apply_ledger,
    engine_entry_id,
    money_diff,
    written_from_dict,
    written_to_dict,
)
from tests.billing_rules.money_strategies import BOTS, CATALOG, HALF_DAY, movements, scenario

_SIGN = {"grant": 1, "debit": -1, "expiry": -1, "reversal": 1, "repayment": 0}


def signed(entry: LedgerEntry) -> int:
    """How an entry moves the balance (MONEY_RULES M4), from the entry's kind alone."""
    return _SIGN[entry.kind] * entry.amount_cents


def recompute(moves: list[Any], as_of: int, bot: tuple[str, str]) -> tuple[list[Any], Any]:
    books, outputs = run_books(moves, as_of, CATALOG)
    mine = [o for o in outputs if getattr(o, "bot_id", None) == bot[1]
            and getattr(o, "account_id", None) == bot[0]]
    return mine, books.get(bot)


@st.composite
def recompute_sequence(draw: st.DrawFn) -> tuple[tuple[str, str], list[tuple[list[Any], int]]]:
    """One bot's inputs as the agent sees them over time: an arrival order, redeliveries,
    some sessions voided later (gone from the inputs), and a growing event time."""
    events, sessions, as_of = draw(scenario())
    bot = draw(st.sampled_from(BOTS))
    moves = [m for m in movements(events, sessions)
             if (m.account_id, m.bot_id) == bot]
    order = draw(st.permutations(moves))
    steps: list[tuple[list[Any], int]] = []
    present: list[Any] = []
    clock = 0
    for index, move in enumerate(order):
        present.append(move)
        if draw(st.integers(0, 4)) == 0 and present:  # a redelivery
            present.append(present[draw(st.integers(0, len(present) - 1))])
        charges = [m for m in present if hasattr(m, "session_id")]
        if charges and draw(st.integers(0, 5)) == 0:  # a void: the session leaves the inputs
            gone = charges[draw(st.integers(0, len(charges) - 1))]
            present = [m for m in present if m != gone]
        at = getattr(move, "at", None) or move.occurred_at
        clock = max(clock, at + draw(st.sampled_from((0, 0, HALF_DAY, 20 * HALF_DAY))))
        if index == len(order) - 1 or draw(st.booleans()):  # batches: not every arrival
            steps.append((list(present), clock))
    if not steps:
        steps.append(([], as_of))
    return bot, steps


@settings(max_examples=300)
@given(recompute_sequence(), st.data())
def test_applying_every_diff_gives_the_final_recompute(
        case: tuple[tuple[str, str], list[tuple[list[Any], int]]], data: Any) -> None:
    bot, steps = case
    written = Written()
    view: dict[str, LedgerEntry] = {}
    sent_notes: list[str] = []
    entitlements: list[Entitlement] = []
    net = 0
    all_notes: set[str] = set()
    for moves, as_of in steps:
        outputs, _ = recompute(moves, as_of, bot)
        all_notes |= {o.notification_id for o in outputs if isinstance(o, Notification)}
        diff, written = money_diff(written, outputs, as_of)
        if data.draw(st.booleans()):  # the agent's table form, through JSON
            text = json.dumps(written_to_dict(written))
            written = written_from_dict(json.loads(text), *bot)
        view = apply_ledger(view, diff)
        sent_notes += [n.notification_id for n in diff.notifications]
        if diff.entitlement is not None:
            entitlements.append(diff.entitlement)
        for change in diff.ledger:
            net += -signed(change.reverses) if isinstance(change, Reversal) else signed(change)
    final_outputs, book = recompute(*steps[-1], bot)
    final = {e.entry_id: e for e in final_outputs if isinstance(e, LedgerEntry)}
    assert {engine_entry_id(k): LedgerEntry(engine_entry_id(k), *_fields(e)[1:])
            for k, e in view.items()} == final
    assert net == (book.balance if book is not None else 0)
    assert len(sent_notes) == len(set(sent_notes)), "a notification was sent twice"
    assert set(sent_notes) == all_notes
    last = [o for o in final_outputs if isinstance(o, Entitlement)]
    if last:
        assert entitlements and entitlements[-1] == last[-1]
    # writing the final recompute again changes nothing
    again, _ = money_diff(written, final_outputs, steps[-1][1])
    assert not again


def _fields(entry: LedgerEntry) -> tuple[Any, ...]:
    return (entry.entry_id, entry.account_id, entry.bot_id, entry.at, entry.kind,
            entry.amount_cents, entry.grant_id, entry.session_id, entry.draws)


def _entry(entry_id: str, kind: str, amount: int, draws: tuple[tuple[str, int], ...] = (),
           ) -> LedgerEntry:
    return LedgerEntry(entry_id, "a", "b", 10, kind, amount, "g" if kind == "grant" else "",
                       "s" if kind == "debit" else "", draws)


def test_a_changed_entry_is_reversed_and_posted_again_under_a_derived_id() -> None:
    grant = _entry("a:b:grant:g", "grant", 100)
    debit = _entry("a:b:debit:s:1", "debit", 20, (("g", 20),))
    diff, written = money_diff(Written(), [grant, debit], 10)
    assert diff.ledger == (grant, debit)
    moved = _entry("a:b:debit:s:1", "debit", 20, (("", 20),))  # now drawn from overdraft
    diff, written = money_diff(written, [grant, moved], 11)
    reversal, repost = diff.ledger
    assert isinstance(reversal, Reversal) and reversal.reverses == debit
    assert reversal.entry_id == "a:b:debit:s:1:reversed" and reversal.at == 11
    assert repost == LedgerEntry("a:b:debit:s:1~2", *_fields(moved)[1:])
    diff, written = money_diff(written, [grant], 12)  # voided: the repost is reversed
    assert [type(c) for c in diff.ledger] == [Reversal]
    assert diff.ledger[0].entry_id == "a:b:debit:s:1~2:reversed"  # type: ignore[union-attr]
    diff, _ = money_diff(written_from_dict(written_to_dict(written), "a", "b"),
                         [grant, debit], 13)  # back again: a third posting, a new id
    assert [c.entry_id for c in diff.ledger] == ["a:b:debit:s:1~3"]


def test_notifications_are_sent_once_and_never_retracted() -> None:
    note = Notification("a:b:notification:suspended:5", "a", "b", 5, "suspended")
    diff, written = money_diff(Written(), [note], 5)
    assert diff.notifications == (note,)
    diff, written = money_diff(written, [], 6)
    assert diff == MoneyDiff() and note.notification_id in written.notifications


def test_the_entitlement_is_sent_when_it_changes() -> None:
    stop = Entitlement("a", "b", False, "suspended", 7)
    go = Entitlement("a", "b", True, "active", 3)
    diff, written = money_diff(Written(), [go, stop], 7)
    assert diff.entitlement == stop
    diff, written = money_diff(written, [go, stop], 8)
    assert diff.entitlement is None
    diff, _ = money_diff(written, [go], 9)
    assert diff.entitlement == go
