"""The stream's state machine (``billing_rules.incremental``), against batch and the oracle."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from hypothesis import example, given
from hypothesis import strategies as st

from botbill.billing_rules.events import ConversationEvent, ConversationTurn, Event
from botbill.billing_rules.incremental import (
    NO_WATERMARK,
    ConversationState,
    Step,
    advance,
    apply_event,
    state_from_dict,
    state_to_dict,
)
from botbill.billing_rules.sessions import UsageSession
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.billing_rules.visits import bill_conversation
from tests.billing_rules.oracle import oracle_rows
from tests.billing_rules.strategies import (
    ConversationCase,
    conversation_cases,
    delivered_with_disorder,
)
from tests.billing_rules.support import ReplacingTable, by_conversation, examples, row_set, rows_of

MIN = 60_000
GRACE = 5 * MIN
T15 = 15 * MIN
T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")
KEY = ("acct-1", "bot-a", "c1")
PROPERTY = examples(120)


def turn(event_id: str, minute: float, speaker: str = "USER") -> ConversationTurn:
    return ConversationTurn(event_id, *KEY[:2], T0 + round(minute * MIN), KEY[2], "u-1",
                            "web", speaker)  # type: ignore[arg-type]


def round_trip(state: ConversationState) -> ConversationState:
    """Through the changelog form and JSON text, as the Faust table stores it."""
    restored = state_from_dict(json.loads(json.dumps(state_to_dict(state))))
    assert restored == state
    return restored


def run(
    events: Iterable[Event], timeout_ms: int, *, grace_ms: int = GRACE,
    watermarks: bool = False, persist: bool = False,
) -> tuple[ReplacingTable, list[Step]]:
    """Feed events one at a time; the watermark (when used) is the max time delivered."""
    table = ReplacingTable()
    steps: list[Step] = []
    state: ConversationState | None = None
    watermark: int | None = None
    for event in events:
        assert isinstance(event, ConversationEvent)
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        kwargs = {"watermark": watermark} if watermarks else {}
        step = apply_event(state, event, timeout_ms=timeout_ms, grace_ms=grace_ms, **kwargs)
        table.insert(step.changes)
        steps.append(step)
        state = round_trip(step.state) if persist else step.state
    return table, steps


def batch(case: ConversationCase, events: Sequence[Event]) -> list[UsageSession]:
    return bill_conversation(case.key, by_conversation(events).get(case.key, []),
                             case.timeout_ms)


# -- (a) any order, redeliveries, nothing late -> the batch result -----------------------------

@PROPERTY
@given(conversation_cases())
def test_any_order_ends_in_the_batch_result(case: ConversationCase) -> None:
    table, steps = run(case.events, case.timeout_ms)
    assert {s.outcome for s in steps} <= {"applied", "duplicate", "test"}
    assert row_set(rows_of(table.billed())) == row_set(rows_of(batch(case, case.events)))
    oracle = oracle_rows(case.events, {case.key[1]: case.timeout_ms})
    assert row_set(rows_of(table.billed())) == row_set(oracle)


@examples(60)
@given(conversation_cases())
def test_state_survives_json_round_trips_between_steps(case: ConversationCase) -> None:
    table, _ = run(case.events, case.timeout_ms, persist=True)
    assert row_set(rows_of(table.billed())) == row_set(rows_of(batch(case, case.events)))


@st.composite
def disordered_cases(draw: st.DrawFn) -> tuple[ConversationCase, int, list[Event]]:
    case = draw(conversation_cases(shuffle=False))
    grace = draw(st.sampled_from((1000, 60_000, GRACE, 3_600_000)))
    return case, grace, draw(delivered_with_disorder(case.events, grace))


@PROPERTY
@given(disordered_cases(), st.booleans())
def test_advancing_watermark_with_disorder_below_grace_is_never_late(
    drawn: tuple[ConversationCase, int, list[Event]], persist: bool
) -> None:
    case, grace, events = drawn
    table, steps = run(events, case.timeout_ms, grace_ms=grace, watermarks=True,
                       persist=persist)
    assert [s.reason for s in steps if s.outcome == "late"] == []
    assert row_set(rows_of(table.billed())) == row_set(rows_of(batch(case, events)))
    assert row_set(rows_of(table.billed())) == row_set(
        oracle_rows(events, {case.key[1]: case.timeout_ms}))


@PROPERTY
@given(conversation_cases(), st.sampled_from((1000, 60_000, GRACE)), st.data())
def test_any_disorder_bills_exactly_the_applied_events(
    case: ConversationCase, grace: int, data: st.DataObject
) -> None:
    """With the watermark running ahead and states advanced (and forgotten) at random, an
    event is either refused as late or billed: the table equals batch over the applied ones."""
    table = ReplacingTable()
    state: ConversationState | None = None
    applied: list[Event] = []
    watermark: int | None = None
    for event in case.events:
        assert isinstance(event, ConversationEvent)
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        step = apply_event(state, event, watermark=watermark, timeout_ms=case.timeout_ms,
                           grace_ms=grace)
        table.insert(step.changes)
        if step.outcome == "applied":
            applied.append(event)
        if step.outcome == "late":
            assert step.reason and step.changes == ()
        state = step.state
        if data.draw(st.booleans()):  # a periodic sweep; event time may run ahead
            watermark += data.draw(st.integers(0, 2 * grace))
            state = advance(state, watermark=watermark, timeout_ms=case.timeout_ms,
                            grace_ms=grace)
    assert row_set(rows_of(table.billed())) == row_set(rows_of(batch(case, applied)))


# -- revisions, duplicates ---------------------------------------------------------------------

@PROPERTY
@given(disordered_cases())
def test_revisions_only_grow_and_duplicates_change_nothing(
    drawn: tuple[ConversationCase, int, list[Event]],
) -> None:
    """Applied events raise the revision by one; a redelivery re-sends the open visits'
    sessions at the current revision (crash recovery) and changes no billed row."""
    case, grace, events = drawn
    table = ReplacingTable()
    state: ConversationState | None = None
    last = 0
    watermark = min(e.occurred_at for e in events)
    for event in events:
        assert isinstance(event, ConversationEvent)
        watermark = max(watermark, event.occurred_at)
        step = apply_event(state, event, watermark=watermark, timeout_ms=case.timeout_ms,
                           grace_ms=grace)
        before = row_set(rows_of(table.billed()))
        table.insert(step.changes)
        if step.outcome == "applied":
            assert step.state.revision == last + 1
            assert {change.revision for change in step.changes} <= {step.state.revision}
            last = step.state.revision
        else:
            assert step.outcome in ("duplicate", "test")
            assert step.state == (state or ConversationState(key=case.key))
            assert {change.revision for change in step.changes} <= {last}
            assert row_set(rows_of(table.billed())) == before
        state = step.state


def test_redelivery_is_a_duplicate_even_with_other_content() -> None:
    step = apply_event(None, turn("x1", 0), timeout_ms=T15, grace_ms=GRACE)
    again = apply_event(step.state, turn("x1", 0), timeout_ms=T15, grace_ms=GRACE)
    changed = apply_event(step.state, turn("x1", 9, "BOT"), timeout_ms=T15, grace_ms=GRACE)
    for other in (again, changed):
        assert (other.outcome, other.state) == ("duplicate", step.state)
        assert other.changes == step.changes  # the snapshot: what was emitted, re-sent


def test_test_traffic_is_not_applied() -> None:
    event = ConversationTurn("t1", *KEY[:2], T0, KEY[2], "u-1", "web", "USER", is_test=True)
    step = apply_event(None, event, timeout_ms=T15, grace_ms=GRACE)
    assert (step.outcome, step.changes, step.state.revision) == ("test", (), 0)


# -- corrections -------------------------------------------------------------------------------

def test_late_turn_merging_two_visits_voids_the_second_visits_sessions() -> None:
    table, _ = run([turn("a", 0), turn("b", 10), turn("c", 40), turn("d", 45)], T15)
    assert sorted((s.conversation_session_start - T0) / MIN for s in table.billed()) == [0, 40]
    _, steps = run([turn("a", 0), turn("b", 10), turn("c", 40), turn("d", 45), turn("m", 25)],
                   T15)
    merge = steps[-1]
    voided = [c.session for c in merge.changes if c.voided]
    assert [(s.conversation_session_start - T0) / MIN for s in voided] == [40]
    table.insert(merge.changes)
    starts = sorted((s.billing_session_start - T0) / MIN for s in table.billed())
    assert starts == [0, 15, 30]  # one visit 0..45 min: 45 min of bot time


def test_late_handoff_moves_a_session_boundary() -> None:
    from botbill.billing_rules.events import AgentHandoff

    events: list[Event] = [turn("a", 0), turn("b", 10), turn("c", 20), turn("d", 30)]
    table, _ = run(events, T15)
    assert sorted((s.billing_session_start - T0) / MIN for s in table.billed()) == [0, 15]
    late = [AgentHandoff(f"h{i}", *KEY[:2], T0 + m * MIN, KEY[2], "u-1", "web", "h1", p)
            for i, (m, p) in enumerate(((12, "STARTED"), (22, "ENDED")))]
    table, _ = run([*events, *late], T15)  # type: ignore[list-item]
    # bot time 0..12 and 22..30 (20 min): the boundary moves from 15 to 25
    assert sorted((s.billing_session_start - T0) / MIN for s in table.billed()) == [0, 25]


# -- closing and lateness ------------------------------------------------------------------------

def _closed_case() -> tuple[ConversationState, ReplacingTable]:
    table, steps = run([turn("a", 0), turn("b", 10, "BOT"), turn("c", 20)], T15)
    return steps[-1].state, table


def test_event_for_a_closed_visit_is_late_and_changes_nothing() -> None:
    state, table = _closed_case()
    before = table.billed()
    watermark = T0 + (20 + 15 + 5) * MIN + 1  # end + T + grace, passed
    for minute in (-60, 0, 5, 20, 35):  # before, inside, and within T after the visit
        step = apply_event(state, turn(f"late{minute}", minute), watermark=watermark,
                           timeout_ms=T15, grace_ms=GRACE)
        assert step.outcome == "late"
        assert step.reason
        assert step.changes == ()
        assert step.state.revision == state.revision
        closed = advance(state, watermark=watermark, timeout_ms=T15, grace_ms=GRACE)
        assert step.state == closed
        table.insert(step.changes)
        assert table.billed() == before


def test_visit_is_open_until_the_watermark_passes_end_t_grace() -> None:
    state, _ = _closed_case()
    watermark = T0 + (20 + 15 + 5) * MIN  # exactly end + T + grace: not passed yet
    step = apply_event(state, turn("x", 35), watermark=watermark, timeout_ms=T15, grace_ms=GRACE)
    assert step.outcome == "applied"
    assert [c.session.conversation_session_end for c in step.changes] != []


def test_event_after_the_closed_visit_but_beyond_t_opens_a_new_visit() -> None:
    state, _ = _closed_case()
    watermark = T0 + 41 * MIN
    step = apply_event(state, turn("x", 35 + 1 / MIN), watermark=watermark, timeout_ms=T15,
                       grace_ms=GRACE)
    assert step.outcome == "applied"
    assert [c.voided for c in step.changes] == [False]


def test_event_whose_own_visit_is_already_past_closing_is_late() -> None:
    step = apply_event(None, turn("old", 0), watermark=T0 + 20 * MIN + 1, timeout_ms=T15,
                       grace_ms=GRACE)
    assert (step.outcome, step.changes) == ("late", ())
    assert "passed the closing time of any visit it could belong to" in step.reason


@st.composite
def displaced_cases(draw: st.DrawFn) -> tuple[ConversationCase, int, list[Event]]:
    """One conversation displaced up to 4x beyond the grace, or in any order at all."""
    case = draw(conversation_cases(shuffle=False))
    grace = draw(st.sampled_from((1000, 60_000, GRACE)))
    if draw(st.booleans()):
        return case, grace, draw(delivered_with_disorder(case.events, 4 * grace + 1))
    return case, grace, draw(st.permutations(case.events))


def run_forgetting(events: Iterable[Event], timeout_ms: int, grace_ms: int
                   ) -> tuple[ReplacingTable, list[Event]]:
    """As the worker runs it: event time is the latest ``occurred_at``, a state is swept
    (``advance``) before each event and dropped when it may be forgotten. Returns the
    table and the events not refused as late."""
    table = ReplacingTable()
    kept: list[Event] = []
    state: ConversationState | None = None
    watermark = NO_WATERMARK
    for event in events:
        assert isinstance(event, ConversationEvent)
        watermark = max(watermark, event.occurred_at)
        if state is not None:
            state = advance(state, watermark=watermark, timeout_ms=timeout_ms,
                            grace_ms=grace_ms)
        step = apply_event(state, event, watermark=watermark, timeout_ms=timeout_ms,
                           grace_ms=grace_ms)
        table.insert(step.changes)
        if step.outcome != "late":
            kept.append(event)
            state = step.state
    return table, kept


# A visit closed and forgotten, a new visit opened, then a straggler that would bridge the
# two: before lateness looked at the event's own time, the stream billed it into the new one.
FORGOTTEN = [turn("a", 0), turn("b", 32), turn("c", 20), turn("straggler", 10)]


@PROPERTY
@example(drawn=(ConversationCase(KEY, T15, tuple(FORGOTTEN)), 1000, FORGOTTEN))
@given(displaced_cases())
def test_any_disorder_bills_the_rules_over_exactly_the_events_not_refused(
    drawn: tuple[ConversationCase, int, list[Event]]
) -> None:
    case, grace, events = drawn
    table, kept = run_forgetting(events, case.timeout_ms, grace)
    oracle = oracle_rows(kept, {case.key[1]: case.timeout_ms})
    assert row_set(rows_of(table.billed())) == row_set(oracle)


@PROPERTY
@given(conversation_cases(shuffle=False), st.data())
def test_late_event_is_refused_and_the_sessions_stay(
    case: ConversationCase, data: st.DataObject
) -> None:
    table, steps = run(case.events, case.timeout_ms)
    state = steps[-1].state
    if not state.events:
        return  # all test traffic
    end = state.events[-1].occurred_at
    start = state.events[0].occurred_at
    watermark = end + case.timeout_ms + GRACE + data.draw(st.integers(1, case.timeout_ms))
    at = data.draw(st.integers(start - 3 * case.timeout_ms, end + case.timeout_ms))
    event = ConversationTurn("late-one", *case.key[:2], at, case.key[2], "u-1", "web", "USER")
    before = table.billed()
    step = apply_event(state, event, watermark=watermark, timeout_ms=case.timeout_ms,
                       grace_ms=GRACE)
    assert (step.outcome, step.changes) == ("late", ())
    assert step.reason
    assert step.state.revision == state.revision
    assert step.state == advance(state, watermark=watermark, timeout_ms=case.timeout_ms,
                                 grace_ms=GRACE)
    assert table.billed() == before


def test_advance_forgets_a_closed_state_only_after_two_t_and_grace() -> None:
    state, _ = _closed_case()
    end = T0 + 20 * MIN
    kept = advance(state, watermark=end + 2 * T15 + GRACE, timeout_ms=T15, grace_ms=GRACE)
    assert kept is not None and kept.events == () and kept.closed_end == end
    assert advance(kept, watermark=end + 2 * T15 + GRACE + 1, timeout_ms=T15,
                   grace_ms=GRACE) is None
    # once forgotten, an event that would have joined the visit is still refused
    step = apply_event(None, turn("z", 34), watermark=end + 2 * T15 + GRACE + 1,
                       timeout_ms=T15, grace_ms=GRACE)
    assert step.outcome == "late"


def test_advance_keeps_open_visits() -> None:
    state, _ = _closed_case()
    assert advance(state, watermark=T0 + 40 * MIN, timeout_ms=T15, grace_ms=GRACE) == state
