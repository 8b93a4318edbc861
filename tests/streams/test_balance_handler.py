"""The balance agent's work without Faust (``streams.balance``): whatever the arrival order,
batching, redeliveries and voids, once every input is in, the last recompute's balance row
and entitlement are the engine's over the final inputs (what ``replay`` computes), and the
signed ``wallet_ledger`` rows written over all recomputes add up to the final balance."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from botbill.billing_rules.account_events import account_event_to_mapping
from botbill.billing_rules.invoices import balance_rows
from botbill.billing_rules.money import Charge, Entitlement, run_books
from botbill.schemas.codec import AvroCodec
from botbill.streams.balance import AccountInput, BalanceHandler, SessionInput
from tests.billing_rules.money_strategies import BOTS, CATALOG, movements, scenario


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[tuple[str, str], list[Any], list[Any], int]:
    """One bot's inputs in an arrival order, with redeliveries and voids, in batches."""
    events, sessions, as_of = draw(scenario())
    bot = draw(st.sampled_from(BOTS))
    moves = [m for m in movements(events, sessions) if (m.account_id, m.bot_id) == bot]
    items: list[Any] = []
    for m in moves:
        if isinstance(m, Charge):
            items.append(SessionInput(m.account_id, m.bot_id, m.at, m.session_id, m.kind,
                                      m.at, 1, False))
        else:
            items.append(AccountInput(m.account_id, m.bot_id, m.occurred_at, m.event_id,
                                      account_event_to_mapping(m)))
    order = draw(st.permutations(items))
    identities = sorted(i.identity for i in items if isinstance(i, SessionInput))
    voided = draw(st.sets(st.sampled_from(identities), max_size=3)) if identities else set()
    stream: list[Any] = []
    for item in order:
        stream.append(item)
        if draw(st.integers(0, 5)) == 0:
            stream.append(item)  # a redelivery
        if isinstance(item, SessionInput) and item.identity in voided:
            void = SessionInput(item.account_id, item.bot_id, item.at, item.identity,
                                item.kind, item.start, 2, True)
            stream.insert(draw(st.integers(0, len(stream))), void)  # even before it opened
    batches = draw(st.lists(st.integers(1, 4), min_size=len(stream), max_size=len(stream)))
    final = [m for m in moves if not (isinstance(m, Charge) and m.session_id in voided)]
    return bot, list(zip(stream, batches, strict=True)), final, as_of


@settings(max_examples=200)
@given(arrivals())
def test_the_last_recompute_is_replay_and_the_ledger_rows_add_up(case: Any) -> None:
    bot, stream, final, as_of = case
    handler = BalanceHandler(AvroCodec(), CATALOG, settle_ms=0)
    state = handler.new_state(*bot)
    latest = -(2**62)
    signed_sum = 0
    entitlement: Entitlement | None = None
    row = None
    pending = 0
    for offset, (item, size) in enumerate(stream):
        handler.absorb(state, item, offset)
        latest = max(latest, item.at)
        pending += 1
        if pending >= size or offset == len(stream) - 1:
            pending = 0
            done = handler.recompute(state, min(latest, as_of), 0)
            state = done.state
            signed_sum += sum(r.amount_cents for r in done.rows.ledger)
            entitlement = done.entitlement or entitlement
            row = done.rows.balances[-1] if done.rows.balances else row
    done = handler.recompute(state, as_of, 0)  # event time reaches as_of
    signed_sum += sum(r.amount_cents for r in done.rows.ledger)
    entitlement = done.entitlement or entitlement
    row = done.rows.balances[-1] if done.rows.balances else row
    books, outputs = run_books(final, as_of, CATALOG)
    expected = balance_rows(books, as_of)
    if expected:
        assert row is not None and row.to_row() == expected[0]
        assert signed_sum == expected[0]["balance_cents"]
    ents = [o for o in outputs if isinstance(o, Entitlement)]
    if ents:
        assert entitlement == ents[-1]


def test_overdraft_repaid_then_a_void_adds_up_in_any_order() -> None:
    """A wallet in overdraft repaid by a late credit, one of its sessions voided: the rows
    written in each order add up to the same balance (sign-up 100, 6 x 20, credit 50)."""
    bot = BOTS[0]
    day = 86_400_000
    t0 = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z: event times are bounded (2000..2200)
    reg = AccountInput(*bot, t0, "reg", {"type": "bot_registered", "event_id": "reg",
                                         "account_id": bot[0], "bot_id": bot[1],
                                         "occurred_at": t0, "plan_id": "standard",
                                         "owner_user_id": "o"})
    credit = AccountInput(*bot, t0 + 3 * day, "cr", {
        "type": "credits_granted", "event_id": "cr", "account_id": bot[0], "bot_id": bot[1],
        "occurred_at": t0 + 3 * day, "grant_id": "c1", "amount_cents": 50, "expires_at": None})
    sessions = [SessionInput(*bot, t0 + day + n, f"usage/s{n}", "usage", t0 + day + n, 1,
                             False)
                for n in range(6)]
    void = SessionInput(*bot, t0 + 4 * day, "usage/s2", "usage", t0 + day + 2, 2, True)
    for order in ([reg, *sessions, credit, void], [credit, void, *sessions, reg],
                  [reg, credit, *sessions, void]):
        handler = BalanceHandler(AvroCodec(), CATALOG, settle_ms=0)
        state = handler.new_state(*bot)
        total = 0
        kinds: set[str] = set()
        for offset, item in enumerate(order):
            handler.absorb(state, item, offset)
            done = handler.recompute(state, t0 + 5 * day, 0)
            state = done.state
            total += sum(r.amount_cents for r in done.rows.ledger)
            kinds |= {r.kind for r in done.rows.ledger}
        row = done.rows.balances[-1]
        assert (row.granted_cents, row.debited_cents, row.balance_cents) == (150, 100, 50)
        assert total == 50, order
    assert "repayment" in kinds or order[0] is reg
