"""Container files of input events: the binary replay format."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pytest

from botbill.billing_rules.events import event_from_mapping, event_to_mapping
from botbill.schemas import SchemaError, iter_container_records, write_container

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
TYPES = {"ConversationTurn": "conversation_turn", "AgentHandoff": "agent_handoff",
         "AlertDelivered": "alert_delivered"}


def events(sample: Any) -> list[dict[str, Any]]:
    return [{"type": kind, **sample(name)} for name, kind in TYPES.items()]


def round_trip(records: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    buffer = BytesIO()
    write_container(buffer, records, **options)
    buffer.seek(0)
    return list(iter_container_records(buffer))


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_round_trip_of_each_event_type(sample: Any, codec: str) -> None:
    assert round_trip(events(sample), codec=codec) == events(sample)


def test_records_feed_billing_rules_unchanged(sample: Any) -> None:
    for record in round_trip(events(sample)):
        assert event_to_mapping(event_from_mapping(record)) == record


def test_json_lines_shape_is_accepted(sample: Any) -> None:
    line = {"type": "conversation_turn", "bot_id": "bot-a", "conversation_id": "conv-1",
            "user_id": "u-1", "channel": "web", "speaker": "USER", "account_id": "acct-1",
            "occurred_at": "2026-11-01T10:00:00.000Z", "event_id": "x001"}
    [record] = round_trip([line])
    assert record == {**line, "occurred_at": 1_793_527_200_000, "is_test": False}


def test_single_schema_file_of_an_older_version(sample: Any) -> None:
    v1 = json.loads((SCHEMA_DIR / "history" / "ConversationTurn.v1.avsc").read_text())
    turn = sample("ConversationTurn")
    del turn["is_test"]
    buffer = BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(v1), [turn, turn])
    buffer.seek(0)
    expected = {"type": "conversation_turn", **turn, "is_test": False}
    assert list(iter_container_records(buffer)) == [expected, expected]


def test_bad_record_is_named(sample: Any) -> None:
    with pytest.raises(SchemaError, match=r"^AgentHandoff\.phase: 'PAUSE' is not one of"):
        round_trip([{"type": "agent_handoff", **sample("AgentHandoff", phase="PAUSE")}])
    with pytest.raises(SchemaError, match="'sms_sent' is not one of conversation_turn"):
        round_trip([{"type": "sms_sent", **sample("AlertDelivered")}])
    with pytest.raises(SchemaError, match=r"^ConversationTurn\.occurred_at: "):
        round_trip([{"type": "conversation_turn",
                     **sample("ConversationTurn", occurred_at="yesterday")}])


def test_files_that_are_not_input_events(sample: Any) -> None:
    with pytest.raises(SchemaError, match="not an Avro container file"):
        list(iter_container_records(BytesIO(b'{"type": "conversation_turn"}\n')))
    late = json.loads((SCHEMA_DIR / "LateEvent.avsc").read_text())
    buffer = BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(late), [sample("LateEvent")])
    buffer.seek(0)
    with pytest.raises(SchemaError, match=r"^LateEvent: not an input event schema"):
        list(iter_container_records(buffer))


def test_corrupt_block(sample: Any) -> None:
    buffer = BytesIO()
    write_container(buffer, events(sample) * 10, codec="deflate")
    data = bytearray(buffer.getvalue())
    data[-30:-20] = bytes(10)
    with pytest.raises(SchemaError, match="corrupt container file"):
        list(iter_container_records(BytesIO(bytes(data))))
