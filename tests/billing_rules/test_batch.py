"""The bounded-memory biller behind ``replay`` (``billing_rules.batch``), against the oracle."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from botbill.billing_rules.admission import late_reason
from botbill.billing_rules.batch import BatchBiller, Billed
from botbill.billing_rules.events import AlertDelivered, ConversationTurn, Event
from botbill.billing_rules.exceptions import LateEvent
from botbill.billing_rules.settings import TimeoutPolicy
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from tests.billing_rules.oracle import oracle_rows
from tests.billing_rules.strategies import Scenario, delivered_with_disorder, scenarios
from tests.billing_rules.support import example_events, examples, expected_rows, row_set, rows_of

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")
PROPERTY = examples(150)


def bill(events: Iterable[Event], biller: BatchBiller) -> list[Billed]:
    billed: list[Billed] = []
    for event in events:
        billed += biller.add(event)
    return billed + biller.finish()


def biller_for(scenario: Scenario, max_disorder_ms: int | None = None) -> BatchBiller:
    policy = TimeoutPolicy(scenario.default_timeout_ms, dict(scenario.per_bot))
    if max_disorder_ms is None:
        return BatchBiller(policy)
    return BatchBiller(policy, max_disorder_ms)


def expected(scenario: Scenario, events: Iterable[Event] | None = None) -> object:
    events = scenario.events if events is None else events
    return row_set(oracle_rows(events, scenario.per_bot, scenario.default_timeout_ms))


def turn(event_id: str, minute: float, conversation: str = "c1", speaker: str = "USER",
         bot: str = "bot-a") -> ConversationTurn:
    return ConversationTurn(event_id, "acct-1", bot, T0 + round(minute * MIN), conversation,
                            "u-1", "web", speaker)  # type: ignore[arg-type]


def alert(event_id: str, minute: float, bot: str = "bot-a") -> AlertDelivered:
    return AlertDelivered(event_id, "acct-1", bot, T0 + round(minute * MIN), "report", "u-9",
                          "email")


# -- examples and the oracle ---------------------------------------------------------------

def test_examples_match_expected() -> None:
    billed = bill(example_events(), BatchBiller())
    assert row_set(rows_of(billed)) == row_set(expected_rows())


def test_examples_in_reverse_order_match_expected() -> None:
    billed = bill(reversed(example_events()), BatchBiller())
    assert row_set(rows_of(billed)) == row_set(expected_rows())


@PROPERTY
@given(scenarios())
def test_any_order_within_the_default_disorder_equals_oracle(scenario: Scenario) -> None:
    """The default window takes any order: the rows equal the oracle."""
    assert row_set(rows_of(bill(scenario.events, biller_for(scenario)))) == expected(scenario)


@st.composite
def bounded(draw: st.DrawFn) -> tuple[Scenario, int, list[Event]]:
    scenario = draw(scenarios(shuffle=False))
    max_disorder = draw(st.sampled_from((1, 1000, MIN, 10 * MIN, HOUR, 6 * HOUR)))
    return scenario, max_disorder, draw(delivered_with_disorder(scenario.events, max_disorder))


@PROPERTY
@given(bounded())
def test_disorder_below_max_disorder_is_exact(drawn: tuple[Scenario, int, list[Event]]) -> None:
    scenario, max_disorder, events = drawn
    billed = bill(events, biller_for(scenario, max_disorder))
    assert row_set(rows_of(billed)) == expected(scenario, events)


def bill_or_refuse(events: Iterable[Event], biller: BatchBiller
                   ) -> tuple[list[Billed], list[Event], list[LateEvent]]:
    """Feed every event as ``replay --skip-invalid`` does: a refused one is set aside and
    the rest go on. Returns the rows, the events not refused (in input order), the refusals."""
    billed: list[Billed] = []
    kept: list[Event] = []
    refused: list[LateEvent] = []
    for event in events:
        try:
            billed += biller.add(event)
        except LateEvent as error:
            refused.append(error)
            continue
        kept.append(event)
    return billed + biller.finish(), kept, refused


@st.composite
def displaced(draw: st.DrawFn) -> tuple[Scenario, int, list[Event]]:
    """Events displaced up to 4x beyond ``max_disorder``, or in any order at all; alerts
    redelivered with another time too."""
    scenario = draw(scenarios(shuffle=False, restamp_alerts=True))
    max_disorder = draw(st.sampled_from((1, 1000, MIN, 10 * MIN, HOUR)))
    if draw(st.booleans()):
        events = draw(delivered_with_disorder(scenario.events, 4 * max_disorder + 1))
    else:
        events = draw(st.permutations(scenario.events))
    return scenario, max_disorder, events


# A visit billed and forgotten, its conversation reopened, then a straggler that joins the
# first visit: it must be refused, not billed into the reopened one (the old mis-billing).
REOPENED = [turn("a", 0), turn("b", 32, "c2"), turn("c", 20), turn("straggler", 10)]


@PROPERTY
@example(drawn=(Scenario(tuple(REOPENED)), MIN, REOPENED))
@given(displaced())
def test_any_disorder_bills_the_rules_over_exactly_the_events_not_refused(
    drawn: tuple[Scenario, int, list[Event]]
) -> None:
    """Whatever the order: each event is billed by the rules or refused as late, never
    billed into the wrong visit or twice (the oracle over the events kept)."""
    scenario, max_disorder, events = drawn
    billed, kept, refused = bill_or_refuse(events, biller_for(scenario, max_disorder))
    assert len(kept) + len(refused) == len(events)
    assert all(error.reason and error.event_id for error in refused)
    assert row_set(rows_of(billed)) == expected(scenario, kept)


def test_a_straggler_for_a_forgotten_visit_of_a_reopened_conversation_is_refused() -> None:
    """The case that once mis-billed: c1's first visit is billed and its tombstone
    forgotten; c1 reopens; a straggler within T of the first visit arrives."""
    billed, kept, refused = bill_or_refuse(REOPENED, BatchBiller(max_disorder_ms=MIN))
    assert [error.event_id for error in refused] == ["straggler"]
    assert row_set(rows_of(billed)) == row_set(oracle_rows(kept))


def test_straggler_for_a_billed_conversation_raises_late_event() -> None:
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    for event in (turn("a", 0), turn("b", 10), turn("other", 40, "c2")):
        biller.add(event)
    with pytest.raises(LateEvent) as caught:
        biller.add(turn("straggler", 5))
    assert caught.value.event_id == "straggler"
    # the stream's rule and words, with max_disorder as the grace
    assert caught.value.reason == late_reason(T0 + 5 * MIN, watermark=T0 + 40 * MIN,
                                              timeout_ms=15 * MIN, grace_ms=10 * MIN,
                                              closed_end=T0 + 10 * MIN)
    assert "already closed" in caught.value.reason


def test_straggler_starting_a_conversation_too_far_back_raises_late_event() -> None:
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    biller.add(turn("a", 100))
    with pytest.raises(LateEvent):
        biller.add(turn("old", 100 - 15 - 10 - 1, "c9"))


def test_straggler_alert_raises_late_event() -> None:
    """An alert is late on a conversation event's horizon, T + max_disorder."""
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    biller.add(turn("a", 100))
    assert len(biller.add(alert("in-time", 100 - 15 - 10))) == 1
    with pytest.raises(LateEvent):
        biller.add(alert("old", 100 - 15 - 10 - 1 / MIN))


def test_sessions_come_out_once_event_time_has_passed_their_conversation() -> None:
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    assert biller.add(turn("a", 0)) == []
    assert biller.add(turn("b", 25, "c2")) == []  # 0 + T + max_disorder = 25: not passed
    (session,) = biller.add(turn("c", 25 + 1 / MIN, "c2"))
    assert session.conversation_id == "c1"  # type: ignore[union-attr]
    assert biller.open_conversations == 1


def test_counters() -> None:
    biller = BatchBiller()
    bill(example_events(), biller)
    counters = biller.counters
    assert (counters.events, counters.test_events, counters.duplicates) == (57, 2, 3)
    assert (counters.usage_sessions, counters.alert_sessions) == (17, 3)


def test_open_conversations_stay_bounded_on_a_long_time_ordered_stream() -> None:
    """Thousands of conversations over 20 days, max_disorder 1 h: only the recent ones stay."""
    biller = BatchBiller(max_disorder_ms=HOUR)
    most = 0
    billed = 0
    for number in range(3000):
        start = number * 10  # a conversation every 10 min
        for offset, speaker in ((0, "USER"), (2, "BOT"), (6, "USER")):
            billed += len(biller.add(turn(f"e{number}-{offset}", start + offset,
                                          f"c{number}", speaker)))
        if number % 50 == 0:
            billed += len(biller.add(alert(f"al{number}", start)))
        most = max(most, biller.open_conversations)
    billed += len(biller.finish())
    assert billed == 3000 + 60
    assert most <= 10  # (T + max_disorder + visit) / 10 min, and one more


def test_per_bot_timeouts_are_applied() -> None:
    policy = TimeoutPolicy(15 * MIN, {"bot-slow": 60 * MIN})
    events = [turn("a", 0, bot="bot-slow"), turn("b", 40, bot="bot-slow"),
              turn("c", 0, bot="bot-a"), turn("d", 40, bot="bot-a")]
    billed = bill(events, BatchBiller(policy))
    slow = [s for s in billed if s.bot_id == "bot-slow"]
    fast = [s for s in billed if s.bot_id == "bot-a"]
    assert [s.session_index for s in slow] == [1, 2, 3]  # one 40-min visit
    assert [s.session_index for s in fast] == [1, 1]  # two visits


# -- R1 is per event id: cases that were once billed twice ---------------------------------

def test_alert_redelivered_with_a_later_time_counts_once() -> None:
    """An alert id is remembered for ``2 (T + max_disorder)`` of event time: a redelivery stamped
    later than the original and arriving within max_disorder counts once (R1: a redelivery
    with different content is still a duplicate)."""
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    events = [alert("a1", 0), alert("a2", 10.5), alert("a1", 1)]  # disorder of the copy: 9.5
    billed = bill(events, biller)
    assert sorted(s.event_id for s in billed) == ["a1", "a2"]  # type: ignore[union-attr]


def test_conversation_event_redelivered_much_later_counts_once() -> None:
    """In a time-ordered input, a redelivery re-stamped more than ``T`` after its original
    arrives once the original's conversation was billed and closed: its id is still
    remembered, so it counts once instead of opening a new visit."""
    biller = BatchBiller(max_disorder_ms=10 * MIN)
    events = [turn("x1", 0), turn("y1", 30, "other"), turn("x1", 31)]
    billed = bill(events, biller)
    assert sorted(s.conversation_id for s in billed) == ["c1", "other"]  # type: ignore[union-attr]


def test_event_id_reused_by_another_conversation_counts_once() -> None:
    """R1 is per ``event_id`` over all events: a redelivery under another conversation (or
    another bot, for an alert) counts once."""
    events = [turn("x1", 0, "c1"), turn("x1", 0, "c2"), alert("a1", 0, "bot-a"),
              alert("a1", 0, "bot-b")]
    billed = bill(events, BatchBiller())
    assert row_set(rows_of(billed)) == row_set(oracle_rows(events))
