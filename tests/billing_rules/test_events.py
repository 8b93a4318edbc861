"""Input validation (``billing_rules.events``): what is an event, and the round trip."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given

from botbill.billing_rules.events import (
    AgentHandoff,
    AlertDelivered,
    ConversationTurn,
    Event,
    event_from_mapping,
    event_to_mapping,
)
from botbill.billing_rules.exceptions import BotbillError, InvalidEvent
from botbill.billing_rules.timeutil import MAX_EVENT_MS, MIN_EVENT_MS
from tests.billing_rules.strategies import Scenario, scenarios
from tests.billing_rules.support import EXAMPLES, examples

TURN: dict[str, Any] = {
    "type": "conversation_turn", "event_id": "x1", "account_id": "acct-1", "bot_id": "bot-a",
    "occurred_at": "2026-11-01T10:00:00.000Z", "conversation_id": "c1", "user_id": "u-1",
    "channel": "web", "speaker": "USER",
}
HANDOFF: dict[str, Any] = {
    **TURN, "type": "agent_handoff", "handoff_id": "h1", "phase": "STARTED", "agent_id": "a-7",
}
del HANDOFF["speaker"]
ALERT: dict[str, Any] = {
    "type": "alert_delivered", "event_id": "x3", "account_id": "acct-1", "bot_id": "bot-b",
    "occurred_at": "2026-11-01T00:00:00.000Z", "alert_id": "sales", "user_id": "u-9",
    "channel": "email",
}


def test_each_type_is_built() -> None:
    turn = event_from_mapping(TURN)
    assert turn == ConversationTurn("x1", "acct-1", "bot-a", 1_793_527_200_000, "c1", "u-1",
                                    "web", "USER")
    assert turn.key == ("acct-1", "bot-a", "c1")  # type: ignore[union-attr]
    handoff = event_from_mapping(HANDOFF)
    assert isinstance(handoff, AgentHandoff)
    assert (handoff.phase, handoff.agent_id, handoff.is_test) == ("STARTED", "a-7", False)
    assert isinstance(event_from_mapping(ALERT), AlertDelivered)


def test_type_may_be_given_by_the_adapter() -> None:
    record = {k: v for k, v in TURN.items() if k != "type"}
    assert event_from_mapping(record, "conversation_turn") == event_from_mapping(TURN)


def test_occurred_at_may_be_epoch_ms() -> None:
    assert event_from_mapping({**TURN, "occurred_at": 1_793_527_200_000}) == event_from_mapping(
        TURN)


@pytest.mark.parametrize(("is_test", "expected"), [(True, True), (False, False), (None, False)])
def test_is_test_defaults_to_false(is_test: bool | None, expected: bool) -> None:
    assert event_from_mapping({**TURN, "is_test": is_test}).is_test is expected
    assert "is_test" not in TURN
    assert event_from_mapping(TURN).is_test is False


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "turn"}, "type"),
    ({"type": None}, "type"),
    ({"event_id": ""}, "event_id"),
    ({"account_id": None}, "account_id"),
    ({"bot_id": 7}, "bot_id"),
    ({"conversation_id": ""}, "conversation_id"),
    ({"user_id": None}, "user_id"),
    ({"channel": None}, "channel"),
    ({"speaker": "user"}, "speaker"),
    ({"speaker": None}, "speaker"),
    ({"occurred_at": "2026-11-01"}, "occurred_at"),
    ({"occurred_at": 1.5}, "occurred_at"),
    ({"occurred_at": True}, "occurred_at"),
    ({"occurred_at": None}, "occurred_at"),
    ({"is_test": "false"}, "is_test"),
    ({"is_test": 0}, "is_test"),
])
def test_invalid_turn_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        event_from_mapping({**TURN, **change})
    assert field in caught.value.reason
    assert isinstance(caught.value, BotbillError)
    if "event_id" not in change:
        assert caught.value.record == "'x1'"  # the record is named by its event id


@pytest.mark.parametrize(("change", "field"), [
    ({"phase": "ENDING"}, "phase"),
    ({"handoff_id": ""}, "handoff_id"),
    ({"agent_id": 3}, "agent_id"),
])
def test_invalid_handoff_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent, match=field):
        event_from_mapping({**HANDOFF, **change})


def test_invalid_alert_names_the_field() -> None:
    with pytest.raises(InvalidEvent, match="alert_id"):
        event_from_mapping({**ALERT, "alert_id": None})


def test_every_example_line_is_valid() -> None:
    lines = (EXAMPLES / "events.jsonl").read_bytes().splitlines()
    events = [event_from_mapping(orjson.loads(line)) for line in lines]
    assert len(events) == 57
    assert sum(e.is_test for e in events) == 2


@examples(100)
@given(scenarios())
def test_to_mapping_round_trips(scenario: Scenario) -> None:
    for event in scenario.events:
        record = event_to_mapping(event)
        assert record["type"] == event.type
        assert event_from_mapping(record) == event
        back: Event = event_from_mapping(orjson.loads(orjson.dumps(record)))
        assert back == event


# years 2000 .. 2200: 946684800000 is 2000-01-01T00:00:00Z, 7289654400000 is 2201-01-01
@pytest.mark.parametrize("occurred_at", [
    -10**14, -1, 0, 946_684_799_999, 7_289_654_400_000, 2**63, 10**30,
    "0001-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2201-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z", "2201-01-01T01:00:00+01:00",
])
@pytest.mark.parametrize("record", [TURN, HANDOFF, ALERT], ids=["turn", "handoff", "alert"])
def test_occurred_at_outside_the_years_2000_to_2200_is_invalid(
        record: dict[str, Any], occurred_at: int | str) -> None:
    with pytest.raises(InvalidEvent, match=r"'occurred_at' must be between "
                                           r"2000-01-01T00:00:00\.000Z and 2200") as raised:
        event_from_mapping({**record, "occurred_at": occurred_at})
    assert raised.value.record == repr(record["event_id"])


@pytest.mark.parametrize("occurred_at", [
    946_684_800_000, 7_289_654_399_999, "2000-01-01T00:00:00.000Z",
    "2200-12-31T23:59:59.999Z", "2201-01-01T00:59:59.999+01:00",
])
def test_the_edges_of_the_event_time_range_are_valid(occurred_at: int | str) -> None:
    assert MIN_EVENT_MS <= event_from_mapping({**TURN, "occurred_at": occurred_at}).occurred_at \
        <= MAX_EVENT_MS
