"""The Faust agents of ``streams.app.create_app``, run with Faust's in-memory test context:
no broker, no ClickHouse. Messages go in on the agents' channels with their real topic
names; what the agents send is caught by a fake producer, and the sink writes to an
in-memory store (``streams.app.ClickHouseStore`` is replaced for the test)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, cast

import faust
import orjson
import pytest
from faust.types import Message

from botbill.billing_rules.events import ConversationEvent, event_from_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.billing_rules.visits import bill_conversation
from botbill.schemas.codec import AvroCodec
from botbill.sinks.store import InMemoryStore
from botbill.streams import app as app_module
from botbill.streams import topic_names as topics
from botbill.streams.app import create_app
from botbill.streams.health import Progress
from botbill.streams.metrics import Metrics
from botbill.streams.settings import WorkerSettings
from tests.streams.conftest import (
    TOPIC_OF,
    EventFactory,
    encode_event,
    replacing_merge,
    sample,
)

SESSIONIZER = "botbill.streams.app.sessionize"
ALERTS = "botbill.streams.app.bill_alerts"
SINK = "botbill.streams.app.sink"
BALANCE = "botbill.streams.balance_agent.balance"


class Sent(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Any
    partition: int | None


class FakeProducer:
    """Stands in for Faust's producer: records what would have gone to Kafka."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def maybe_start(self) -> None:
        return None

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None = None, timestamp: float | None = None,
                   headers: Any = None, **_: Any) -> asyncio.Future[None]:
        self.sent.append(Sent(topic, key, value, headers, partition))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> None:
        await (await self.send(*args, **kwargs))

    def send_soon(self, fut: Any) -> None:  # table changelogs
        m = fut.message
        self.sent.append(Sent(m.channel.get_topic_name(), m.key, m.value, m.headers,
                              m.partition))


class NoBroker:
    """Stands in for ``streams.offsets.BrokerOffsets``: no committed offsets to ask for, so
    each partition starts where its first message is."""

    def __init__(self, *args: Any) -> None:
        pass

    def start_offset(self, tp: tuple[str, int]) -> None:
        return None

    def read(self, topics: Any) -> dict[Any, Any]:
        return {}


@dataclass
class Worker:
    app: faust.App
    producer: FakeProducer
    store: InMemoryStore
    metrics: Metrics
    codec: AvroCodec = field(default_factory=AvroCodec)

    @property
    def progress(self) -> Progress:
        return self.app.botbill_progress  # type: ignore[attr-defined,no-any-return]

    def sent(self, topic: str) -> list[Sent]:
        return [s for s in self.producer.sent if s.topic == topic]

    def decoded(self, topic: str) -> list[dict[str, Any]]:
        return [self.codec.decode(s.value)[1] for s in self.sent(topic) if s.value]


@pytest.fixture
def make_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                metrics: Metrics) -> Iterator[Callable[..., Worker]]:
    """``make_worker(**settings)``: the app as the worker builds it, nothing connected."""
    apps: list[faust.App] = []

    def make(**overrides: Any) -> Worker:
        store = InMemoryStore()
        monkeypatch.setattr(app_module, "ClickHouseStore", lambda url: store)
        monkeypatch.setattr(app_module, "BrokerOffsets", NoBroker)
        settings = WorkerSettings(**{"bootstrap": "127.0.0.1:1",
                                     "clickhouse_url": "clickhouse://default@127.0.0.1:1/x",
                                     "datadir": str(tmp_path / "worker"), "partitions": 2,
                                     "sink_within": 0.05, **overrides})
        app = create_app(settings, metrics)
        producer = FakeProducer()
        app.producer = producer  # type: ignore[assignment]
        apps.append(app)
        return Worker(app, producer, store, metrics)

    yield make
    for app in apps:
        # Iterating a stream makes Faust build its Kafka consumer, whose (never started)
        # thread owns an event loop; close it so that nothing leaks a ResourceWarning.
        consumer = app._consumer  # type: ignore[attr-defined]
        if consumer is not None:
            consumer._thread.thread_loop.close()  # type: ignore[attr-defined]


def table_keys(worker: Worker, name: str) -> list[str]:
    return list(cast(faust.Table, worker.app.tables[name]).keys())


class Feeder:
    """Puts messages on a running test agent's channel as if read from ``topic``."""

    def __init__(self, worker: Worker, agent: Any, progress_name: str) -> None:
        self.worker = worker
        self.agent = agent
        self.progress_name = progress_name
        self.offsets: dict[tuple[str, int], int] = {}

    async def put(self, topic: str, value: bytes | None, *, key: bytes | None = b"k",
                  partition: int = 0, headers: Any = None) -> int:
        offset = self.offsets.get((topic, partition), -1) + 1
        self.offsets[topic, partition] = offset
        channel = self.agent.stream().channel
        message = Message(topic=topic, partition=partition, offset=offset,
                          timestamp=time.time(), timestamp_type=0, headers=headers or [],
                          key=key, value=value, checksum=None,
                          generation_id=self.worker.app.consumer_generation_id)
        await channel.put(await channel.decode(message))
        return offset

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until the agent reports every message put as processed."""
        deadline = time.monotonic() + timeout
        offsets = self.worker.progress.offsets
        while any(offsets.get((self.progress_name, topic, partition), -1) < offset
                  for (topic, partition), offset in self.offsets.items()):
            assert time.monotonic() < deadline, f"{self.progress_name} did not finish"
            await asyncio.sleep(0.005)


def run(worker: Worker, agent_name: str, progress_name: str,
        script: Callable[[Feeder], Any], *, timeout: float = 10.0) -> None:
    """Start the agent's test context, run ``script(feeder)``, wait until all is processed."""
    async def main() -> None:
        async with worker.app.agents[agent_name].test_context() as agent:
            feeder = Feeder(worker, agent, progress_name)
            await script(feeder)
            await feeder.drain(timeout)
    asyncio.run(main())


# --- the app as built --------------------------------------------------------------------

def test_create_app_builds_agents_tables_and_topics_without_connecting(
        make_worker: Callable[..., Worker]) -> None:
    worker = make_worker(partitions=3)
    agents = worker.app.agents
    assert set(agents) == {SESSIONIZER, ALERTS, SINK, BALANCE}
    assert set(agents[SESSIONIZER].channel.topics) == {topics.CONVERSATION_TURNS,
                                                       topics.AGENT_HANDOFFS}
    assert set(agents[ALERTS].channel.topics) == {topics.ALERTS_DELIVERED}
    assert set(agents[SINK].channel.topics) == set(topics.SINK_TOPICS)
    tables = worker.app.tables
    assert set(tables) == {"conversations", "alerts-seen", "balances"}
    assert {t.partitions for t in tables.values()} == {3}
    assert worker.producer.sent == [] and worker.store.batches == []


# --- sessionizer -------------------------------------------------------------------------

def test_the_sessionizer_bills_as_the_batch_and_dead_letters_garbage(
        make_worker: Callable[..., Worker], events: EventFactory) -> None:
    worker = make_worker()
    conversation: list[ConversationEvent] = [
        events.turn(0, "USER"), events.turn(3, "BOT"), events.handoff(4, "STARTED"),
        events.turn(6, "AGENT"), events.handoff(9, "ENDED"), events.turn(30, "USER"),
        events.turn(31, "BOT")]
    test_turn = events.turn(32, "USER", is_test=True)
    # arrival: handoffs after the turns, a redelivery, test traffic, one garbage message
    order = [e for e in conversation if e.type == "conversation_turn"]
    order += [conversation[0], test_turn]
    order += [e for e in conversation if e.type == "agent_handoff"]

    async def script(feeder: Feeder) -> None:
        for event in order:
            await feeder.put(TOPIC_OF[event.type], encode_event(worker.codec, event),
                             key=b"c1", partition=1)
        await feeder.put(topics.AGENT_HANDOFFS, b"\x07garbage", key=b"c1", partition=1)

    run(worker, SESSIONIZER, "sessionizer", script)

    changes = [SessionChange(UsageSession(**{k: v for k, v in r.items()
                                             if k not in ("revision", "voided")}),
                             r["revision"], r["voided"])
               for r in worker.decoded(topics.USAGE_SESSIONS)]
    expected = bill_conversation(("acct-1", "bot-a", "c1"), conversation, 15 * 60_000)
    assert replacing_merge(changes) == sorted(expected, key=lambda s: s.identity)
    assert {s.key for s in worker.sent(topics.USAGE_SESSIONS)} == {b"bot-a"}

    [dead] = worker.decoded(topics.DEAD_LETTERS)
    assert (dead["source_topic"], dead["source_partition"], dead["source_offset"]) == \
        (topics.AGENT_HANDOFFS, 1, 2)
    assert (dead["key"], dead["value"]) == (b"c1", b"\x07garbage") and dead["error"]
    assert sample(worker.metrics, "botbill_invalid_events", topic=topics.AGENT_HANDOFFS) == 1
    assert sample(worker.metrics, "botbill_duplicate_events",
                  topic=topics.CONVERSATION_TURNS) == 1
    assert sample(worker.metrics, "botbill_test_events", topic=topics.CONVERSATION_TURNS) == 1
    assert sample(worker.metrics, "botbill_events_consumed",
                  topic=topics.CONVERSATION_TURNS) == 7

    # the state lives in the table, changelogged to the message's partition
    assert table_keys(worker, "conversations") == ["acct-1\x1fbot-a\x1fc1"]
    changelog = [s for s in worker.producer.sent if s.topic.endswith("conversations-changelog")]
    assert changelog and {s.partition for s in changelog} == {1}
    assert len(changelog) == len(conversation)  # one write per applied event


def test_a_late_event_goes_to_the_late_events_topic(make_worker: Callable[..., Worker],
                                                    events: EventFactory) -> None:
    """Both inputs race an hour ahead (turns of another conversation and a handoff), then a
    turn for the first conversation's closed visit arrives."""
    worker = make_worker()
    first = [events.turn(0, "USER"), events.turn(1, "BOT")]
    ahead: list[ConversationEvent] = [events.turn(60, "USER", conversation="c2"),
                                      events.handoff(60, "STARTED", conversation="c2")]
    late = events.turn(2, "USER")

    async def script(feeder: Feeder) -> None:
        for event in [*first, *ahead, late]:
            await feeder.put(TOPIC_OF[event.type], encode_event(worker.codec, event))

    run(worker, SESSIONIZER, "sessionizer", script)
    [record] = worker.decoded(topics.LATE_EVENTS)
    assert record["event_id"] == late.event_id and record["reason"]
    assert record["watermark"] == ahead[0].occurred_at
    assert event_from_mapping(orjson.loads(record["payload"])) == late
    assert sample(worker.metrics, "botbill_late_events", topic=topics.CONVERSATION_TURNS) == 1


# --- alerts ------------------------------------------------------------------------------

def test_the_alert_agent_bills_each_alert_once(make_worker: Callable[..., Worker],
                                               events: EventFactory) -> None:
    worker = make_worker()
    alert, other = events.alert(0), events.alert(5, bot="bot-b")

    async def script(feeder: Feeder) -> None:
        for event in (alert, other, alert, events.alert(6, is_test=True)):
            await feeder.put(topics.ALERTS_DELIVERED, encode_event(worker.codec, event),
                             key=event.bot_id.encode())
        await feeder.put(topics.ALERTS_DELIVERED, b"", key=b"bot-a")

    run(worker, ALERTS, "alerts", script)
    billed = [AlertSession(**r) for r in worker.decoded(topics.ALERT_SESSIONS)]
    assert billed == [AlertSession("acct-1", "bot-a", alert.event_id, alert.occurred_at),
                      AlertSession("acct-1", "bot-b", other.event_id, other.occurred_at)]
    assert len(table_keys(worker, "alerts-seen")) == 2
    [dead] = worker.decoded(topics.DEAD_LETTERS)
    assert dead["source_topic"] == topics.ALERTS_DELIVERED and "empty" in dead["error"]


# --- sink --------------------------------------------------------------------------------

def test_the_sink_writes_what_the_topics_carry(make_worker: Callable[..., Worker],
                                               events: EventFactory) -> None:
    worker = make_worker()
    codec = worker.codec
    turn, alert = events.turn(0, "USER"), events.alert(1)
    session = UsageSession("acct-1", "bot-a", "c1", "web", "u-1", turn.occurred_at,
                           turn.occurred_at, 1, turn.occurred_at, turn.occurred_at)
    change = {name: getattr(session, name) for name in (
        "account_id", "bot_id", "conversation_id", "channel", "user_id",
        "conversation_session_start", "conversation_session_end", "session_index",
        "billing_session_start", "billing_session_end")}
    alert_session = AlertSession("acct-1", "bot-a", alert.event_id, alert.occurred_at)

    async def script(feeder: Feeder) -> None:
        await feeder.put(topics.CONVERSATION_TURNS, encode_event(codec, turn))
        await feeder.put(topics.ALERTS_DELIVERED, encode_event(codec, alert))
        await feeder.put(topics.CONVERSATION_TURNS, b"\x07garbage")  # left to the sessionizer
        await feeder.put(topics.USAGE_SESSIONS, codec.encode(
            "UsageSessionChange", {**change, "revision": 1, "voided": False}))
        await feeder.put(topics.ALERT_SESSIONS, codec.encode(
            "AlertSession", {"account_id": "acct-1", "bot_id": "bot-a",
                             "event_id": alert.event_id, "delivered_at": alert.occurred_at}))
        await feeder.put(topics.LATE_EVENTS, b"\x07not avro", partition=1)

    run(worker, SINK, "sink", script)
    stored = worker.store.batches
    assert stored
    raw = [r for b in stored for r in b.raw_events]
    assert sorted(event_from_mapping(r.event).event_id for r in raw) == \
        sorted([turn.event_id, alert.event_id])
    assert worker.store.billed() == [session, alert_session]
    dead = [d for b in stored for d in b.dead_letters]
    assert [(d.topic, d.partition, d.value) for d in dead] == \
        [(topics.LATE_EVENTS, 1, b"\x07not avro")]
    assert sample(worker.metrics, "botbill_sink_rows", table="raw_events") == 2


def test_a_poison_message_does_not_stop_the_sink(make_worker: Callable[..., Worker],
                                                 events: EventFactory) -> None:
    worker = make_worker()
    alert = events.alert(1)
    poison = worker.codec.encode("AlertSession", {"account_id": "a", "bot_id": "b",
                                                  "event_id": "e", "delivered_at": 1})

    async def script(feeder: Feeder) -> None:
        await feeder.put(topics.ALERTS_DELIVERED, encode_event(worker.codec, alert))
        await feeder.put(topics.USAGE_SESSIONS, poison)

    run(worker, SINK, "sink", script, timeout=2.0)  # the crashed agent never finishes
    assert [r.event["event_id"] for b in worker.store.batches for r in b.raw_events] == \
        [alert.event_id]
    assert [d.topic for b in worker.store.batches for d in b.dead_letters] == \
        [topics.USAGE_SESSIONS]


def test_an_internal_error_is_counted_apart_retried_and_not_bad_input(
        make_worker: Callable[..., Worker], events: EventFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug or an infrastructure hiccup is not the message's fault: counted as an internal
    error (not invalid), retried; a message that keeps failing is parked, still not counted
    as invalid input."""
    from botbill.streams.handlers import ConversationHandler

    monkeypatch.setattr(app_module, "INTERNAL_ATTEMPTS", 2)
    worker = make_worker()
    handle = ConversationHandler.handle
    failures = {"c1": 1, "c2": 99}  # c1 fails once then works; c2 always fails

    def flaky(self: ConversationHandler, event: Any, *args: Any) -> Any:
        if failures.get(event.conversation_id, 0) > 0:
            failures[event.conversation_id] -= 1
            raise RuntimeError(f"boom on {event.conversation_id}")
        return handle(self, event, *args)

    monkeypatch.setattr(ConversationHandler, "handle", flaky)

    async def script(feeder: Feeder) -> None:
        for conversation in ("c1", "c2"):
            event = events.turn(0, "USER", conversation=conversation)
            await feeder.put(topics.CONVERSATION_TURNS, encode_event(worker.codec, event),
                             key=conversation.encode())

    run(worker, SESSIONIZER, "sessionizer", script)
    assert sample(worker.metrics, "botbill_internal_errors", agent="sessionizer") == 3
    assert sample(worker.metrics, "botbill_invalid_events",
                  topic=topics.CONVERSATION_TURNS) == 0
    billed = {r["conversation_id"] for r in worker.decoded(topics.USAGE_SESSIONS)}
    assert billed == {"c1"}
    [dead] = worker.decoded(topics.DEAD_LETTERS)
    assert dead["source_offset"] == 1 and "internal error" in dead["error"]
