"""The Faust app: topics, tables, agents, timers, and the /metrics and /health pages.

Agents stay thin: bytes in -> :mod:`streams.handlers` (which calls ``billing_rules``) ->
bytes out. Delivery is at-least-once; correctness comes from idempotence (event-id
de-duplication in the tables, revisions, ReplacingMergeTree in ClickHouse), never from
Faust's exactly-once.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from typing import Any

import faust
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP
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
    load_state,
    now_ms,
)
from .health import Progress
from .metrics import Metrics
from .offsets import BrokerOffsets, CommitWatch
from .ordering import InputOrder
from .settings import WorkerSettings
from .sink import SinkWriter
from .state_codec import STATE_CODEC
from .watermark import NO_WATERMARK, PartitionClock

__all__ = ["create_app"]

SWEEP_EVERY_SECONDS = 5.0
BROKER_CHECK_SECONDS = 5.0
NUDGE_SECONDS = 15.0  # input waiting and no commit this long: re-read from the commit
INTERNAL_ATTEMPTS = 5  # tries of a message that raised an internal error (~15 s of backoff)
log = logging.getLogger(__name__)


async def _no_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Faust books a jump in a partition's offsets as a compaction "gap" and counts it as
    acknowledged, so its commit passes messages nobody processed (faust-streaming #596,
    #606): after a restart, a whole chunk of input was committed unbilled that way. Our
    topics are neither compacted nor transactional, so a jump is always a hole: it must
    hold the commit back until the agents seek back over it (``streams.ordering``)."""
    log.warning("Faust jumped %s[%s] from %s to %s: not counting the hole as processed",
                tp.topic, tp.partition, offset_from - 1, offset_to)


def create_app(settings: WorkerSettings, metrics: Metrics | None = None) -> faust.App:
    """Build the worker app; nothing connects until it is started."""
    metrics = metrics or Metrics()
    FaustConsumer._add_gap = _no_gap  # type: ignore[method-assign]  (see _no_gap)
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
    # Keys restored from the changelog, per partition, until their sweep is scheduled: a
    # recovered conversation that never gets another event must still be closed and
    # forgotten. Recorded by wrapping the batch apply (not an on_changelog_event hook, which
    # runs per event inside recovery), and scheduled by the partition's next sweep, which
    # runs inside stream iteration so its deletes go to the right changelog partition.
    recovered: dict[int, set[str]] = {}
    apply_batch = conversations.apply_changelog_batch

    def apply_and_remember(batch: Any) -> None:
        batch = list(batch)
        for event in batch:
            keys = recovered.setdefault(event.message.partition, set())
            if event.message.value is None:
                keys.discard(event.key)
            else:
                keys.add(event.key)
        apply_batch(batch)

    conversations.apply_changelog_batch = apply_and_remember  # type: ignore[method-assign]
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
    broker = BrokerOffsets(settings.bootstrap, settings.app_id)
    commits = CommitWatch(settings.stall_seconds, time.monotonic())
    orders = {agent: InputOrder() for agent in ("sessionizer", "alerts", "sink")}
    nudged: dict[tuple[str, int], float] = {}
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
        await send_all([dead_letter(codec, message.topic, message.partition, message.offset,
                                    message.key, message.value, error, now_ms())])

    def due(kind: str, partition: int) -> bool:
        now = time.monotonic()
        if now - last_sweep.get((kind, partition), 0.0) < SWEEP_EVERY_SECONDS:
            return False
        last_sweep[kind, partition] = now
        return True

    def schedule_recovered(partition: int) -> None:
        heap = deadlines.setdefault(partition, [])
        for key in recovered.pop(partition, ()):
            stored = load_state(conversations.get(key))
            if stored is not None:
                bot_id = stored.key[1]
                heapq.heappush(heap, (conversation_handler.deadline(stored, bot_id), key,
                                      bot_id))

    def sweep_conversations(partition: int, watermark: int) -> None:
        """Runs inside stream iteration, so table writes go to this partition's changelog."""
        schedule_recovered(partition)
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

    async def rewind(agent: str, topic: str, partition: int, offset: int) -> None:
        """Seek a partition back to a message Faust skipped (see :mod:`streams.ordering`)."""
        metrics.input_rewinds.labels(topic).inc()
        log.warning("%s was handed %s[%s] past offset %s: seeking back to it", agent, topic,
                    partition, offset)
        tp = TP(topic, partition)
        # seek_wait runs in the consumer's own thread: Consumer.seek calls aiokafka from this
        # one, which can lose the fetcher's wake-up and stop fetching for good
        await app.consumer.seek_wait({tp: offset})

    async def in_order(agent: str, message: Any) -> bool:
        """Whether to process this message now (False: a redelivery, or past a hole)."""
        order = orders[agent]
        tp = (message.topic, message.partition)
        if not order.knows(tp):
            try:
                start = await asyncio.get_running_loop().run_in_executor(
                    None, broker.start_offset, tp)
            except Exception as error:  # the broker is away: trust the delivery
                log.warning("cannot read the committed offset of %s[%s]: %r", *tp, error)
                start = None
            order.start(tp, message.offset if start is None else start)
        before = order.expected.get(tp)
        decision = order.decide(tp, message.offset, time.monotonic())
        if decision == "rewind":
            await rewind(agent, message.topic, message.partition, order.rewind_to(tp))
        elif decision == "accept":
            metrics.input_holes.labels(message.topic).inc()
            log.error("%s: offsets %s..%s of %s[%s] never came after %d rewinds; going on "
                      "without them", agent, before, message.offset - 1, message.topic,
                      message.partition, order.max_rewinds)
        return decision in ("process", "accept")

    @app.on_partitions_revoked.connect
    async def forget_order_on_revoke(sender: Any, *args: Any, **kwargs: Any) -> None:
        for order in orders.values():
            order.forget()

    @app.on_partitions_assigned.connect
    async def forget_order_on_assign(sender: Any, *args: Any, **kwargs: Any) -> None:
        for order in orders.values():
            order.forget()

    @app.timer(1.0)
    async def retry_rewinds() -> None:
        now = time.monotonic()
        for agent, order in orders.items():
            for topic, partition in order.overdue(now):
                await rewind(agent, topic, partition, order.rewind_to((topic, partition)))

    async def consume(agent: str, stream: faust.StreamT, process: Any) -> None:
        """Bad input goes to the dead letters; the agent itself never stops on input. Any
        other exception is an internal error, not bad input: logged with its traceback,
        counted apart (``botbill_internal_errors``) and retried with backoff (it is often
        passing, e.g. a changelog topic's metadata not there yet); only a message that
        keeps failing is parked in the dead letters, so one poison message cannot stall
        billing for good."""
        async for event in stream.events():
            message = event.message
            if not await in_order(agent, message):
                continue
            started = time.perf_counter()
            metrics.events_consumed.labels(message.topic).inc()
            for attempt in range(1, INTERNAL_ATTEMPTS + 1):
                try:
                    await process(message)
                except InvalidMessage as error:
                    metrics.invalid_events.labels(message.topic).inc()
                    await to_dead_letters(message, str(error))
                except SchemaRegistryUnavailable:
                    raise  # not the message's fault: crash, restart, and read it again
                except Exception as error:
                    metrics.internal_errors.labels(agent).inc()
                    log.exception("internal error (attempt %d of %d): %s failed on %s[%s]@%s",
                                  attempt, INTERNAL_ATTEMPTS, agent, message.topic,
                                  message.partition, message.offset)
                    if attempt < INTERNAL_ATTEMPTS:  # often passing (topic metadata)
                        await asyncio.sleep(0.5 * 2 ** attempt)
                        continue
                    # a bug must not stall billing for good: park the message
                    await to_dead_letters(message, f"internal error in {agent}: {error!r}")
                break
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
            kept = [event for event in events if await in_order("sink", event.message)]
            if kept:
                await writer.write(kept)

    @app.on_before_shutdown.connect
    async def stop_sink_retries(sender: Any, **kwargs: Any) -> None:
        writer.stopping.set()

    @app.timer(BROKER_CHECK_SECONDS)
    async def check_commits() -> None:
        """Ask the broker, not Faust, whether committed offsets follow the input."""
        try:
            views = await asyncio.get_running_loop().run_in_executor(
                None, broker.read, topics.SINK_TOPICS)
        except Exception as error:  # Kafka away: the commits stand still, which shows
            log.warning("cannot read committed offsets from the broker: %r", error)
            views = {}
        now = time.monotonic()
        assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        commits.retain(assigned)
        commits.observe({tp: view for tp, view in views.items() if tp in assigned}, now)
        for (topic, partition), view in commits.views.items():
            metrics.partition_waiting.labels(topic, str(partition)).set(view.waiting)
            metrics.partition_stalled_seconds.labels(topic, str(partition)).set(
                commits.stalled_for((topic, partition), now))
        stalled = commits.stalled(now)
        metrics.stalled_partitions.set(len(stalled))
        if stalled:
            log.error("stalled: %s", commits.check(now)[1])
        if writer.failing_since is None:  # (a ClickHouse outage holds commits on purpose)
            for tp, view in list(commits.views.items()):
                if (commits.stalled_for(tp, now) >= NUDGE_SECONDS
                        and now - nudged.get(tp, 0.0) >= NUDGE_SECONDS):
                    nudged[tp] = now
                    await nudge(tp, view.committed, view.waiting)

    async def nudge(tp: tuple[str, int], committed: int, waiting: int) -> None:
        """Input waits on ``tp`` and nothing commits: messages past the committed offset
        were skipped with nothing after them to reveal the hole (the tail of a partition).
        Reading the partition again from its committed offset fills it; what the agents
        already processed comes again and is dropped as a redelivery."""
        metrics.partition_nudges.labels(tp[0]).inc()
        log.warning("%s[%s]: %d messages past the committed offset %d and no commit for "
                    "%.0fs: reading it again from there", tp[0], tp[1], waiting, committed,
                    NUDGE_SECONDS)
        await app.consumer.seek_wait({TP(*tp): committed})

    @app.timer(5.0)
    async def update_lag() -> None:
        assignment = app.consumer.assignment()
        highwaters = {(tp.topic, tp.partition): app.consumer.highwater(tp) or 0
                      for tp in assignment}
        for agent, lag in progress.lag(highwaters).items():
            metrics.consumer_lag.labels(agent).set(lag)

    @app.task
    async def dump_tasks_on_sigusr1() -> None:
        """``kill -USR1 <worker>`` logs every asyncio task's stack: what a stuck agent
        awaits (a thread dump shows only an idle event loop)."""
        import signal as _signal

        def dump() -> None:
            for task in asyncio.all_tasks():
                frames = task.get_stack(limit=12)
                where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in frames)
                log.warning("task %s: %s", task.get_name(), where)

        asyncio.get_running_loop().add_signal_handler(_signal.SIGUSR1, dump)

    @app.page("/metrics")
    async def metrics_page(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(metrics.registry),
                          content_type="text/plain; version=0.0.4")

    @app.page("/health")
    async def health_page(self: Any, request: Any) -> Any:
        assignment = app.consumer.assignment()
        highwaters = {(tp.topic, tp.partition): app.consumer.highwater(tp) or 0
                      for tp in assignment}
        now = time.monotonic()
        agents_ok, agents_why = progress.check(highwaters, now)
        broker_ok, broker_why = commits.check(now)
        healthy, why = agents_ok and broker_ok, f"{agents_why}; {broker_why}"
        return self.json({"healthy": healthy, "detail": why}, status=200 if healthy else 503)

    app.botbill_metrics = metrics  # type: ignore[attr-defined]
    app.botbill_progress = progress  # type: ignore[attr-defined]
    app.botbill_commits = commits  # type: ignore[attr-defined]
    return app
