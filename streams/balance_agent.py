"""The balance agent in ``botbill worker`` (one writer per wallet): Faust glue around
:mod:`streams.balance`.

It reads ``usage-sessions``, ``alert-sessions`` and ``account-events`` (all keyed by
``bot_id``, so co-partitioned) in batches. Per batch: every message is pinned (its offset
cannot be committed), absorbed into its bot's state, then each touched bot is recomputed
once, as of its partition's event time; then, in this order:

1. the messages are sent and their delivery awaited — entitlements first, then ledger
   entries, notifications, derived auto-reload orders (to ``account-events``), dead letters;
2. the ClickHouse rows are written (``sinks.money``), retried with backoff while ClickHouse
   is down (the agent waits, nothing is dropped);
3. the bots' new states go to the table (explicit changelog writes: Faust refuses table
   writes outside per-message iteration, faust-streaming #497), and the pins are released.

A crash before 3 re-reads the batch: the recompute gives the same outputs with the same
ids, so writing them again changes nothing. A timer recomputes bots whose notifications or
held-back movements became due as event time moved on without them (idle inputs; the due
list is in memory: after a restart such a bot is recomputed on its next message).

| variable | default | meaning |
|---|---|---|
| BOTBILL_BALANCE_BATCH | 500 | max messages per batch (``1``: a recompute per message) |
| BOTBILL_BALANCE_WITHIN_MS | 50 | max wait to fill a batch (entitlement latency adds it) |
| BOTBILL_CATALOG | (built in) | the plan catalog (``jobs.catalog_file``) |

Event time, idleness and clock skew follow the worker's ``BOTBILL_IDLE_INPUT`` and
``BOTBILL_MAX_CLOCK_SKEW``; notifications wait ``T`` (the largest) + ``BOTBILL_GRACE``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import threading
import time
from typing import Any

import faust
import orjson
from prometheus_client import Counter, Histogram

from botbill.billing_rules.catalog import Catalog
from botbill.jobs.catalog_file import load_catalog
from botbill.schemas import SchemaRegistryUnavailable
from botbill.schemas.codec import AvroCodec
from botbill.sinks import connect
from botbill.sinks import money as sink_money
from botbill.sinks.exceptions import SinkUnavailable

from . import topic_names as topics
from .balance import BalanceHandler, MoneyRows, bot_key
from .handlers import InvalidMessage, Outgoing, dead_letter, now_ms
from .health import Progress
from .metrics import Metrics
from .settings import WorkerSettings
from .watermark import NO_WATERMARK, PartitionClock

__all__ = ["BalanceMetrics", "MoneyWriter", "install_balance_agent"]

log = logging.getLogger(__name__)
AGENT = "balance"
TABLE = "balances"
BATCH = int(os.environ.get("BOTBILL_BALANCE_BATCH", "500"))
WITHIN_SECONDS = float(os.environ.get("BOTBILL_BALANCE_WITHIN_MS", "50")) / 1000
TIMER_SECONDS = 1.0
_RECOMPUTE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class BalanceMetrics:
    """The balance agent's Prometheus metrics, on the worker's registry."""

    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.messages = Counter(
            "botbill_balance_messages", "Messages the balance agent consumed, per input topic",
            ["topic"], registry=r)
        self.recompute_seconds = Histogram(
            "botbill_balance_recompute_seconds", "Time to recompute one bot (run_books and "
            "the diff)", buckets=_RECOMPUTE_BUCKETS, registry=r)
        self.rejections = Counter(
            "botbill_balance_rejections", "Account events refused to the dead letters: "
            "shape (malformed) or rule (the engine's Rejection)", ["kind"], registry=r)
        self.entitlement_changes = Counter(
            "botbill_entitlement_changes", "Entitlements written, by allowed", ["allowed"],
            registry=r)
        self.outputs = Counter(
            "botbill_balance_outputs", "What the balance agent wrote, per kind (ledger, "
            "notification, order, balance, reload)", ["kind"], registry=r)
        self.write_retries = Counter(
            "botbill_balance_write_retries", "Failed ClickHouse writes of the balance agent "
            "(each is retried)", registry=r)


class MoneyWriter:
    """Writes a batch's rows through ``sinks.money``: ledger and notifications before the
    orders and balances that summarize them. Blocking (run it in an executor)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None

    def write(self, batch: MoneyRows) -> None:
        if self._client is None:
            self._client = connect(self.url)
        try:
            sink_money.write_ledger(self._client, batch.ledger)
            sink_money.write_notifications(self._client, batch.notifications)
            sink_money.write_orders(self._client, batch.orders)
            sink_money.write_balances(self._client, batch.balances)
        except SinkUnavailable:
            client, self._client = self._client, None
            client.disconnect()
            raise


def _settle_ms(settings: WorkerSettings) -> int:
    longest = max([settings.policy.default_ms, *settings.policy.per_bot.values()])
    return longest + settings.grace_ms


def install_balance_agent(app: faust.App, settings: WorkerSettings, codec: AvroCodec,
                          metrics: Metrics, progress: Progress,
                          catalog: Catalog | None = None) -> None:
    """Add the balance agent, its table and timer to ``app``, and to the health check."""
    gauges = BalanceMetrics(metrics)
    handler = BalanceHandler(codec, catalog or load_catalog(), _settle_ms(settings))
    writer = MoneyWriter(settings.clickhouse_url)
    stopping = threading.Event()
    lock = asyncio.Lock()
    progress.subscriptions = {**progress.subscriptions, AGENT: topics.BALANCE_INPUTS}

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", allow_empty=True)

    inputs = app.topic(*topics.BALANCE_INPUTS, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw", allow_empty=True)
    out = {name: raw_topic(name) for name in (
        topics.WALLET_LEDGER, topics.NOTIFICATIONS, topics.BOT_ENTITLEMENTS,
        topics.ACCOUNT_EVENTS, topics.DEAD_LETTERS)}
    table = app.Table(TABLE, partitions=settings.partitions,
                      schema=faust.Schema(key_type=str, key_serializer="json",
                                          value_serializer="json"))
    clock = PartitionClock(topics.BALANCE_INPUTS, settings.idle_seconds, settings.max_skew_ms)
    due: dict[int, list[tuple[int, str]]] = {}  # partition -> heap of (event time, bot key)

    def store(partition: int, key: str, state: dict[str, Any]) -> None:
        table.data[key] = state
        table.send_changelog(partition, key, state)

    async def send(outgoing: list[Outgoing]) -> None:
        futures = [await out[m.topic].send(key=m.key, value=m.value, headers=list(m.headers))
                   for m in outgoing]
        await asyncio.gather(*futures)

    def write_blocking(batch: MoneyRows) -> None:
        delay = 0.5
        while True:
            try:
                writer.write(batch)
                return
            except SinkUnavailable as error:
                gauges.write_retries.inc()
                log.warning("balance agent: ClickHouse write failed (next in %.1fs): %s",
                            delay, error)
                if stopping.wait(delay):
                    raise
                delay = min(30.0, delay * 2)

    async def recompute(bots: dict[str, tuple[int, dict[str, Any]]]) -> None:
        """Recompute each bot (key -> (partition, state)) and write what changed."""
        outgoing: list[Outgoing] = []
        batch = MoneyRows()
        states: list[tuple[int, str, dict[str, Any]]] = []
        now = time.monotonic()
        for key, (partition, state) in bots.items():
            watermark = clock.watermark(partition, now)
            if watermark == NO_WATERMARK:
                heapq.heappush(due.setdefault(partition, []), (NO_WATERMARK, key))
                states.append((partition, key, state))
                continue
            started = time.perf_counter()
            try:
                done = handler.recompute(state, watermark, partition)
            except Exception:  # a bug must not stop every other bot's billing
                log.exception("balance agent: recomputing %r failed; its inputs are kept",
                              key)
                gauges.rejections.labels("internal").inc()
                states.append((partition, key, state))
                continue
            gauges.recompute_seconds.observe(time.perf_counter() - started)
            if done.next_due is not None:
                heapq.heappush(due.setdefault(partition, []), (done.next_due, key))
            if done.rejections:
                gauges.rejections.labels("rule").inc(done.rejections)
                metrics.invalid_events.labels(topics.ACCOUNT_EVENTS).inc(done.rejections)
            if done.entitlement is not None:
                gauges.entitlement_changes.labels(str(done.entitlement.allowed).lower()).inc()
            outgoing += done.outgoing
            batch.extend(done.rows)
            states.append((partition, key, done.state))
        entitlements = [m for m in outgoing if m.topic == topics.BOT_ENTITLEMENTS]
        await send(entitlements + [m for m in outgoing if m.topic != topics.BOT_ENTITLEMENTS])
        if len(batch):
            await asyncio.get_running_loop().run_in_executor(None, write_blocking, batch)
        for kind, count in (("ledger", len(batch.ledger)),
                            ("notification", len(batch.notifications)),
                            ("order", len(batch.orders)), ("balance", len(batch.balances))):
            if count:
                gauges.outputs.labels(kind).inc(count)
        for partition, key, state in states:
            store(partition, key, state)

    def absorb(messages: list[Any]) -> tuple[dict[str, tuple[int, dict[str, Any]]],
                                             list[Outgoing]]:
        """Each message into its bot's state: ``(touched bots, dead letters)``."""
        touched: dict[str, tuple[int, dict[str, Any]]] = {}
        dead: list[Outgoing] = []
        now = time.monotonic()
        for m in messages:
            gauges.messages.labels(m.topic).inc()
            try:
                item = handler.decode(m.topic, m.value, m.headers)
            except (InvalidMessage, KeyError, TypeError, ValueError) as error:
                gauges.rejections.labels("shape").inc()
                metrics.invalid_events.labels(m.topic).inc()
                reason = (str(error) if isinstance(error, InvalidMessage)
                          else f"not a valid record: {error!r}")
                dead.append(dead_letter(codec, m.topic, m.partition, m.offset, m.key,
                                        m.value, reason, now_ms()))
                continue
            if item is None:  # a snapshot marker of the sessionizer: nothing to bill
                continue
            clock.observe(m.topic, m.partition, item.at, now, now_ms())
            key = bot_key(item.account_id, item.bot_id)
            partition, state = touched.get(key) or (m.partition, _load(table, key))
            if state is None:
                state = handler.new_state(item.account_id, item.bot_id)
            handler.absorb(state, item, m.offset)
            touched[key] = (partition, state)
        return touched, dead

    async def handle(events: list[Any]) -> None:
        messages = [e.message for e in events]
        for message in messages:
            message.incref()  # pinned until written: see the module docstring
        async with lock:  # the timer recomputes too: one bot, one writer at a time
            touched, dead = absorb(messages)
            await send(dead)
            for partition in {p for p, _ in touched.values()}:
                _pop_due(partition, touched)
            await recompute(touched)
        done = time.monotonic()
        for message in messages:
            message.decref()
            progress.processed(AGENT, message.topic, message.partition, message.offset, done)

    def _pop_due(partition: int, into: dict[str, tuple[int, dict[str, Any]]]) -> None:
        """Move the bots of ``partition`` whose recompute came due into ``into``."""
        heap = due.get(partition, [])
        watermark = clock.watermark(partition, time.monotonic())
        while heap and watermark != NO_WATERMARK and heap[0][0] <= watermark:
            _, key = heapq.heappop(heap)
            if key not in into:
                state = _load(table, key)
                if state is not None:
                    into[key] = (partition, state)

    @app.agent(inputs, name=f"{__name__}.balance")
    async def balance(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_SECONDS):
            try:
                await handle(events)
            except SchemaRegistryUnavailable:
                raise  # not the messages' fault: crash, restart, read them again

    @app.timer(TIMER_SECONDS)
    async def balance_due() -> None:
        """Event time moves on while inputs are idle: run what came due."""
        if not due:
            return
        async with lock:
            bots: dict[str, tuple[int, dict[str, Any]]] = {}
            for partition in list(due):
                _pop_due(partition, bots)
            if bots:
                await recompute(bots)

    @app.on_before_shutdown.connect
    async def stop_balance_retries(sender: Any, **kwargs: Any) -> None:
        stopping.set()

    app.botbill_balance = handler  # type: ignore[attr-defined]


def _load(table: Any, key: str) -> dict[str, Any] | None:
    """A private copy of the bot's stored state (absorbing must not touch the stored one
    before the batch is written)."""
    state = table.data.get(key)
    return None if state is None else orjson.loads(orjson.dumps(state))
