"""Records <-> table rows: the column lists the writer and the queries share.

Pure functions, no I/O: a batch becomes one :class:`Insert` per table, and a raw row reads
back as the event mapping it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, NamedTuple

from botbill.billing_rules.events import (
    AgentHandoff,
    AlertDelivered,
    ConversationTurn,
    Event,
    event_from_mapping,
    event_to_mapping,
)
from botbill.billing_rules.exceptions import InvalidEvent
from botbill.billing_rules.periods import billing_day
from botbill.billing_rules.sessions import UsageSession
from botbill.billing_rules.timeutil import format_ms

from .exceptions import SinkError
from .store import SinkBatch

__all__ = ["ACCOUNT_EVENT_COLUMNS", "EVENT_COLUMNS", "RAW_EVENT_COLUMNS", "USAGE_COLUMNS",
           "Insert", "account_event_row", "batch_inserts", "event_mapping"]

_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    cls.type: tuple(f.name for f in fields(cls))
    for cls in (ConversationTurn, AgentHandoff, AlertDelivered)
}
# Every field of every event type, each once, in first-seen order.
_ALL_EVENT_FIELDS = tuple(dict.fromkeys(f for names in _EVENT_FIELDS.values() for f in names))
_KAFKA = ("kafka_topic", "kafka_partition", "kafka_offset")

EVENT_COLUMNS = ("event_type", *_ALL_EVENT_FIELDS)  # what raw_events() reads back
RAW_EVENT_COLUMNS = (*EVENT_COLUMNS, *_KAFKA, "ingested_at")
USAGE_COLUMNS = tuple(f.name for f in fields(UsageSession))
_ALERT_COLUMNS = ("account_id", "bot_id", "event_id", "delivered_at", "billing_day")
_SNAPSHOT_COLUMNS = ("account_id", "bot_id", "conversation_id", "revision", "closed_end")
_LATE_COLUMNS = ("event_type", "event_id", "account_id", "bot_id", "conversation_id",
                 "occurred_at", "reason", "watermark", "payload", *_KAFKA)
_DEAD_COLUMNS = (*_KAFKA, "key", "value", "error", "failed_at")
ACCOUNT_EVENT_COLUMNS = ("account_id", "bot_id", "event_id", "content_hash", "event_type",
                         "occurred_at", "payload", *_KAFKA, "ingested_at")


class Insert(NamedTuple):
    """One INSERT of a batch: the statement for clickhouse-driver and its rows."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    @property
    def sql(self) -> str:
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES"


def batch_inserts(batch: SinkBatch, *, ingested_at: int) -> list[Insert]:
    """The batch as inserts, one per table that has rows; raises :class:`SinkError` naming
    the first record the tables cannot hold."""
    raw = []
    for event_map, topic, partition, offset in batch.raw_events:
        event = _event(event_map)
        raw.append((event.type, *(_column(event, f) for f in _ALL_EVENT_FIELDS),
                    topic, partition, offset, ingested_at))
    usage = []
    for change in batch.usage_changes:
        if change.revision < 0:
            raise SinkError(f"usage session {change.session.identity}: negative revision")
        usage.append((*(getattr(change.session, f) for f in USAGE_COLUMNS),
                      change.revision, int(change.voided), billing_day(change.session)))
    snapshots = [(n.account_id, n.bot_id, n.conversation_id, n.revision, n.closed_end)
                 for n in batch.usage_snapshots]
    alerts = [(a.account_id, a.bot_id, a.event_id, a.delivered_at, billing_day(a))
              for a in batch.alert_sessions]
    late = []
    for record in batch.late_events:
        event = _event(record.event)
        late.append((event.type, event.event_id, event.account_id, event.bot_id,
                     _column(event, "conversation_id"), event.occurred_at, record.reason,
                     record.watermark, _json_line(event), record.topic, record.partition,
                     record.offset))
    dead = [(d.topic, d.partition, d.offset, d.key, d.value, d.error, d.failed_at)
            for d in batch.dead_letters]
    accounts = [(*account_event_row(a.record), a.topic, a.partition, a.offset, ingested_at)
                for a in batch.account_events]
    tables = (("raw_events", RAW_EVENT_COLUMNS, raw),
              ("usage_sessions", (*USAGE_COLUMNS, "revision", "voided", "billing_day"), usage),
              ("usage_snapshots", _SNAPSHOT_COLUMNS, snapshots),
              ("alert_sessions", _ALERT_COLUMNS, alerts),
              ("late_events", _LATE_COLUMNS, late),
              ("dead_letters", _DEAD_COLUMNS, dead),
              ("account_events", ACCOUNT_EVENT_COLUMNS, accounts))
    return [Insert(table, columns, rows) for table, columns, rows in tables if rows]


def account_event_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """An account-event record -> ``(account_id, bot_id, event_id, content_hash, event_type,
    occurred_at, payload)``: the payload is the record as canonical JSON (sorted keys), its
    SHA-256 tells versions of one ``event_id`` apart. Raises :class:`SinkError` for a record
    without the identity every account event has (the Avro schemas guarantee it)."""
    try:
        payload = json.dumps(dict(record), sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"))
        identity = (str(record["account_id"]), str(record["bot_id"]), str(record["event_id"]))
        kind, occurred_at = str(record["type"]), int(record["occurred_at"])
    except (KeyError, TypeError, ValueError) as error:
        raise SinkError(f"account event the archive cannot hold: {record!r} ({error!r})"
                        ) from None
    digest = hashlib.sha256(payload.encode()).hexdigest()
    return (*identity, digest, kind, occurred_at, payload)


def event_mapping(event_type: str, values: Sequence[Any]) -> dict[str, Any]:
    """A raw row read as :data:`EVENT_COLUMNS` (``event_type`` apart) -> the
    ``event_to_mapping`` form of the event it stored."""
    row = dict(zip(_ALL_EVENT_FIELDS, values, strict=False))
    mapping = {"type": event_type, **{f: row[f] for f in _EVENT_FIELDS[event_type]}}
    mapping["is_test"] = bool(mapping["is_test"])
    return mapping


def _event(mapping: Mapping[str, Any]) -> Event:
    try:
        return event_from_mapping(mapping)
    except InvalidEvent as error:
        raise SinkError(f"event the raw tables cannot hold: {error}") from error


def _json_line(event: Event) -> str:
    """The event in the JSON Lines form of BILLING_RULES §1 (RFC 3339 ``occurred_at``)."""
    record = event_to_mapping(event)
    record["occurred_at"] = format_ms(event.occurred_at)
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def _column(event: Event, name: str) -> Any:
    """The event's value for a shared column: '' where its type has no such field."""
    if name in _EVENT_FIELDS[event.type]:
        value = getattr(event, name)
        return int(value) if name == "is_test" else value
    return None if name == "agent_id" else ""
