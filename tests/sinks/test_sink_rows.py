"""Batches -> rows, rows -> event mappings, and the export's bytes: pure, no server."""

from __future__ import annotations

import io
import json
from datetime import date

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from botbill.billing_rules.events import event_from_mapping, event_to_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.billing_rules.timeutil import MAX_EVENT_MS, MIN_EVENT_MS
from botbill.sinks import LateEventRecord, RawEventRecord, SinkBatch, SinkError
from botbill.sinks._tables import EVENT_COLUMNS, RAW_EVENT_COLUMNS, batch_inserts, event_mapping
from botbill.sinks.export import write_rows

text = st.text(min_size=1, max_size=8)


@st.composite
def events(draw):
    kind = draw(st.sampled_from(["conversation_turn", "agent_handoff", "alert_delivered"]))
    record = {"type": kind, "event_id": draw(text), "account_id": draw(text),
              "bot_id": draw(text), "occurred_at": draw(st.integers(MIN_EVENT_MS, MAX_EVENT_MS)),
              "user_id": draw(text), "channel": draw(text), "is_test": draw(st.booleans())}
    if kind == "conversation_turn":
        record |= {"conversation_id": draw(text),
                   "speaker": draw(st.sampled_from(["USER", "BOT", "AGENT"]))}
    elif kind == "agent_handoff":
        record |= {"conversation_id": draw(text), "handoff_id": draw(text),
                   "phase": draw(st.sampled_from(["STARTED", "ENDED"])),
                   "agent_id": draw(st.none() | text)}
    else:
        record["alert_id"] = draw(text)
    return event_to_mapping(event_from_mapping(record))


@given(events())
def test_a_raw_row_reads_back_as_the_event_mapping(mapping):
    [insert] = batch_inserts(SinkBatch(raw_events=[RawEventRecord(mapping, "t", 0, 1)]),
                             ingested_at=5)
    assert insert.table == "raw_events" and insert.columns == RAW_EVENT_COLUMNS
    [row] = insert.rows
    assert row[len(EVENT_COLUMNS):] == ("t", 0, 1, 5)
    assert event_mapping(row[0], row[1:len(EVENT_COLUMNS)]) == mapping


def test_an_empty_batch_inserts_nothing():
    assert batch_inserts(SinkBatch(), ingested_at=0) == []
    assert len(SinkBatch()) == 0


def test_rows_carry_identity_revision_and_void(records):
    batch = SinkBatch(usage_changes=[SessionChange(records.usage(2), 7, True)],
                      alert_sessions=[AlertSession(records.account, "b", "e", 3)])
    usage, alerts = batch_inserts(batch, ingested_at=0)
    assert usage.sql.startswith("INSERT INTO usage_sessions (account_id, bot_id,")
    assert usage.rows[0][-4:-1] == (records.usage(2).billing_session_end, 7, 1)
    assert alerts.rows[0][:4] == (records.account, "b", "e", 3)


def test_rows_carry_the_billing_day_the_rules_give() -> None:
    """R7: a usage session is billed on the UTC day it starts (not the day its visit
    started); R8: an alert on the day it was delivered."""
    session = UsageSession("a", "b", "c", "web", "u", 1_793_577_540_000,  # 11-01 23:59:00
                           1_793_578_500_000, 2, 1_793_577_600_000,  # 11-02 00:00:00
                           1_793_578_500_000)
    alert = AlertSession("a", "b", "e", 1_793_577_599_999)  # 2026-11-01T23:59:59.999Z
    usage_row, alert_row = batch_inserts(SinkBatch(usage_changes=[SessionChange(session, 1,
                                                                                False)],
                                                   alert_sessions=[alert]), ingested_at=0)
    assert usage_row.columns[-1] == alert_row.columns[-1] == "billing_day"
    assert usage_row.rows[0][-1] == date(2026, 11, 2)
    assert alert_row.rows[0][-1] == date(2026, 11, 1)


@pytest.mark.parametrize("broken", [{"type": "nope"}, {"event_id": ""},
                                    {"occurred_at": "yesterday"}])
def test_a_record_the_tables_cannot_hold_is_refused_by_name(records, broken):
    event = records.event("conversation_turn", "e-42", records.t0) | broken
    with pytest.raises(SinkError, match="raw tables cannot hold"):
        batch_inserts(SinkBatch(raw_events=[RawEventRecord(event, "t", 0, 0)]), ingested_at=0)
    late = LateEventRecord(event, "closed", 0, "t", 0, 0)
    with pytest.raises(SinkError):
        batch_inserts(SinkBatch(late_events=[late]), ingested_at=0)


def test_a_negative_revision_is_refused(records):
    with pytest.raises(SinkError, match="negative revision"):
        batch_inserts(SinkBatch(usage_changes=[SessionChange(records.usage(), -1, False)]),
                      ingested_at=0)


@given(st.text(), st.text())
def test_export_lines_are_byte_identical_to_replay(user, channel):
    # botbill replay writes orjson.dumps(to_row(s), option=OPT_SORT_KEYS); sinks may not
    # import orjson, so the stdlib form must produce the same bytes.
    session = AlertSession(user, channel, user + channel, 1_793_527_200_000)
    out = io.BytesIO()
    assert write_rows([session], out) == 1
    from botbill.billing_rules.sessions import to_row

    assert out.getvalue() == orjson.dumps(to_row(session), option=orjson.OPT_SORT_KEYS) + b"\n"
    assert json.loads(out.getvalue()) == to_row(session)


def test_an_account_event_row_is_told_apart_by_its_content_only() -> None:
    from botbill.sinks._tables import account_event_row

    record = {"type": "order_settled", "event_id": "e-9", "account_id": "a", "bot_id": "b",
              "occurred_at": 1_000, "order_id": "o-1", "status": "paid"}
    row = account_event_row(record)
    assert row[:3] == ("a", "b", "e-9") and row[4:6] == ("order_settled", 1_000)
    assert json.loads(row[6]) == record
    assert account_event_row(dict(reversed(list(record.items())))) == row  # key order: same
    assert account_event_row({**record, "status": "failed"})[3] != row[3]
    with pytest.raises(SinkError, match="account event"):
        account_event_row({k: v for k, v in record.items() if k != "event_id"})
