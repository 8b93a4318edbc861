"""``streams.sink``: Kafka messages of every sink topic -> a :class:`SinkBatch`, and the
writer's pin / retry / release order, over an in-memory store and fake messages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson
import pytest

from botbill.billing_rules.events import event_from_mapping, event_to_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.schemas.codec import AvroCodec
from botbill.sinks.exceptions import SinkUnavailable
from botbill.sinks.store import DeadLetterRecord, InMemoryStore, LateEventRecord, SinkBatch
from botbill.streams import topic_names as topics
from botbill.streams.handlers import OCCURRED_AT_HEADER
from botbill.streams.health import Progress
from botbill.streams.metrics import Metrics
from botbill.streams.sink import SinkWriter, build_batch
from tests.streams.conftest import (
    MINUTE,
    T0,
    TOPIC_OF,
    EventFactory,
    FakeEvent,
    FakeMessage,
    MessageFactory,
    encode_event,
)

SESSION = UsageSession("acct-1", "bot-a", "c1", "web", "u-1", T0, T0 + 20 * MINUTE, 2,
                       T0 + 15 * MINUTE, T0 + 20 * MINUTE)
ALERT = AlertSession("acct-1", "bot-a", "a-7", T0 + 3 * MINUTE)


# --- output-topic records, written as the handlers' counterparts would -------------------

def usage_message(codec: AvroCodec, make: MessageFactory, change: SessionChange,
                  headers: Any) -> FakeMessage:
    s = change.session
    record = {"account_id": s.account_id, "bot_id": s.bot_id,
              "conversation_id": s.conversation_id, "channel": s.channel,
              "user_id": s.user_id, "conversation_session_start": s.conversation_session_start,
              "conversation_session_end": s.conversation_session_end,
              "session_index": s.session_index,
              "billing_session_start": s.billing_session_start,
              "billing_session_end": s.billing_session_end,
              "revision": change.revision, "voided": change.voided}
    return make(topics.USAGE_SESSIONS, codec.encode("UsageSessionChange", record),
                key=s.bot_id.encode(), headers=headers)


def alert_message(codec: AvroCodec, make: MessageFactory, alert: AlertSession) -> FakeMessage:
    record = {"account_id": alert.account_id, "bot_id": alert.bot_id,
              "event_id": alert.event_id, "delivered_at": alert.delivered_at}
    return make(topics.ALERT_SESSIONS, codec.encode("AlertSession", record),
                key=alert.bot_id.encode())


def dead_letter_record(**overrides: Any) -> dict[str, Any]:
    return {"source_topic": topics.CONVERSATION_TURNS, "source_partition": 2,
            "source_offset": 77, "key": b"c9", "value": b"\x00\x01junk",
            "error": "unknown framing", "failed_at": T0, **overrides}


@pytest.fixture
def messages_of_every_topic(codec: AvroCodec, events: EventFactory,
                            make_message: MessageFactory) -> dict[str, Any]:
    """One message per sink topic (three inputs), with what each must become."""
    turn, handoff, alert = events.turn(1, "USER"), events.handoff(2, "STARTED"), events.alert(3)
    late = events.turn(0.5, "BOT")
    change = SessionChange(SESSION, 3, True)
    late_record = {"event_type": "conversation_turn", "event_id": late.event_id,
                   "account_id": "acct-1", "bot_id": "bot-a", "conversation_id": "c1",
                   "occurred_at": late.occurred_at, "reason": "its visit is closed",
                   "watermark": T0 + 40 * MINUTE,
                   "payload": orjson.dumps(event_to_mapping(late)).decode()}
    return {
        "inputs": [(event, make_message(TOPIC_OF[event.type], encode_event(codec, event)))
                   for event in (turn, handoff, alert)],
        "usage": (change, usage_message(codec, make_message, change,
                                        [(OCCURRED_AT_HEADER, b"1234")])),
        "alert": (ALERT, alert_message(codec, make_message, ALERT)),
        "late": (late, late_record, make_message(
            topics.LATE_EVENTS, codec.encode("LateEvent", late_record))),
        "dead": make_message(topics.DEAD_LETTERS,
                             codec.encode("DeadLetter", dead_letter_record())),
    }


def all_messages(m: dict[str, Any]) -> list[FakeMessage]:
    return [*(msg for _, msg in m["inputs"]), m["usage"][1], m["alert"][1], m["late"][2],
            m["dead"]]


# --- build_batch -------------------------------------------------------------------------

def test_every_sink_topic_lands_in_its_list(codec: AvroCodec,
                                            messages_of_every_topic: dict[str, Any]) -> None:
    m = messages_of_every_topic
    batch, occurred = build_batch(codec, all_messages(m))

    assert [(r.topic, r.partition, r.offset) for r in batch.raw_events] == \
        [(msg.topic, msg.partition, msg.offset) for _, msg in m["inputs"]]
    assert [event_from_mapping(r.event) for r in batch.raw_events] == \
        [event for event, _ in m["inputs"]]
    turn = m["inputs"][0][0]
    assert batch.raw_events[0].event == {
        "type": "conversation_turn", "event_id": turn.event_id, "account_id": "acct-1",
        "bot_id": "bot-a", "occurred_at": T0 + MINUTE, "conversation_id": "c1",
        "user_id": "u-1", "channel": "web", "speaker": "USER", "is_test": False}

    assert batch.usage_changes == [SessionChange(SESSION, 3, True)]
    assert batch.alert_sessions == [ALERT]
    late, _, late_msg = m["late"]
    assert batch.late_events == [LateEventRecord(
        event_to_mapping(late), "its visit is closed", T0 + 40 * MINUTE, topics.LATE_EVENTS,
        late_msg.partition, late_msg.offset)]
    assert event_from_mapping(batch.late_events[0].event) == late
    assert batch.dead_letters == [DeadLetterRecord(
        topics.CONVERSATION_TURNS, 2, 77, b"c9", b"\x00\x01junk", "unknown framing", T0)]
    assert len(batch) == 7
    assert sorted(occurred) == sorted([1234, ALERT.delivered_at])


def test_occurred_at_headers_are_read_as_a_list_or_a_dict(
        codec: AvroCodec, make_message: MessageFactory) -> None:
    change = SessionChange(SESSION, 1, False)
    as_list = usage_message(codec, make_message, change, [(OCCURRED_AT_HEADER, b"5"),
                                                          ("other", b"x")])
    as_dict = usage_message(codec, make_message, change, {OCCURRED_AT_HEADER: b"6"})
    none = usage_message(codec, make_message, change, None)
    _, occurred = build_batch(codec, [as_list, as_dict, none])
    assert sorted(occurred) == [5, 6]


def test_an_undecodable_output_message_becomes_a_dead_letter(
        codec: AvroCodec, make_message: MessageFactory) -> None:
    garbage = make_message(topics.USAGE_SESSIONS, b"\x07 not avro", key=b"bot-a",
                           partition=3)
    before = int(time.time() * 1000)
    batch, occurred = build_batch(codec, [garbage])
    assert (batch.raw_events, batch.usage_changes, occurred) == ([], [], [])
    [dead] = batch.dead_letters
    assert (dead.topic, dead.partition, dead.offset, dead.key, dead.value) == \
        (topics.USAGE_SESSIONS, 3, garbage.offset, b"bot-a", b"\x07 not avro")
    assert "framing" in dead.error
    assert before <= dead.failed_at <= int(time.time() * 1000)


@pytest.mark.parametrize("topic", [topics.USAGE_SESSIONS, topics.ALERT_SESSIONS,
                                   topics.LATE_EVENTS, topics.DEAD_LETTERS])
def test_a_null_output_message_becomes_a_dead_letter(
        topic: str, codec: AvroCodec, make_message: MessageFactory) -> None:
    batch, _ = build_batch(codec, [make_message(topic, None)])
    assert [(d.topic, d.value) for d in batch.dead_letters] == [(topic, b"")]


@pytest.mark.parametrize(("topic", "schema", "record"), [
    (topics.USAGE_SESSIONS, "AlertSession", {"account_id": "a", "bot_id": "b",
                                             "event_id": "e", "delivered_at": 1}),
    (topics.ALERT_SESSIONS, "DeadLetter", dead_letter_record()),
    (topics.LATE_EVENTS, "AlertSession", {"account_id": "a", "bot_id": "b",
                                          "event_id": "e", "delivered_at": 1}),
    (topics.DEAD_LETTERS, "AlertSession", {"account_id": "a", "bot_id": "b",
                                           "event_id": "e", "delivered_at": 1}),
])
def test_a_record_of_the_wrong_schema_on_an_output_topic_becomes_a_dead_letter(
        topic: str, schema: str, record: dict[str, Any], codec: AvroCodec,
        make_message: MessageFactory) -> None:
    message = make_message(topic, codec.encode(schema, record))
    batch, _ = build_batch(codec, [message])
    assert [(d.topic, d.offset) for d in batch.dead_letters] == [(topic, message.offset)]
    assert len(batch) == 1


@pytest.mark.parametrize("value", [b"\x07garbage", b"", None])
def test_an_invalid_input_message_is_left_to_the_sessionizer(
        value: bytes | None, codec: AvroCodec, make_message: MessageFactory) -> None:
    batch, occurred = build_batch(codec, [make_message(topics.CONVERSATION_TURNS, value),
                                          make_message(topics.ALERTS_DELIVERED, value)])
    assert len(batch) == 0 and occurred == []


# --- SinkWriter --------------------------------------------------------------------------

class InstantStop(threading.Event):
    """``writer.stopping`` whose waits return at once (recorded), so retries do not sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(0.0 if timeout is None else timeout)
        return self.is_set()


class PinWatchingStore(InMemoryStore):
    """Records, at every write attempt, how many pins each message holds."""

    def __init__(self, messages: Sequence[FakeMessage], *, failures: int = 0) -> None:
        super().__init__(failures=failures)
        self.messages = messages
        self.pins_seen: list[list[int]] = []

    def write_batch(self, batch: SinkBatch) -> None:
        self.pins_seen.append([m.refcount for m in self.messages])
        super().write_batch(batch)


@pytest.fixture
def make_writer(codec: AvroCodec,
                metrics: Metrics) -> Callable[[InMemoryStore], tuple[SinkWriter, Progress]]:
    def make(store: InMemoryStore) -> tuple[SinkWriter, Progress]:
        progress = Progress({"sink": topics.SINK_TOPICS}, 60.0, time.monotonic())
        writer = SinkWriter(store, codec, metrics, progress)
        writer.stopping = InstantStop()
        return writer, progress
    return make


def highwaters(messages: Sequence[FakeMessage]) -> dict[tuple[str, int], int]:
    marks: dict[tuple[str, int], int] = {}
    for m in messages:
        marks[m.topic, m.partition] = max(marks.get((m.topic, m.partition), 0), m.offset + 1)
    return marks


def counter(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_a_batch_is_retried_until_stored_once_then_unpinned(
        make_writer: Callable[[InMemoryStore], tuple[SinkWriter, Progress]],
        messages_of_every_topic: dict[str, Any], metrics: Metrics) -> None:
    messages = all_messages(messages_of_every_topic)
    store = PinWatchingStore(messages, failures=2)
    writer, progress = make_writer(store)
    assert progress.lag(highwaters(messages))["sink"] > 0

    asyncio.run(writer.write([FakeEvent(m) for m in messages]))

    assert store.pins_seen == [[1] * len(messages)] * 3  # pinned during every attempt
    assert [m.refcount for m in messages] == [0] * len(messages)  # released after
    assert [m.increfs for m in messages] == [1] * len(messages)
    assert len(store.batches) == 1 and len(store.batches[0]) == len(messages)
    assert store.billed() == [ALERT]  # the one usage change is a void
    assert counter(metrics, "botbill_sink_errors_total") == 2
    assert counter(metrics, "botbill_sink_retries_total") == 2
    assert len(writer.stopping.waits) == 2  # type: ignore[attr-defined]
    assert writer.failing_since is None
    assert progress.lag(highwaters(messages)) == {"sink": 0}
    assert counter(metrics, "botbill_sink_rows_total", table="raw_events") == 3
    for table in ("usage_sessions", "alert_sessions", "late_events", "dead_letters"):
        assert counter(metrics, "botbill_sink_rows_total", table=table) == 1
    assert counter(metrics, "botbill_end_to_end_latency_seconds_count") == 2
    assert counter(metrics, "botbill_sink_batch_seconds_count") == 1


def test_a_batch_never_stored_keeps_its_pins(
        make_writer: Callable[[InMemoryStore], tuple[SinkWriter, Progress]],
        messages_of_every_topic: dict[str, Any], metrics: Metrics) -> None:
    messages = all_messages(messages_of_every_topic)
    store = PinWatchingStore(messages, failures=5)
    writer, progress = make_writer(store)
    lag = progress.lag(highwaters(messages))
    writer.stopping.set()  # shutting down: the write gives up instead of waiting

    with pytest.raises(SinkUnavailable):
        asyncio.run(writer.write([FakeEvent(m) for m in messages]))

    assert store.batches == []
    assert [m.refcount for m in messages] == [1] * len(messages)  # Faust cannot commit them
    assert progress.lag(highwaters(messages)) == lag  # the sink did not move
    assert counter(metrics, "botbill_sink_rows_total", table="raw_events") == 0


def test_writing_the_same_messages_twice_bills_the_same(
        make_writer: Callable[[InMemoryStore], tuple[SinkWriter, Progress]],
        codec: AvroCodec, make_message: MessageFactory) -> None:
    older = SessionChange(SESSION, 2, False)
    newer = SessionChange(replace(SESSION, conversation_session_end=T0 + 25 * MINUTE,
                                  billing_session_end=T0 + 25 * MINUTE), 5, False)
    messages = [usage_message(codec, make_message, c, None) for c in (newer, older)]
    store = InMemoryStore()
    writer, _ = make_writer(store)
    asyncio.run(writer.write([FakeEvent(m) for m in messages]))
    once = store.billed()
    asyncio.run(writer.write([FakeEvent(m) for m in messages]))  # redelivered after a crash
    assert store.billed() == once == [newer.session]


# --- account events: archived as they are (the money jobs recompute from the archive) ------

def test_account_events_are_archived_and_junk_goes_to_the_dead_letters(
        codec: AvroCodec, make_message: MessageFactory) -> None:
    record = {"event_id": "e-1", "account_id": "acct-1", "bot_id": "bot-a", "occurred_at": T0,
              "grant_id": "promo-1", "amount_cents": 500, "expires_at": None}
    good = make_message(topics.ACCOUNT_EVENTS, codec.encode("CreditsGranted", record),
                        key=b"bot-a")
    wrong = make_message(topics.ACCOUNT_EVENTS, codec.encode("AlertSession", {
        "account_id": "acct-1", "bot_id": "bot-a", "event_id": "a-1", "delivered_at": T0}))
    junk = make_message(topics.ACCOUNT_EVENTS, b"\x00junk")
    batch, _ = build_batch(codec, [good, wrong, junk])
    assert [a.record for a in batch.account_events] == [{"type": "credits_granted", **record}]
    assert (batch.account_events[0].topic, batch.account_events[0].offset) == (
        good.topic, good.offset)
    assert [(d.offset, d.error.startswith("not a valid account event"))
            for d in batch.dead_letters] == [(wrong.offset, True), (junk.offset, True)]
    assert len(batch) == 3


def test_a_snapshot_marker_becomes_a_usage_snapshot_not_a_session(
        codec: AvroCodec, events: EventFactory, make_message: MessageFactory) -> None:
    from botbill.sinks.store import UsageSnapshot
    from botbill.streams.handlers import ConversationHandler
    from botbill.streams.metrics import Metrics
    from botbill.streams.settings import WorkerSettings

    handler = ConversationHandler(codec, WorkerSettings(), Metrics())
    _, out = handler.handle(events.turn(0, "USER"), None, -(2**62), topics.CONVERSATION_TURNS)
    messages = [make_message(m.topic, m.value, key=m.key, headers=list(m.headers))
                for m in out]
    batch, _ = build_batch(codec, messages)
    assert [c.session.session_index for c in batch.usage_changes] == [1]
    assert batch.usage_snapshots == [UsageSnapshot("acct-1", "bot-a", "c1", 1, -1)]
