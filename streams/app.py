"""The Faust app: topics, tables, agents, timers, and the /metrics and /health pages.

Agents stay thin: bytes in -> :mod:`streams.handlers` (which calls ``billing_rules``) ->
bytes out. Delivery is at-least-once; correctness comes from idempotence (event-id
de-duplication in the tables, revisions, ReplacingMergeTree in ClickHouse), never from
Faust's exactly-once.
"""

from __future__ import annotations

import heapq
import logging
import time
from typing import Any

import faust
from prometheus_client import generate_latest

from botbill.schemas import SchemaRegistryUnavailable
from botbill.schemas.codec import AvroCodec
from botbill.sinks.clickhouse import ClickHouseStore

from . import topic_names as topics
from .balance_agent import install_balance_agent
from .handlers import (
    AlertHandler,
    ConversationHandler,
    InvalidMessage,
    Outgoing,
    alert_table_key,
    conversation_table_key,
    dead_letter,
    decode_input,
    now_ms,
)
from .health import Progress
from .metrics import Metrics
from .settings import WorkerSettings
from .sink import SinkWriter
from .state_codec import STATE_CODEC
from .watermark import NO_WATERMARK, PartitionClock

__all__ = ["create_app"]

SWEEP_EVERY_SECONDS = 5.0
log = logging.getLogger(__name__)


def create_app(settings: WorkerSettings, metrics: Metrics | None = None) -> faust.App:
    """Build the worker app; nothing connects until it is started."""
    metrics = metrics or Metrics()
    codec = AvroCodec(settings.registry_url)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store=settings.store,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        producer_acks=-1,
        web_bind="127.0.0.1",
        web_port=settings.metrics_port,
        web_in_thread=False,
        producer_linger_ms=20,  # batch outputs and changelog writes into fewer requests
        stream_wait_empty=False,
        datadir=settings.datadir,
    )

    def raw_topic(*names: str) -> faust.TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", allow_empty=True)

    conversation_inputs = raw_topic(topics.CONVERSATION_TURNS, topics.AGENT_HANDOFFS)
    alert_input = raw_topic(topics.ALERTS_DELIVERED)
    sink_input = raw_topic(*topics.SINK_TOPICS)
    out_topics = {name: raw_topic(name) for name in (
        topics.USAGE_SESSIONS, topics.ALERT_SESSIONS, topics.LATE_EVENTS, topics.DEAD_LETTERS)}

    conversations = app.Table(
        "conversations", partitions=settings.partitions, key_type=str,
        schema=faust.Schema(key_type=str, key_serializer="json",
                            value_serializer=STATE_CODEC))
    # Faust derives a table's serializer from its value type only; the store and the
    # changelog topic are built lazily from this attribute, so setting it here is enough.
    conversations.value_serializer = STATE_CODEC
    alerts_seen = app.Table(
        "alerts-seen", partitions=settings.partitions,
        schema=faust.Schema(key_type=str, value_type=int, key_serializer="json",
                            value_serializer="json"))

    clock = PartitionClock((topics.CONVERSATION_TURNS, topics.AGENT_HANDOFFS),
                           settings.idle_seconds, settings.max_skew_ms)
    alert_clock = PartitionClock((topics.ALERTS_DELIVERED,), settings.idle_seconds,
                                 settings.max_skew_ms)
    progress = Progress({
        "sessionizer": (topics.CONVERSATION_TURNS, topics.AGENT_HANDOFFS),
        "alerts": (topics.ALERTS_DELIVERED,),
        "sink": topics.SINK_TOPICS,
    }, settings.stall_seconds, time.monotonic())
    conversation_handler = ConversationHandler(codec, settings, metrics)
    alert_handler = AlertHandler(codec, settings, metrics)
    writer = SinkWriter(ClickHouseStore(settings.clickhouse_url), codec, metrics, progress)
    install_balance_agent(app, settings, codec, metrics, progress)
    # event-time deadlines per partition, for sweeping closed conversations out of the table
    deadlines: dict[int, list[tuple[int, str, str]]] = {}
    alert_deadlines: dict[int, list[tuple[int, str]]] = {}
    last_sweep: dict[tuple[str, int], float] = {}

    async def send_all(outgoing: list[Outgoing]) -> None:
        for message in outgoing:
            await out_topics[message.topic].send(key=message.key, value=message.value,
                                                 headers=list(message.headers))

    async def to_dead_letters(message: Any, error: str) -> None:
        metrics.invalid_events.labels(message.topic).inc()
        await send_all([dead_letter(codec, message.topic, message.partition, message.offset,
                                    message.key, message.value, error, now_ms())])

    def due(kind: str, partition: int) -> bool:
        now = time.monotonic()
        if now - last_sweep.get((kind, partition), 0.0) < SWEEP_EVERY_SECONDS:
            return False
        last_sweep[kind, partition] = now
        return True

    def sweep_conversations(partition: int, watermark: int) -> None:
        """Runs inside stream iteration, so table writes go to this partition's changelog."""
        heap = deadlines.get(partition, [])
        while heap and heap[0][0] < watermark:
            _, key, bot_id = heapq.heappop(heap)
            stored = conversations.get(key)
            if stored is None:
                continue
            if conversation_handler.deadline(stored, bot_id) >= watermark:
                continue  # the conversation moved on since this deadline was set
            delete, new_state = conversation_handler.sweep(stored, bot_id, watermark)
            if delete:
                del conversations[key]
            elif new_state is not None:
                conversations[key] = new_state
                heapq.heappush(heap, (conversation_handler.deadline(new_state, bot_id),
                                      key, bot_id))

    async def sessionize_one(message: Any) -> None:
        billing_event = decode_input(codec, message.topic, message.value)
        now = time.monotonic()
        clock.observe(message.topic, message.partition, billing_event.occurred_at, now,
                      now_ms())
        watermark = clock.watermark(message.partition, now)
        key = conversation_table_key(billing_event)  # type: ignore[arg-type]
        new_state, outgoing = conversation_handler.handle(
            billing_event, conversations.get(key), watermark,  # type: ignore[arg-type]
            message.topic)
        await send_all(outgoing)
        if new_state is not None:
            conversations[key] = new_state
            heapq.heappush(deadlines.setdefault(message.partition, []), (
                conversation_handler.deadline(new_state, billing_event.bot_id),
                key, billing_event.bot_id))
        if due("conversations", message.partition):
            sweep_conversations(message.partition, watermark)
            metrics.open_conversations.set(len(conversations))
            if watermark != NO_WATERMARK:  # no event time yet: no lag to speak of
                lag = (time.time() * 1000 - watermark) / 1000
                metrics.event_time_lag.labels(str(message.partition)).set(max(0.0, lag))

    async def bill_alert_one(message: Any) -> None:
        alert = decode_input(codec, message.topic, message.value)
        now = time.monotonic()
        alert_clock.observe(message.topic, message.partition, alert.occurred_at, now,
                            now_ms())
        watermark = alert_clock.watermark(message.partition, now)
        key = alert_table_key(alert)  # type: ignore[arg-type]
        remember, outgoing = alert_handler.handle(
            alert, key in alerts_seen, watermark)  # type: ignore[arg-type]
        await send_all(outgoing)
        if remember:
            alerts_seen[key] = alert.occurred_at
            heapq.heappush(alert_deadlines.setdefault(message.partition, []),
                           (alert.occurred_at + settings.alert_dedup_retention_ms, key))
        if due("alerts", message.partition):
            heap = alert_deadlines.get(message.partition, [])
            while heap and heap[0][0] < watermark:
                alerts_seen.pop(heapq.heappop(heap)[1], None)

    async def consume(agent: str, stream: faust.StreamT, process: Any) -> None:
        """Decode errors go to the dead letters; the agent itself never stops on input."""
        async for event in stream.events():
            message = event.message
            started = time.perf_counter()
            metrics.events_consumed.labels(message.topic).inc()
            try:
                await process(message)
            except InvalidMessage as error:
                await to_dead_letters(message, str(error))
            except SchemaRegistryUnavailable:
                raise  # not the message's fault: crash, restart, and read it again
            except Exception as error:  # a bug must not stall billing: park the message
                log.exception("%s failed on %s[%s]@%s", agent, message.topic,
                              message.partition, message.offset)
                await to_dead_letters(message, f"internal error in {agent}: {error!r}")
            progress.processed(agent, message.topic, message.partition, message.offset,
                               time.monotonic())
            metrics.processing_seconds.labels(agent).observe(time.perf_counter() - started)

    @app.agent(conversation_inputs)
    async def sessionize(stream: faust.StreamT) -> None:
        await consume("sessionizer", stream, sessionize_one)

    @app.agent(alert_input)
    async def bill_alerts(stream: faust.StreamT) -> None:
        await consume("alerts", stream, bill_alert_one)

    @app.agent(sink_input)
    async def sink(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.sink_batch, within=settings.sink_within):
            await writer.write(events)

    @app.on_before_shutdown.connect
    async def stop_sink_retries(sender: Any, **kwargs: Any) -> None:
        writer.stopping.set()

    @app.timer(5.0)
    async def update_lag() -> None:
        assignment = app.consumer.assignment()
        highwaters = {(tp.topic, tp.partition): app.consumer.highwater(tp) or 0
                      for tp in assignment}
        for agent, lag in progress.lag(highwaters).items():
            metrics.consumer_lag.labels(agent).set(lag)

    @app.page("/metrics")
    async def metrics_page(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(metrics.registry),
                          content_type="text/plain; version=0.0.4")

    @app.page("/health")
    async def health_page(self: Any, request: Any) -> Any:
        assignment = app.consumer.assignment()
        highwaters = {(tp.topic, tp.partition): app.consumer.highwater(tp) or 0
                      for tp in assignment}
        healthy, why = progress.check(highwaters, time.monotonic())
        return self.json({"healthy": healthy, "detail": why}, status=200 if healthy else 503)

    app.botbill_metrics = metrics  # type: ignore[attr-defined]
    app.botbill_progress = progress  # type: ignore[attr-defined]
    return app
