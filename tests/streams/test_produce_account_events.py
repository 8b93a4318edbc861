"""``botbill produce --from`` routes account events (MONEY_RULES §1) from the same JSON Lines
files as usage events to ``account-events``, keyed by ``bot_id``; a record of the wrong shape
is skipped naming its line and field (Kafka replaced by a recorder: the bytes are the
codec's, decoded back here)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, AvroCodec
from botbill.streams import topic_names
from botbill.streams.produce import EventProducer, send_files
from tests.examples_dir import EXAMPLES


class Recorder(EventProducer):
    def __init__(self) -> None:  # no Kafka: keep what would be sent
        self.codec = AvroCodec()
        self.sent_messages: list[tuple[str, bytes | None, bytes]] = []

    def send_raw(self, topic, key, value, label=""):
        self.sent_messages.append((topic, key, value))


LINES = [
    {"type": "bot_registered", "event_id": "e1", "occurred_at": "2026-01-10T00:00:00.000Z",
     "account_id": "a", "bot_id": "bot-1", "plan_id": "standard", "owner_user_id": "o1"},
    {"type": "conversation_turn", "event_id": "e2", "occurred_at": "2026-01-10T00:01:00.000Z",
     "account_id": "a", "bot_id": "bot-1", "conversation_id": "c1", "user_id": "u",
     "channel": "web", "speaker": "USER"},
    {"type": "order_placed", "event_id": "e3", "occurred_at": "2026-01-10T00:02:00.000Z",
     "account_id": "a", "bot_id": "bot-1", "order_id": "o1", "amount_cents": 50,
     "payment_method": "card"},
    {"type": "order_placed", "event_id": "e4", "occurred_at": "2026-01-10T00:03:00.000Z",
     "account_id": "a", "bot_id": "bot-1", "order_id": "o2", "amount_cents": 10_000,
     "payment_method": "cash"},
    {"type": "credits_granted", "event_id": "e5", "occurred_at": "2026-01-10T00:04:00.000Z",
     "account_id": "a", "bot_id": "bot-2", "grant_id": "g1", "amount_cents": 700,
     "expires_at": "2026-02-10T00:00:00.000Z"},
]


def test_account_events_go_to_their_topic_keyed_by_bot(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    producer = Recorder()
    errors = io.StringIO()
    assert send_files(producer, [str(path)], errors=errors) == 1
    assert f"{path}:4" in errors.getvalue() and "payment_method" in errors.getvalue()
    account = [(key, AvroCodec().decode(value)) for topic, key, value
               in producer.sent_messages if topic == topic_names.ACCOUNT_EVENTS]
    assert [(key, name, record["event_id"]) for key, (name, record) in account] == [
        (b"bot-1", "BotRegistered", "e1"),
        (b"bot-1", "OrderPlaced", "e3"),  # under the minimum: the balance agent refuses it
        (b"bot-2", "CreditsGranted", "e5")]
    assert account[2][1][1]["expires_at"] == 1_770_681_600_000
    assert account[0][1][1]["occurred_at"] == 1_768_003_200_000
    others = [topic for topic, _, _ in producer.sent_messages
              if topic != topic_names.ACCOUNT_EVENTS]
    assert others == [topic_names.CONVERSATION_TURNS]


@pytest.mark.integration
def test_produce_from_the_money_example_fills_account_events(stack, tmp_path):
    """The real command on the real Kafka: every account event of the worked example lands on
    ``<prefix>account-events``, keyed by its bot, decodable by the codec."""
    prefix = f"test-produce-{uuid.uuid4().hex[:8]}-"
    env = {**os.environ, "BOTBILL_TOPIC_PREFIX": prefix,
           "BOTBILL_KAFKA_BOOTSTRAP": stack.kafka_bootstrap, "BOTBILL_PARTITIONS": "2"}
    example = EXAMPLES / "money" / "events.jsonl"
    expected = [json.loads(line) for line in example.read_text().splitlines() if line.strip()]
    expected = [r for r in expected if r["type"] in ACCOUNT_EVENT_SCHEMAS]
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    try:
        for args in (["topics", "create"], ["produce", "--from", str(example)]):
            subprocess.run([sys.executable, "-m", "botbill", *args], env=env, check=True,
                           capture_output=True, timeout=300)
        consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap,
                             "group.id": f"{prefix}check", "auto.offset.reset": "earliest"})
        consumer.subscribe([f"{prefix}account-events"])
        got = []
        deadline = time.monotonic() + 60
        while len(got) < len(expected) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got.append((message.key(), *AvroCodec().decode(message.value())))
        consumer.close()
    finally:
        names = [n for n in admin.list_topics(timeout=30).topics if n.startswith(prefix)]
        if names:
            for future in admin.delete_topics(names, operation_timeout=60).values():
                future.result()
    assert len(got) == len(expected) > 30
    assert sorted((r["event_id"], r["bot_id"].encode(), ACCOUNT_EVENT_SCHEMAS[r["type"]])
                  for r in expected) == sorted((rec["event_id"], key, name)
                                               for key, name, rec in got)
