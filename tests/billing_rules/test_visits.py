"""R1-R7 in batch form (``billing_rules.visits``), against the worked examples and the oracle."""

from __future__ import annotations

import itertools
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from botbill.billing_rules.events import AgentHandoff, ConversationEvent, ConversationTurn
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.billing_rules.visits import (
    Visit,
    agent_intervals,
    bill_conversation,
    session_starts,
    split_visits,
    unique_billable,
)
from tests.billing_rules.oracle import (
    SESSION_MS,
    OracleVisit,
    oracle_alert_rows,
    oracle_rows,
    oracle_visits,
)
from tests.billing_rules.strategies import Scenario, scenarios
from tests.billing_rules.support import (
    by_conversation,
    example_events,
    examples,
    expected_rows,
    row_set,
    rows_of,
)

MIN = 60_000
T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")
KEY = ("acct-1", "bot-a", "c1")
PROPERTY = examples(150)


def turn(event_id: str, minute: float, speaker: str = "USER", **kw: object) -> ConversationTurn:
    return ConversationTurn(event_id, *KEY[:2], T0 + round(minute * MIN), KEY[2],  # type: ignore[arg-type]
                            kw.pop("user_id", "u-1"), kw.pop("channel", "web"),  # type: ignore[arg-type]
                            speaker, **kw)  # type: ignore[arg-type]


def handoff(event_id: str, minute: float, handoff_id: str, phase: str) -> AgentHandoff:
    return AgentHandoff(event_id, *KEY[:2], T0 + round(minute * MIN), KEY[2], "u-1", "web",
                        handoff_id, phase)  # type: ignore[arg-type]


def minutes(values: list[int] | list[tuple[int, int]]) -> list[object]:
    """ms offsets from T0 -> minutes, for readable assertions."""
    out: list[object] = []
    for value in values:
        if isinstance(value, tuple):
            out.append(tuple((v - T0) / MIN for v in value))
        else:
            out.append((value - T0) / MIN)
    return out


def one_visit(*events: ConversationEvent) -> Visit:
    (visit,) = split_visits(sorted(events, key=lambda e: (e.occurred_at, e.event_id)), 15 * MIN)
    return visit


# -- the worked examples ---------------------------------------------------------------------

def test_examples_billed_by_visits_match_expected_usage_rows() -> None:
    billed = [s for key, events in by_conversation(example_events()).items()
              for s in bill_conversation(key, events, 15 * MIN)]
    expected = [row for row in expected_rows() if row["kind"] == "usage"]
    assert row_set(rows_of(billed)) == row_set(expected)


def test_oracle_agrees_with_the_worked_examples() -> None:
    """The oracle itself is checked against the contract's own cases."""
    assert row_set(oracle_rows(example_events())) == row_set(expected_rows())


# -- R1, R2 -----------------------------------------------------------------------------------

def test_test_traffic_is_dropped_before_deduplication() -> None:
    """R2 before R1: a test delivery does not shadow a real redelivery of the same id."""
    real = turn("x1", 0)
    test = turn("x1", 0, is_test=True)
    assert unique_billable([test, real, real]) == [real]
    assert unique_billable([real, test]) == [real]


def test_first_delivery_wins_when_a_redelivery_differs() -> None:
    first = turn("x1", 0, "USER")
    retry = turn("x1", 5, "BOT", channel="sms")
    assert unique_billable([first, retry]) == [first]


# -- R3 ---------------------------------------------------------------------------------------

def test_gap_of_exactly_t_does_not_split_and_one_ms_more_does() -> None:
    events = [turn("a", 0), turn("b", 15), turn("c", 30 + 1 / MIN)]
    visits = split_visits(events, 15 * MIN)
    assert [[e.event_id for e in v.events] for v in visits] == [["a", "b"], ["c"]]


def test_per_bot_timeout_is_used() -> None:
    events = [turn("a", 0), turn("b", 20), turn("c", 22)]
    short = bill_conversation(KEY, events, 15 * MIN)
    long = bill_conversation(KEY, events, 30 * MIN)
    assert {(s.conversation_session_start - T0) / MIN for s in short} == {0, 20}
    assert {(s.conversation_session_start - T0) / MIN for s in long} == {0}
    assert [(s.billing_session_start - T0) / MIN for s in long] == [0, 15]


# -- R4 ---------------------------------------------------------------------------------------

def test_visit_without_user_turn_bills_nothing() -> None:
    events = [turn("a", 0, "BOT"), turn("b", 5, "AGENT"), handoff("h", 6, "h1", "STARTED")]
    assert bill_conversation(KEY, events, 15 * MIN) == []


def test_user_turn_only_in_second_visit_bills_only_that_visit() -> None:
    events = [turn("a", 0, "BOT"), turn("b", 20, "USER"), turn("c", 21, "BOT")]
    billed = bill_conversation(KEY, events, 15 * MIN)
    assert [(s.conversation_session_start - T0) / MIN for s in billed] == [20]


# -- R5 ---------------------------------------------------------------------------------------

def test_handoff_ended_before_started_runs_to_visit_end() -> None:
    visit = one_visit(turn("a", 0), handoff("e", 2, "h1", "ENDED"),
                      handoff("s", 4, "h1", "STARTED"), turn("z", 10))
    assert minutes(agent_intervals(visit)) == [(4, 10)]


def test_handoff_without_started_starts_at_visit_start() -> None:
    visit = one_visit(turn("a", 0), handoff("e", 3, "h1", "ENDED"), turn("z", 10))
    assert minutes(agent_intervals(visit)) == [(0, 3)]


def test_handoff_uses_earliest_started_and_earliest_ended_after_it() -> None:
    visit = one_visit(turn("a", 0), handoff("s1", 2, "h1", "STARTED"),
                      handoff("s2", 4, "h1", "STARTED"), handoff("e1", 5, "h1", "ENDED"),
                      handoff("e2", 7, "h1", "ENDED"), turn("z", 10))
    assert minutes(agent_intervals(visit)) == [(2, 5)]


def test_overlapping_and_touching_handoffs_are_united() -> None:
    visit = one_visit(turn("a", 0), handoff("s1", 1, "h1", "STARTED"),
                      handoff("s2", 2, "h2", "STARTED"), handoff("e1", 4, "h1", "ENDED"),
                      handoff("e2", 3, "h2", "ENDED"), handoff("s3", 4, "h3", "STARTED"),
                      handoff("e3", 6, "h3", "ENDED"), turn("z", 10))
    assert minutes(agent_intervals(visit)) == [(1, 6)]


def test_started_and_ended_at_the_same_instant_is_empty() -> None:
    visit = one_visit(turn("a", 0), handoff("s", 3, "h1", "STARTED"),
                      handoff("e", 3, "h1", "ENDED"), turn("z", 10))
    assert agent_intervals(visit) == []


# -- R6, R7 -----------------------------------------------------------------------------------

def test_31_minutes_bills_three_sessions() -> None:
    visit = one_visit(turn("a", 0), turn("b", 10), turn("c", 20), turn("d", 31))
    assert minutes(session_starts(visit)) == [0, 15, 30]


def test_exactly_15_minutes_is_one_session_and_1_ms_more_is_two() -> None:
    assert len(session_starts(one_visit(turn("a", 0), turn("b", 15)))) == 1
    visit = one_visit(turn("a", 0), turn("b", 8), turn("c", 15 + 1 / MIN))
    assert [s - T0 for s in session_starts(visit)] == [0, 15 * MIN]


def test_single_event_visit_bills_one_session() -> None:
    billed = bill_conversation(KEY, [turn("a", 0)], 15 * MIN)
    assert [(s.billing_session_start, s.billing_session_end) for s in billed] == [(T0, T0)]


def test_all_agent_time_still_bills_one_session() -> None:
    events = [turn("a", 0), handoff("s", 0, "h1", "STARTED"), turn("z", 14),
              turn("y", 28)]
    assert len(bill_conversation(KEY, events, 15 * MIN)) == 1


def test_session_boundary_at_agent_start_moves_to_agent_end() -> None:
    """B(t) = 15 min at 15:00, agent time 15..25: the last such instant is 25."""
    visit = one_visit(turn("a", 0), turn("b", 10), handoff("s", 15, "h1", "STARTED"),
                      handoff("e", 25, "h1", "ENDED"), turn("z", 26))
    assert minutes(session_starts(visit)) == [0, 25]


def test_first_turn_gives_channel_and_user_not_the_first_event() -> None:
    events = [handoff("h", 0, "h1", "ENDED"), turn("a", 1, "BOT", channel="sms", user_id="u-2"),
              turn("b", 2, "USER")]
    (session,) = bill_conversation(KEY, events, 15 * MIN)
    assert (session.channel, session.user_id) == ("sms", "u-2")


# -- properties against the oracle ------------------------------------------------------------

def _billed_by_visits(scenario: Scenario) -> list[dict[str, object]]:
    return rows_of(s for key, events in by_conversation(scenario.events).items()
                   for s in bill_conversation(key, events, scenario.timeout_ms(key[1])))


@PROPERTY
@given(scenarios())
def test_bill_conversation_equals_oracle(scenario: Scenario) -> None:
    expected = oracle_rows(scenario.events, scenario.per_bot, scenario.default_timeout_ms)
    alerts = oracle_alert_rows(scenario.events)
    assert row_set(_billed_by_visits(scenario)) + row_set(alerts) == row_set(expected)


def _union(intervals: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _bot_time(visit: OracleVisit, low: int, high: int) -> int:
    agent = sum(max(0, min(end, high) - max(start, low))
                for start, end in _union(visit.agent_intervals))
    return (high - low) - agent


@PROPERTY
@given(scenarios(max_conversations=3))
def test_sessions_never_start_inside_agent_time_and_count_follows_bot_time(
    scenario: Scenario,
) -> None:
    """(c), checked on the implementation with the oracle's intervals and bot time."""
    billed = {}
    for key, events in by_conversation(scenario.events).items():
        for session in bill_conversation(key, events, scenario.timeout_ms(key[1])):
            billed.setdefault((key, session.conversation_session_start), []).append(session)
    for visit in oracle_visits(scenario.events, scenario.per_bot, scenario.default_timeout_ms):
        sessions = billed.pop((visit.key, visit.start), [])
        if not visit.interactive:
            assert sessions == []
            continue
        assert len(sessions) == max(1, -(-visit.bot_time // SESSION_MS))
        assert [s.session_index for s in sessions] == list(range(1, len(sessions) + 1))
        assert sessions[0].billing_session_start == visit.start
        assert sessions[-1].billing_session_end == visit.end
        for before, after in itertools.pairwise(sessions):
            assert before.billing_session_end == after.billing_session_start
            # every session but the last holds exactly 15 min of bot time
            assert _bot_time(visit, before.billing_session_start,
                             before.billing_session_end) == SESSION_MS
        for session in sessions:
            t = session.billing_session_start
            for start, end in _union(visit.agent_intervals):
                assert not start < t < end, "a session starts inside agent time"
                if session.session_index >= 2:
                    assert not start <= t < end
    assert billed == {}


@examples(60)
@given(scenarios(max_conversations=2), st.randoms(use_true_random=False))
def test_bill_conversation_ignores_delivery_order_of_identical_redeliveries(
    scenario: Scenario, random: Random
) -> None:
    """Only which copy of an id comes first may matter; with unique copies order is moot."""
    unique = list({e.event_id: e for e in reversed(scenario.events)}.values())
    shuffled = list(unique)
    random.shuffle(shuffled)
    for key, events in by_conversation(unique).items():
        other = by_conversation(shuffled)[key]
        timeout = scenario.timeout_ms(key[1])
        assert bill_conversation(key, events, timeout) == bill_conversation(key, other, timeout)
