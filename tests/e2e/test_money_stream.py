"""Acceptance of the balance agent on the real Kafka and ClickHouse: a generated multi-month
money scenario (``money_scenario``) through ``botbill produce --from`` and ``botbill
worker``. The agent's balance rows equal ``botbill replay --balances --as-of`` (the agent's
event time) row for row, the ledger adds up to them, every notification is sent exactly
once, rule breaks reach the dead letters, and a debit that empties a wallet stops the bot
on ``bot-entitlements`` within 2 s of its session reaching ``usage-sessions``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.catalog import catalog_from_mapping
from botbill.billing_rules.money import Notification, run_books
from botbill.billing_rules.sessions import AlertSession, UsageSession
from botbill.billing_rules.timeutil import format_ms, parse_rfc3339_ms
from botbill.jobs.replay_money import session_charge
from botbill.schemas.codec import AvroCodec
from botbill.sinks import connect
from botbill.sinks.money import read_balances
from tests.e2e.money_scenario import CATALOG, END, LAST_BOT, generate
from tests.e2e.pipeline import Pipeline, write_events

pytestmark = pytest.mark.integration

SETTLE_MS = 20 * 60_000  # notifications wait T (15 min) + grace (5 min) behind event time
REGISTERED = 9  # the scenario's registered bots


@pytest.fixture(scope="module")
def pipeline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("catalog") / "catalog.json"
    path.write_text(json.dumps(CATALOG))
    # the agent's own rows are checked: no plan-status ticks (as of the wall clock) over them
    return {"BOTBILL_CATALOG": str(path), "BOTBILL_IDLE_INPUT": "2s",
            "BOTBILL_JOBS_INTERVAL": "0"}


@pytest.fixture(scope="module")
def scenario(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario, sent once and processed (every balance row as of the final tick)."""
    path = write_events(tmp_path_factory.mktemp("money") / "events.jsonl", generate())
    pipeline.produce_file(path)

    def all_rows_at_the_end() -> bool:
        rows = _agent_rows(pipeline)
        return len(rows) == REGISTERED and {r["as_of"] for r in rows} == {format_ms(END)}

    pipeline.wait_until(all_rows_at_the_end, 240, "every bot's balance row as of the tick", 2)
    time.sleep(3)  # the timer's last due recomputes (notifications that settled)
    return path


def _agent_rows(pipeline: Pipeline) -> list[dict[str, Any]]:
    client = connect(pipeline.url)
    try:
        return [b.to_row() for b in read_balances(client)]
    finally:
        client.disconnect()


def _replay(pipeline: Pipeline, path: Path, as_of: str, tmp: Path,
            ) -> tuple[list[dict[str, Any]], list[Any]]:
    """``botbill replay --balances --as-of``: rows, and the sessions it billed."""
    balances, sessions = tmp / "balances.jsonl", tmp / "sessions.jsonl"
    pipeline.botbill("replay", str(path), "--as-of", as_of, "--balances", str(balances),
                     "--output", str(sessions))
    rows = [orjson.loads(line) for line in balances.read_bytes().splitlines()]
    billed: list[Any] = []
    for line in sessions.read_bytes().splitlines():
        record = orjson.loads(line)
        kind = record.pop("kind")
        for name in list(record):
            if isinstance(record[name], str) and name.endswith(("_start", "_end", "_at")):
                record[name] = parse_rfc3339_ms(record[name])
        billed.append(AlertSession(**record) if kind == "alert" else UsageSession(**record))
    return rows, billed


def test_balance_rows_equal_replay_row_for_row(pipeline: Pipeline, scenario: Path,
                                               tmp_path: Path) -> None:
    agent = _agent_rows(pipeline)
    expected, _ = _replay(pipeline, scenario, format_ms(END), tmp_path)
    assert agent == expected
    # the ledger rows of each bot add up to its balance
    sums = dict(((a, b), s) for a, b, s in pipeline.query(
        "SELECT account_id, bot_id, sum(amount_cents) FROM wallet_ledger FINAL "
        "GROUP BY account_id, bot_id"))
    for row in agent:
        assert sums.get((row["account_id"], row["bot_id"]), 0) == row["balance_cents"], row


def test_balances_export_equals_replay_row_for_row(pipeline: Pipeline, scenario: Path,
                                                   tmp_path: Path) -> None:
    """The read side: ``balances export`` recomputes from what the sink archived in
    ClickHouse (account events, billed sessions), at any instant, as replay does."""
    exported = tmp_path / "exported.jsonl"

    def export(as_of: str) -> list[dict[str, Any]]:
        pipeline.botbill("balances", "export", "--as-of", as_of, "--output", str(exported))
        return [orjson.loads(line) for line in exported.read_bytes().splitlines()]

    for as_of in (format_ms(END), format_ms(END - 45 * 86_400_000)):
        expected, _ = _replay(pipeline, scenario, as_of, tmp_path)
        assert len(expected) >= 5
        deadline = time.monotonic() + 60  # the sink may still be writing its last batch
        rows = export(as_of)
        while rows != expected and time.monotonic() < deadline:
            time.sleep(2)
            rows = export(as_of)
        assert rows == expected, as_of


def test_every_notification_exactly_once(pipeline: Pipeline, scenario: Path,
                                         tmp_path: Path) -> None:
    _, billed = _replay(pipeline, scenario, format_ms(END), tmp_path)
    records = [line for line in generate() if line["type"] not in (
        "conversation_turn", "agent_handoff", "alert_delivered")]
    moves: list[Any] = [account_event_from_mapping(r) for r in records]
    moves += [session_charge(s) for s in billed]
    _, outputs = run_books(moves, END, catalog_from_mapping(CATALOG))
    want = {o.notification_id for o in outputs
            if isinstance(o, Notification) and o.at <= END - SETTLE_MS}
    assert len(want) > 10  # the scenario's transitions: low balance, suspensions, trials...
    codec = AvroCodec()
    sent = [codec.decode(value)[1]["notification_id"]
            for _, value in pipeline.read_topic("notifications")]
    assert len(sent) == len(set(sent)), "a notification was sent twice"
    assert set(sent) == want
    stored = pipeline.query("SELECT notification_id, count() FROM notifications FINAL "
                            "GROUP BY notification_id")
    assert {n for n, _ in stored} == want and {c for _, c in stored} == {1}


def test_rule_breaks_reach_the_dead_letters_with_their_reason(pipeline: Pipeline,
                                                              scenario: Path) -> None:
    def rejected() -> list[str] | None:
        found = [e for (e,) in pipeline.query(
            "SELECT error FROM dead_letters FINAL WHERE kafka_topic = %(t)s",
            {"t": pipeline.topic("account-events")})]
        return found if len(found) >= 5 else None

    errors = pipeline.wait_until(rejected, 60, "the 5 rejected account events")
    assert len(errors) == 5
    assert sum("not registered" in e for e in errors) == 2
    assert any("under the minimum" in e for e in errors)
    assert any("o-nowhere" in e for e in errors) and any("'r9'" in e for e in errors)
    assert pipeline.metric("botbill_balance_rejections_total", kind="rule") == 5


def test_a_bot_is_on_one_partition_of_every_balance_input(pipeline: Pipeline,
                                                           scenario: Path) -> None:
    """``botbill produce`` (confluent-kafka) and the worker (Faust) partition a ``bot_id``
    key alike, so one balance agent holds all of a bot's inputs."""
    partitions: dict[bytes, set[int]] = {}
    consumer = Consumer({"bootstrap.servers": pipeline.bootstrap, "group.id": "partitions",
                         "enable.auto.commit": False})
    try:
        for topic in ("usage-sessions", "alert-sessions", "account-events"):
            name = pipeline.topic(topic)
            for p in consumer.list_topics(name, timeout=10).topics[name].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                consumer.assign([TopicPartition(name, p, low)])
                read = low
                while read < high:
                    message = consumer.poll(5)
                    assert message is not None and message.error() is None
                    partitions.setdefault(message.key(), set()).add(p)
                    read = message.offset() + 1
    finally:
        consumer.close()
    assert len(partitions) >= 10
    assert {key: parts for key, parts in partitions.items() if len(parts) > 1} == {}
    assert len({p for parts in partitions.values() for p in parts}) > 1  # really spread


def test_a_debit_that_empties_the_wallet_stops_the_bot_within_2s(
        pipeline: Pipeline, scenario: Path, tmp_path: Path) -> None:
    """``bot-last`` has 20 left; one more usage session suspends it. Timed from the moment
    the session is readable on usage-sessions to the moment ``allowed = false`` is readable
    on bot-entitlements, by a consumer of both (wall clock), and by the brokers' record
    timestamps."""
    codec = AvroCodec()
    sessions, entitlements = (pipeline.topic("usage-sessions"),
                              pipeline.topic("bot-entitlements"))
    consumer = Consumer({"bootstrap.servers": pipeline.bootstrap, "group.id": "latency",
                         "enable.auto.commit": False})
    partitions = [TopicPartition(topic, p, OFFSET_END) for topic in (sessions, entitlements)
                  for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
    consumer.assign(partitions)
    time.sleep(4)  # the inputs go idle (2 s): event time follows the next session alone
    account_id, bot_id = LAST_BOT
    turn = {"type": "conversation_turn", "event_id": "latency-1", "account_id": account_id,
            "bot_id": bot_id, "conversation_id": "latency", "user_id": "u", "channel": "web",
            "speaker": "USER", "occurred_at": END + 3_600_000}
    pipeline.produce_file(write_events(tmp_path / "turn.jsonl", [turn]))
    seen_session = seen_stop = None
    deadline = time.monotonic() + 60
    try:
        while seen_stop is None and time.monotonic() < deadline:
            message = consumer.poll(0.02)
            if message is None or message.error() is not None:
                continue
            record = codec.decode(message.value())[1]
            if record.get("bot_id") != bot_id:
                continue
            if message.topic() == sessions and seen_session is None:
                seen_session = (time.monotonic(), message.timestamp()[1])
            elif message.topic() == entitlements and record["allowed"] is False:
                seen_stop = (time.monotonic(), message.timestamp()[1])
                assert record["status"] == "suspended" and record["reason"]
    finally:
        consumer.close()
    assert seen_session is not None, "the session never reached usage-sessions"
    assert seen_stop is not None, f"no allowed=false for {bot_id} within 60 s"
    wall = seen_stop[0] - seen_session[0]
    broker_ms = seen_stop[1] - seen_session[1]
    print(f"entitlement latency: {wall * 1000:.0f} ms observed, {broker_ms} ms by timestamps")
    assert wall <= 2.0 and broker_ms <= 2000


def test_a_restart_recovers_the_state_and_sends_nothing_twice(
        pipeline: Pipeline, scenario: Path, tmp_path: Path) -> None:
    """After a clean restart the agent's table comes back from its changelog: one more
    account event of a bot recomputes it from all its history, and nothing written before
    is written again (no notification twice, the balance row as replay's)."""
    codec = AvroCodec()

    def sent() -> list[str]:
        return [codec.decode(v)[1]["notification_id"]
                for _, v in pipeline.read_topic("notifications")]

    before = sent()
    pipeline.stop_worker()
    pipeline.start_worker()
    account_id, bot_id = "acct-a", "bot-dry"
    at = END + 2 * 3_600_000
    pipeline.produce_file(write_events(tmp_path / "more.jsonl", [{
        "type": "owner_changed", "event_id": "after-restart", "account_id": account_id,
        "bot_id": bot_id, "occurred_at": at, "owner_user_id": "o-new"}]))

    def recomputed() -> dict[str, Any] | None:
        rows = [r for r in _agent_rows(pipeline) if r["bot_id"] == bot_id]
        return rows[0] if rows and rows[0]["as_of"] == format_ms(at) else None

    row = pipeline.wait_until(recomputed, 120, f"{bot_id} recomputed after the restart")
    time.sleep(2)
    after = sent()
    assert len(after) == len(set(after)), "a notification was sent again after the restart"
    assert set(before) <= set(after)
    files = [scenario, write_events(tmp_path / "more2.jsonl", [{
        "type": "owner_changed", "event_id": "after-restart", "account_id": account_id,
        "bot_id": bot_id, "occurred_at": at, "owner_user_id": "o-new"}])]
    done = pipeline.botbill("replay", *map(str, files), "--as-of", format_ms(at),
                            "--balances", str(tmp_path / "b.jsonl"), "--output",
                            str(tmp_path / "s.jsonl"))
    assert done.returncode == 0
    expected = [orjson.loads(line) for line in (tmp_path / "b.jsonl").read_bytes().splitlines()]
    assert row in expected
