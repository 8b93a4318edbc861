"""The schema, writes and reads, on chdb (a current ClickHouse, in-process) and, marked
``integration``, on the real server (18.16 here): the same statements must behave the same.
"""

from __future__ import annotations

import random
from datetime import date

from botbill.billing_rules.batch import BatchBiller
from botbill.billing_rules.events import AlertDelivered, event_from_mapping, event_to_mapping
from botbill.billing_rules.incremental import ConversationState, apply_event
from botbill.billing_rules.sessions import AlertSession, SessionChange, row_sort_key, to_row
from botbill.billing_rules.settings import DEFAULT_GRACE_MS, DEFAULT_TIMEOUT_MS
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.sinks import (
    DeadLetterRecord,
    InMemoryStore,
    LateEventRecord,
    RawEventRecord,
    SinkBatch,
    UsageSnapshot,
    UsageSummary,
    billed_sessions,
    migrate,
    raw_events,
    usage_summary,
)
from botbill.sinks._tables import RAW_EVENT_COLUMNS
from botbill.sinks.migrations import available_migrations

MINUTE = 60_000


def billed(backend, account, **filters):
    return list(billed_sessions(backend.client, account=account, **filters))


def export_lines(backend, account):
    return [to_row(s) for s in billed(backend, account)]


def test_every_migration_applied_and_a_second_run_applies_nothing(backend):
    assert migrate(backend.client) == []
    recorded = {v for (v,) in backend.client.execute("SELECT version FROM schema_migrations")}
    assert recorded == {m.version for m in available_migrations()}
    tables = {name for (name,) in backend.client.execute("SHOW TABLES")}
    assert {"raw_events", "usage_sessions", "alert_sessions", "late_events", "dead_letters",
            "bot_usage_daily", "bot_usage_monthly", "schema_migrations"} <= tables
    described = [row[0] for row in backend.client.execute("DESCRIBE TABLE raw_events")]
    assert sorted(described) == sorted([*RAW_EVENT_COLUMNS, "occurred_day"])


def test_writing_a_batch_twice_changes_nothing(backend, records):
    batch = SinkBatch(
        raw_events=[RawEventRecord(records.event("conversation_turn", "e1", records.t0),
                                   "conversation-turns", 0, 7)],
        usage_changes=[SessionChange(records.usage(1), 1, False),
                       SessionChange(records.usage(2), 1, False)],
        alert_sessions=[records.alert("a1", records.t0)])
    backend.write(batch)
    first = export_lines(backend, records.account)
    backend.write(batch)
    assert export_lines(backend, records.account) == first
    assert len(first) == 3
    window = {"start_ms": records.t0, "end_ms": records.t0 + 1}
    mine = [e for e in raw_events(backend.client, **window)
            if e["account_id"] == records.account]
    assert len(mine) == 1


def test_a_newer_revision_replaces_and_an_older_one_arriving_later_does_not(backend, records):
    moved = records.usage(2, billing_start=records.t0 + 20 * MINUTE)
    backend.write(SinkBatch(usage_changes=[SessionChange(records.usage(2), 1, False)]))
    backend.write(SinkBatch(usage_changes=[SessionChange(moved, 5, False)]))
    assert billed(backend, records.account) == [moved]
    backend.write(SinkBatch(usage_changes=[SessionChange(records.usage(2), 3, False)]))
    assert billed(backend, records.account) == [moved]


def test_a_void_removes_the_session_and_a_stale_open_does_not_revive_it(backend, records):
    session = records.usage(1)
    backend.write(SinkBatch(usage_changes=[SessionChange(session, 1, False)]))
    backend.write(SinkBatch(usage_changes=[SessionChange(session, 2, True)]))
    assert billed(backend, records.account) == []
    backend.write(SinkBatch(usage_changes=[SessionChange(session, 1, False)]))
    assert billed(backend, records.account) == []
    assert usage_summary(backend.client, account=records.account) == []


def test_billing_start_moving_across_a_month_edge_keeps_one_row(backend, records):
    # The visit starts on Oct 31; its 2nd session first starts in November, then a late
    # handoff moves it back to October. Partitioning by billing start would keep both.
    start = parse_rfc3339_ms("2026-10-31T23:40:00.000Z")
    november = records.usage(2, start=start, billing_start=start + 25 * MINUTE)
    october = records.usage(2, start=start, billing_start=start + 15 * MINUTE)
    backend.write(SinkBatch(usage_changes=[SessionChange(november, 1, False)]))
    backend.write(SinkBatch(usage_changes=[SessionChange(october, 2, False)]))
    assert billed(backend, records.account) == [october]
    assert billed(backend, records.account, day_from=date(2026, 11, 1)) == []
    assert billed(backend, records.account, day_to=date(2026, 10, 31)) == [october]
    assert usage_summary(backend.client, account=records.account) == [
        UsageSummary(records.account, "bot-a", date(2026, 10, 1), 1, 0)]
    # FINAL happens to merge across partitions by default (18.16 and current), so the
    # reads above would pass anyway. What the partitioning buys: both revisions share a
    # partition, so background merges fold them, and FINAL stays right where it is told
    # not to merge across partitions (do_not_merge_across_partitions_select_final).
    mine = {"a": records.account}
    parts = "SELECT uniqExact(_partition_id) FROM usage_sessions WHERE account_id = %(a)s"
    assert backend.client.execute(parts, mine) == [(1,)]
    backend.client.execute("OPTIMIZE TABLE usage_sessions FINAL")
    stored = "SELECT billing_session_start FROM usage_sessions WHERE account_id = %(a)s"
    assert backend.client.execute(stored, mine) == [(october.billing_session_start,)]


def test_daily_and_monthly_views_count_billed_sessions(backend, records):
    day2 = parse_rfc3339_ms("2026-11-02T09:00:00.000Z")
    december = parse_rfc3339_ms("2026-12-01T00:00:00.000Z")
    changes = [SessionChange(records.usage(i), 1, False) for i in (1, 2, 3)]
    changes += [SessionChange(records.usage(1, conversation="c2", start=day2), 1, False),
                SessionChange(records.usage(2, conversation="c2", start=day2), 1, False),
                SessionChange(records.usage(2, conversation="c2", start=day2), 2, True),
                SessionChange(records.usage(1, conversation="c3", start=december,
                                            bot="bot-b"), 4, False)]
    alerts = [records.alert(f"a{i}", records.t0 + i * 8 * 60 * MINUTE) for i in range(3)]
    backend.write(SinkBatch(usage_changes=changes, alert_sessions=alerts))
    daily = backend.client.execute(
        "SELECT bot_id, day, usage_sessions, alert_sessions FROM bot_usage_daily "
        "WHERE account_id = %(a)s ORDER BY bot_id, day", {"a": records.account})
    assert daily == [("bot-a", date(2026, 11, 1), 3, 2), ("bot-a", date(2026, 11, 2), 1, 1),
                     ("bot-b", date(2026, 12, 1), 1, 0)]
    assert usage_summary(backend.client, account=records.account) == [
        UsageSummary(records.account, "bot-a", date(2026, 11, 1), 4, 3),
        UsageSummary(records.account, "bot-b", date(2026, 12, 1), 1, 0)]
    assert usage_summary(backend.client, account=records.account, bot="bot-b") == [
        UsageSummary(records.account, "bot-b", date(2026, 12, 1), 1, 0)]


def test_billed_sessions_filter_and_sort_like_row_sort_key(backend, records):
    # Byte order of UTF-8 (ClickHouse) equals code point order (Python): mixed case and
    # non-ASCII ids must come out in row_sort_key order.
    day2 = parse_rfc3339_ms("2026-11-02T00:00:00.000Z")
    sessions = [records.usage(1, conversation=c, bot=b) for c in ("Zed", "alpha", "é", "a")
                for b in ("bot-a", "Bot-é")]
    sessions += [records.usage(2, conversation="a"), records.usage(1, conversation="a",
                                                                    start=records.t0 - MINUTE)]
    alerts = [records.alert(f"x{i}", day2 - i, bot="bot-a") for i in range(3)]
    alerts.append(records.alert("x9", records.t0, bot="Bot-é"))
    backend.write(SinkBatch(usage_changes=[SessionChange(s, 1, False) for s in sessions],
                            alert_sessions=alerts))
    everything = billed(backend, records.account)
    assert everything == sorted([*sessions, *alerts], key=row_sort_key)
    assert billed(backend, records.account, bot="Bot-é", day_from=date(2026, 11, 1),
                  day_to=date(2026, 11, 1)) == [s for s in everything if s.bot_id == "Bot-é"]
    assert billed(backend, records.account, day_from=date(2026, 11, 2)) == [alerts[0]]
    assert billed(backend, "no-such-account") == []


def test_raw_events_read_back_as_event_mappings(backend, records):
    events = [
        records.event("conversation_turn", "t1", records.t0),
        records.event("agent_handoff", "h1", records.t0 + 1, agent_id="agent-7"),
        records.event("agent_handoff", "h2", records.t0 + 2, phase="ENDED"),
        records.event("alert_delivered", "a1", records.t0 + 3, is_test=True),
        records.event("conversation_turn", "t9", records.t0 + 10, speaker="BOT"),
    ]
    batch = SinkBatch(raw_events=[RawEventRecord(e, "topic", 1, n) for n, e in enumerate(events)])
    backend.write(batch)
    backend.write(SinkBatch(raw_events=batch.raw_events[:2]))  # a redelivery
    mine = [e for e in raw_events(backend.client, start_ms=records.t0, end_ms=records.t0 + 10)
            if e["account_id"] == records.account]
    assert mine == [event_to_mapping(event_from_mapping(e)) for e in events[:4]]


def test_late_events_and_dead_letters_are_kept(backend, records):
    event = records.event("conversation_turn", "late-1", records.t0)
    topic = f"dead-{records.account}"
    backend.write(SinkBatch(
        late_events=[LateEventRecord(event, "visit closed", records.t0 + 3_600_000, "t", 0, 9)],
        dead_letters=[DeadLetterRecord(topic, 2, 40, None, b"\xc3\x01garbage", "bad", 1),
                      DeadLetterRecord(topic, 2, 41, b"k", b"", "empty", 2)]))
    late = backend.client.execute(
        "SELECT event_id, reason, watermark, payload, occurred_day FROM late_events FINAL "
        "WHERE account_id = %(a)s", {"a": records.account})
    assert late == [("late-1", "visit closed", records.t0 + 3_600_000,
                     '{"account_id": "acct", "bot_id": "bot-a", "channel": "web", '
                     '"conversation_id": "conv-1", "event_id": "late-1", "is_test": false, '
                     '"occurred_at": "2026-11-01T10:00:00.000Z", "speaker": "USER", '
                     '"type": "conversation_turn", "user_id": "u-1"}'
                     .replace('"acct"', f'"{records.account}"'), date(2026, 11, 1))]
    dead = backend.client.execute(
        "SELECT kafka_offset, hex(value), key, error FROM dead_letters FINAL "
        "WHERE kafka_topic = %(t)s ORDER BY kafka_offset", {"t": topic})
    assert dead == [(40, "C30167617262616765", None, "bad"), (41, "", "k", "empty")]


def test_stream_output_read_back_equals_replay(backend, records):
    """Every change the incremental rules emit for shuffled, redelivered events, written in
    batches: the deduplicated read equals the batch biller (what ``replay`` prints)."""
    t0 = records.t0
    plan = [("c1", 0, "USER"), ("c1", 10, "BOT"), ("c1", 31, "USER"), ("c1", 40, "BOT"),
            ("c1", 70, "USER"), ("c1", 52, "USER"), ("c2", 0, "BOT"), ("c2", 5, "USER"),
            ("c2", 30, "AGENT")]
    events = [records.event("conversation_turn", f"e{n}", t0 + minute * MINUTE,
                            conversation_id=conv, speaker=speaker)
              for n, (conv, minute, speaker) in enumerate(plan)]
    events.append(records.event("agent_handoff", "h1", t0 + 12 * MINUTE, conversation_id="c2"))
    events.append(records.event("agent_handoff", "h2", t0 + 29 * MINUTE, conversation_id="c2",
                                phase="ENDED"))
    events.append(records.event("alert_delivered", "al1", t0 + 5))
    parsed = [event_from_mapping(e) for e in events]
    biller = BatchBiller()
    expected = [s for e in sorted(parsed, key=lambda e: e.occurred_at) for s in biller.add(e)]
    expected = sorted([*expected, *biller.finish()], key=row_sort_key)

    arrivals = parsed + parsed[::3]  # redeliveries
    random.Random(7).shuffle(arrivals)
    states: dict[tuple[str, str, str], ConversationState] = {}
    fake = InMemoryStore()
    for event in arrivals:
        batch = SinkBatch(raw_events=[RawEventRecord(event_to_mapping(event), "in", 0, 0)])
        if isinstance(event, AlertDelivered):
            batch.alert_sessions.append(AlertSession(event.account_id, event.bot_id,
                                                     event.event_id, event.occurred_at))
        else:
            step = apply_event(states.get(event.key), event, timeout_ms=DEFAULT_TIMEOUT_MS,
                               grace_ms=DEFAULT_GRACE_MS)
            states[event.key] = step.state
            batch.usage_changes.extend(step.changes)
        backend.write(batch)
        fake.write_batch(batch)
    assert billed(backend, records.account) == expected
    assert fake.billed() == expected


def test_an_empty_day_range_returns_nothing(backend, records):
    backend.write(SinkBatch(usage_changes=[SessionChange(records.usage(1), 1, False)]))
    assert billed(backend, records.account, day_from=date(2026, 11, 2),
                  day_to=date(2026, 11, 1)) == []


def _snapshot(records, revision, closed_end=-1, conversation="conv-1", bot="bot-a"):
    return UsageSnapshot(records.account, bot, conversation, revision, closed_end)


def test_a_newer_snapshot_supersedes_sessions_it_does_not_carry(backend, records):
    # a history lost in a crash billed a visit at t0 (revision 3); the recovered history
    # saw the same events in another order and billed it from t0 + 1 min (revision 4)
    lost = records.usage(1, start=records.t0)
    kept = records.usage(1, start=records.t0 + MINUTE)
    backend.write(SinkBatch(usage_changes=[SessionChange(lost, 3, False)],
                            usage_snapshots=[_snapshot(records, 3)]))
    assert billed(backend, records.account) == [lost]
    backend.write(SinkBatch(usage_changes=[SessionChange(kept, 4, False)],
                            usage_snapshots=[_snapshot(records, 4)]))
    assert billed(backend, records.account) == [kept]
    # an older snapshot arriving late (a redelivery) changes nothing
    backend.write(SinkBatch(usage_changes=[SessionChange(lost, 3, False)],
                            usage_snapshots=[_snapshot(records, 3)]))
    assert billed(backend, records.account) == [kept]


def test_a_snapshot_leaves_closed_visits_and_other_conversations_alone(backend, records):
    closed = records.usage(1, start=records.t0)  # its visit closed: not re-sent any more
    other = records.usage(1, start=records.t0 + 5 * MINUTE, conversation="conv-2")
    newer = records.usage(1, start=records.t0 + 90 * MINUTE)
    backend.write(SinkBatch(usage_changes=[SessionChange(closed, 2, False),
                                           SessionChange(other, 1, False)],
                            usage_snapshots=[_snapshot(records, 2),
                                             _snapshot(records, 1, conversation="conv-2")]))
    backend.write(SinkBatch(usage_changes=[SessionChange(newer, 9, False)],
                            usage_snapshots=[_snapshot(records, 9, closed_end=closed.
                                                       conversation_session_end)]))
    assert billed(backend, records.account) == sorted([closed, other, newer], key=row_sort_key)


def test_sessions_without_any_snapshot_are_billed_as_before(backend, records):
    backend.write(SinkBatch(usage_changes=[SessionChange(records.usage(1), 1, False)]))
    assert billed(backend, records.account) == [records.usage(1)]


def test_the_in_memory_store_supersedes_like_the_query(records):
    store = InMemoryStore()
    lost = records.usage(1, start=records.t0)
    kept = records.usage(1, start=records.t0 + MINUTE)
    store.write_batch(SinkBatch(usage_changes=[SessionChange(lost, 3, False)],
                                usage_snapshots=[_snapshot(records, 3)]))
    store.write_batch(SinkBatch(usage_changes=[SessionChange(kept, 4, False)],
                                usage_snapshots=[_snapshot(records, 4)]))
    assert store.billed() == [kept]


def test_the_finance_views_leave_superseded_sessions_out(backend, records):
    lost = records.usage(1, start=records.t0, conversation="c9")
    kept = records.usage(1, start=records.t0 + MINUTE, conversation="c9")
    backend.write(SinkBatch(usage_changes=[SessionChange(lost, 3, False)],
                            usage_snapshots=[_snapshot(records, 3, conversation="c9")]))
    backend.write(SinkBatch(usage_changes=[SessionChange(kept, 4, False)],
                            usage_snapshots=[_snapshot(records, 4, conversation="c9")]))
    daily = backend.client.execute(
        "SELECT bot_id, day, usage_sessions FROM bot_usage_daily "
        "WHERE account_id = %(a)s ORDER BY bot_id, day", {"a": records.account})
    assert daily == [("bot-a", date(2026, 11, 1), 1)]
    assert [s.usage_sessions for s in usage_summary(backend.client,
                                                    account=records.account)] == [1]
