"""Acceptance: malformed messages go to the dead letters and a late event to the late events
(topics, tables and metrics), and the worker goes on billing what comes after them.

One partition, so the traffic that advances event time shares the late conversation's
partition (event time is per partition), and ``BOTBILL_IDLE_INPUT=2s``, so a silent input
topic stops holding event time back almost at once. That traffic also has a handoff: event
time is the minimum over both conversation topics, and until a topic has been silent for
``BOTBILL_IDLE_INPUT`` since the partition started, one never heard from keeps event time
unset (nothing is late yet). Once the export shows the handoff, event time is past 13:00.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from botbill.billing_rules.timeutil import MINUTE_MS, format_ms, parse_rfc3339_ms
from botbill.schemas.codec import AvroCodec
from tests.e2e.pipeline import REPO, Pipeline, normalized, write_events

pytestmark = pytest.mark.integration

TURNS = "conversation-turns"
ACCOUNT = "acct-bad-input"
T10 = parse_rfc3339_ms("2026-11-03T10:00:00.000Z")
_TURN_FIELDS = {"event_id": "bad-1", "account_id": ACCOUNT, "bot_id": "bot-1",
                "occurred_at": T10, "conversation_id": "c-bad", "user_id": "u-bad",
                "channel": "web", "speaker": "USER", "is_test": False}


@pytest.fixture(scope="module")
def pipeline_env() -> dict[str, str]:
    return {"BOTBILL_PARTITIONS": "1", "BOTBILL_IDLE_INPUT": "2s"}


def _turn(event_id: str, conversation: str, at: int, speaker: str = "USER") -> dict[str, Any]:
    return {"type": "conversation_turn", "event_id": event_id, "account_id": ACCOUNT,
            "bot_id": "bot-1", "conversation_id": conversation, "user_id": f"u-{conversation}",
            "channel": "web", "speaker": speaker, "occurred_at": at}


def _alert(event_id: str, at: int) -> dict[str, Any]:
    return {"type": "alert_delivered", "event_id": event_id, "account_id": ACCOUNT,
            "bot_id": "bot-1", "alert_id": "report", "user_id": "u-alert", "channel": "email",
            "occurred_at": at}


def _handoff_visit(start: int) -> list[dict[str, Any]]:
    """A 26-minute visit with 19 minutes of agent time: one usage session with the handoff,
    two without, so the export shows whether the worker has read the handoff."""
    handoff = {"type": "agent_handoff", "account_id": ACCOUNT, "bot_id": "bot-1",
               "conversation_id": "c-handoff", "user_id": "u-c-handoff", "channel": "web",
               "handoff_id": "h-1"}
    return [
        _turn("ho-1", "c-handoff", start),
        {**handoff, "event_id": "ho-2", "phase": "STARTED", "occurred_at": start + MINUTE_MS},
        _turn("ho-3", "c-handoff", start + 5 * MINUTE_MS, "AGENT"),
        _turn("ho-4", "c-handoff", start + 15 * MINUTE_MS, "AGENT"),
        {**handoff, "event_id": "ho-5", "phase": "ENDED", "occurred_at": start + 20 * MINUTE_MS},
        _turn("ho-6", "c-handoff", start + 25 * MINUTE_MS),
        _turn("ho-7", "c-handoff", start + 26 * MINUTE_MS, "BOT"),
    ]


def _garbage() -> dict[bytes, str]:
    """Malformed conversation-turns values -> what their dead-letter error must say."""
    codec = AvroCodec()
    valid = codec.encode("ConversationTurn", _TURN_FIELDS, topic=TURNS)
    schema = parse_schema(json.loads((REPO / "schemas" / "ConversationTurn.avsc").read_text()))
    body = BytesIO()
    schemaless_writer(body, schema, {**_TURN_FIELDS, "account_id": ""})  # valid Avro, invalid event
    alert = {k: v for k, v in _alert("bad-a", T10).items() if k != "type"}
    return {
        b"\xffthis is not an avro message at all": "unknown framing",
        b"\xc3\x01" + b"\xde\xad\xbe\xef" * 2 + valid[10:]: "unknown writer schema fingerprint",
        valid[:-6]: "undecodable body",
        valid[:10] + body.getvalue(): "account_id",
        codec.encode("AlertDelivered", {**alert, "is_test": False}): "AlertDelivered",
    }


@dataclass(frozen=True)
class Scenario:
    """What was sent, and the billed rows the export must equal."""

    garbage: dict[bytes, str]
    late: dict[str, Any]
    expected: list[str]
    lag_after_first: float  # botbill_event_time_lag_seconds once the first file is billed


@pytest.fixture(scope="module")
def scenario(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    folder = tmp_path_factory.mktemp("bad-input")
    # 1. a visit at 10:00, then traffic on both conversation topics that moves event time
    # hours past its closing time (see the module docstring)
    first = [_turn("late-conv-1", "c-late", T10), _turn("late-conv-2", "c-late", T10 + MINUTE_MS,
                                                          "BOT")]
    first += [_turn(f"adv-{h}-{m}", f"c-adv-{h}", T10 + h * 30 * MINUTE_MS + m * MINUTE_MS,
                    "USER" if m % 2 == 0 else "BOT") for h in range(1, 6) for m in range(4)]
    first.append(_alert("alert-1", T10 + 2 * 60 * MINUTE_MS))
    first += _handoff_visit(T10 + 3 * 60 * MINUTE_MS)
    first_file = write_events(folder / "first.jsonl", first)
    pipeline.produce_file(first_file)
    first_billed = pipeline.replay(first_file)
    assert sum('"c-handoff"' in row for row in first_billed) == 1
    pipeline.wait_for_export(first_billed)
    lag_after_first = pipeline.metric("botbill_event_time_lag_seconds", partition="0")

    # 2. malformed messages, 3. a turn of the closed 10:00 visit, 4. good events after them
    garbage = _garbage()
    for number, value in enumerate(garbage):
        pipeline.send_raw(TURNS, f"c-bad-{number}".encode(), value)
    late = _turn("late-conv-3", "c-late", T10 + 5 * MINUTE_MS)
    pipeline.produce_file(write_events(folder / "late.jsonl", [late]))
    end = T10 + 4 * 60 * MINUTE_MS
    later = [_turn("after-1", "c-after", end), _turn("after-2", "c-after", end + 5 * MINUTE_MS,
                                                      "BOT"), _alert("alert-2", end)]
    pipeline.produce_file(write_events(folder / "later.jsonl", later))

    # without the late event, replay bills exactly what the stream must have billed
    expected = pipeline.replay(write_events(folder / "good.jsonl", first + later))
    pipeline.wait_for_export(expected)
    pipeline.wait_until(lambda: pipeline.query("SELECT count() FROM late_events")[0][0] > 0
                        and pipeline.query("SELECT count() FROM dead_letters FINAL")[0][0]
                        >= len(garbage), 120, "the late event and the dead letters in ClickHouse")
    return Scenario(garbage, late, expected, lag_after_first)


def test_dead_letters_table_holds_the_garbage_with_its_reason(pipeline: Pipeline,
                                                              scenario: Scenario) -> None:
    rows = pipeline.query("SELECT kafka_topic, hex(value), error FROM dead_letters FINAL")
    assert {topic for topic, _, _ in rows} == {pipeline.topic(TURNS)}
    errors = {bytes.fromhex(value): error for _, value, error in rows}
    assert set(errors) == set(scenario.garbage)
    for value, fragment in scenario.garbage.items():
        assert fragment in errors[value], (value, errors[value])


def test_late_event_is_recorded_with_its_reason_and_not_billed(pipeline: Pipeline,
                                                               scenario: Scenario) -> None:
    rows = pipeline.query("SELECT event_id, conversation_id, occurred_at, reason, watermark, "
                          "payload FROM late_events FINAL")
    assert len(rows) == 1, rows
    event_id, conversation, occurred_at, reason, watermark, payload = rows[0]
    assert (event_id, conversation, occurred_at) == ("late-conv-3", "c-late",
                                                     scenario.late["occurred_at"])
    assert re.search(r"already closed|passed its closing time", reason), reason
    assert watermark > occurred_at + 20 * MINUTE_MS  # past end + T + grace
    assert json.loads(payload)["occurred_at"] == format_ms(scenario.late["occurred_at"])
    billed = [json.loads(line) for line in pipeline.export() or []]
    visit = [row for row in billed if row.get("conversation_id") == "c-late"]
    assert [row["conversation_session_end"] for row in visit] == [format_ms(T10 + MINUTE_MS)]


def test_audit_topics_got_the_messages(pipeline: Pipeline, scenario: Scenario) -> None:
    codec = AvroCodec()
    dead = [codec.decode(value) for _, value in pipeline.read_topic("dead-letters")]
    assert {name for name, _ in dead} == {"DeadLetter"}
    assert {record["value"] for _, record in dead} == set(scenario.garbage)
    assert all(record["source_topic"] == pipeline.topic(TURNS) and record["error"]
               for _, record in dead)
    late = [codec.decode(value) for _, value in pipeline.read_topic("late-events")]
    assert [(name, record["event_id"]) for name, record in late] == [("LateEvent",
                                                                      "late-conv-3")]
    assert late[0][1]["reason"]


def test_metrics_count_invalid_and_late_events(pipeline: Pipeline, scenario: Scenario) -> None:
    turns = pipeline.topic(TURNS)
    assert pipeline.metric("botbill_invalid_events_total", topic=turns) == len(scenario.garbage)
    assert pipeline.metric("botbill_late_events_total", topic=turns) == 1
    assert pipeline.metric("botbill_late_events_total") == 1
    assert pipeline.metric("botbill_sink_rows_total", table="dead_letters") >= len(
        scenario.garbage)
    assert pipeline.metric("botbill_sink_rows_total", table="late_events") >= 1


def test_worker_is_alive_and_bills_what_came_after(pipeline: Pipeline,
                                                   scenario: Scenario) -> None:
    pipeline.assert_alive()
    health = pipeline.health()
    assert health is not None and health["healthy"], health
    billed = pipeline.export()
    assert billed is not None and normalized(billed) == normalized(scenario.expected)
    after = {(row["kind"], row.get("conversation_id") or row.get("event_id"))
             for row in map(json.loads, billed)}
    assert {("usage", "c-after"), ("alert", "alert-2")} <= after


def test_event_time_lag_gauge_is_a_real_lag(scenario: Scenario) -> None:
    oldest_possible = (time.time() * 1000 - T10) / 1000  # no event of the file is older
    assert scenario.lag_after_first <= oldest_possible, scenario.lag_after_first
