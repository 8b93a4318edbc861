"""The sink agent's work: decode a batch of messages into a :class:`sinks.store.SinkBatch`
and write it to ClickHouse before Kafka may commit the batch's offsets.

Delivery, step by step:

1. every message of the batch is pinned (its ref-count raised), so Faust cannot commit its
   offset even when the batch loop is torn down mid-write;
2. the batch is written (one INSERT per table), retried with backoff while ClickHouse is
   down — the stream waits, nothing is dropped;
3. only after the write succeeded are the pins released; Faust then acks the messages and
   commits their offsets on its next commit.

A crash before 3 re-delivers the batch; writing it again changes nothing, since every row
carries a deterministic identity and version (ReplacingMergeTree).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson

from botbill.billing_rules.events import event_to_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, SchemaError
from botbill.schemas.codec import AvroCodec
from botbill.sinks.retry import write_with_retry
from botbill.sinks.store import (
    AccountEventRecord,
    DeadLetterRecord,
    LateEventRecord,
    RawEventRecord,
    SessionStore,
    SinkBatch,
    UsageSnapshot,
)

from . import topic_names as topics
from .handlers import OCCURRED_AT_HEADER, SNAPSHOT_MARKER_INDEX, InvalidMessage, decode_input
from .health import Progress
from .metrics import Metrics

__all__ = ["SinkWriter", "build_batch"]

log = logging.getLogger(__name__)

_SESSION_FIELDS = UsageSession.__slots__  # type: ignore[attr-defined]


def build_batch(codec: AvroCodec, messages: Sequence[Any]) -> tuple[SinkBatch, list[int]]:
    """Messages (with ``topic, partition, offset, key, value, headers``) -> the batch, and
    the ``occurred_at`` of the events behind its rows (for the end-to-end latency)."""
    batch = SinkBatch()
    occurred: list[int] = []
    for m in messages:
        if m.topic in topics.INPUT_TOPICS:
            try:
                event = decode_input(codec, m.topic, m.value)
            except InvalidMessage:
                continue  # the sessionizer sends it to the dead letters, with its reason
            batch.raw_events.append(RawEventRecord(event_to_mapping(event), m.topic,
                                                   m.partition, m.offset))
            continue
        if m.topic == topics.ACCOUNT_EVENTS:
            _add_account_event(codec, batch, m)
            continue
        try:
            record = _decode_output(codec, m.topic, m.value)
            _add_output(batch, occurred, m, record)
        except (SchemaError, KeyError, TypeError, ValueError) as error:
            # a record that does not belong on this topic: kept, byte for byte, with why
            batch.dead_letters.append(DeadLetterRecord(
                m.topic, m.partition, m.offset, m.key, m.value or b"",
                f"not a valid {_OUTPUT_SCHEMAS.get(m.topic, '?')} record: {error!r}",
                int(time.time() * 1000)))
    return batch, occurred


_OUTPUT_SCHEMAS = {topics.USAGE_SESSIONS: "UsageSessionChange",
                   topics.ALERT_SESSIONS: "AlertSession",
                   topics.LATE_EVENTS: "LateEvent",
                   topics.DEAD_LETTERS: "DeadLetter"}


_ACCOUNT_TYPES = {schema: kind for kind, schema in ACCOUNT_EVENT_SCHEMAS.items()}


def _add_account_event(codec: AvroCodec, batch: SinkBatch, m: Any) -> None:
    """Archive an account event as it is (the jobs recompute the money from the archive);
    bytes that are no account event are kept in the dead letters with why."""
    try:
        if not m.value:
            raise ValueError("empty message value")
        schema_name, record = codec.decode(m.value)
        if schema_name not in _ACCOUNT_TYPES:
            raise ValueError(f"topic {m.topic!r} carries account events, got {schema_name}")
    except (SchemaError, ValueError) as error:
        batch.dead_letters.append(DeadLetterRecord(
            m.topic, m.partition, m.offset, m.key, m.value or b"",
            f"not a valid account event: {error}", int(time.time() * 1000)))
        return
    batch.account_events.append(AccountEventRecord(
        {"type": _ACCOUNT_TYPES[schema_name], **record}, m.topic, m.partition, m.offset))


def _decode_output(codec: AvroCodec, topic: str, value: bytes | None) -> dict[str, Any]:
    if not value:
        raise ValueError("empty message value")
    schema_name, record = codec.decode(value)
    if schema_name != _OUTPUT_SCHEMAS[topic]:
        raise ValueError(f"topic {topic!r} carries {_OUTPUT_SCHEMAS[topic]}, got {schema_name}")
    return record


def _add_output(batch: SinkBatch, occurred: list[int], m: Any, record: dict[str, Any]) -> None:
    if m.topic == topics.USAGE_SESSIONS and record["session_index"] == SNAPSHOT_MARKER_INDEX:
        batch.usage_snapshots.append(UsageSnapshot(
            record["account_id"], record["bot_id"], record["conversation_id"],
            record["revision"], record["conversation_session_start"]))
    elif m.topic == topics.USAGE_SESSIONS:
        session = UsageSession(*(record[name] for name in _SESSION_FIELDS))
        batch.usage_changes.append(SessionChange(session, record["revision"],
                                                 record["voided"]))
        occurred.extend(_header_times(m.headers))
    elif m.topic == topics.ALERT_SESSIONS:
        batch.alert_sessions.append(AlertSession(**record))
        occurred.append(record["delivered_at"])
    elif m.topic == topics.LATE_EVENTS:
        event = orjson.loads(record["payload"])
        batch.late_events.append(LateEventRecord(event, record["reason"], record["watermark"],
                                                 m.topic, m.partition, m.offset))
    else:
        batch.dead_letters.append(DeadLetterRecord(
            record["source_topic"], record["source_partition"], record["source_offset"],
            record["key"], record["value"], record["error"], record["failed_at"]))


def _header_times(headers: Any) -> list[int]:
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    return [int(value) for name, value in items if name == OCCURRED_AT_HEADER]


class SinkWriter:
    """Writes batches of Faust events to a :class:`SessionStore`, pinned until stored."""

    def __init__(self, store: SessionStore, codec: AvroCodec, metrics: Metrics,
                 progress: Progress) -> None:
        self.store = store
        self.codec = codec
        self.metrics = metrics
        self.progress = progress
        self.stopping = threading.Event()  # set on shutdown: an unwritten batch stays pinned
        self.failing_since: float | None = None

    async def write(self, events: Sequence[Any]) -> None:
        messages = [e.message for e in events]
        for message in messages:
            message.incref()  # pin: see the module docstring
        batch, occurred = build_batch(self.codec, messages)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._write_blocking, batch)
        self.metrics.sink_batch_seconds.observe(time.perf_counter() - started)
        now_ms = time.time() * 1000
        for at in occurred:
            self.metrics.end_to_end_latency.observe(max(0.0, (now_ms - at) / 1000))
        for table, rows in (("raw_events", batch.raw_events),
                            ("usage_sessions", batch.usage_changes),
                            ("usage_snapshots", batch.usage_snapshots),
                            ("alert_sessions", batch.alert_sessions),
                            ("late_events", batch.late_events),
                            ("dead_letters", batch.dead_letters),
                            ("account_events", batch.account_events)):
            if rows:
                self.metrics.sink_rows.labels(table).inc(len(rows))
        now = time.monotonic()
        for message in messages:
            message.decref()
            self.progress.processed("sink", message.topic, message.partition, message.offset,
                                    now)

    def _write_blocking(self, batch: SinkBatch) -> None:
        def on_retry(attempt: int, delay: float, error: Exception) -> None:
            self.metrics.sink_errors.inc()
            self.metrics.sink_retries.inc()
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            log.warning("ClickHouse write failed (attempt %d, next in %.1fs): %s",
                        attempt, delay, error)

        write_with_retry(self.store, batch, on_retry=on_retry, stop=self.stopping)
        self.failing_since = None
