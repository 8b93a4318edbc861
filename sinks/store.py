"""The sink contract: what the stream hands over per flush, and who can take it.

The worker collects everything one poll produced into a :class:`SinkBatch`, writes it with
:meth:`SessionStore.write_batch`, and only then commits the Kafka offsets the batch came
from. Implementations must make a repeated write of the same batch change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession, row_sort_key

from .exceptions import SinkUnavailable

__all__ = ["AccountEventRecord", "DeadLetterRecord", "InMemoryStore", "LateEventRecord",
           "RawEventRecord", "SessionStore", "SinkBatch", "UsageSnapshot", "superseded"]


class RawEventRecord(NamedTuple):
    """One input event as consumed: its mapping (``event_to_mapping`` form, ``occurred_at``
    in epoch ms) and where it came from. Plain 4-tuples are accepted too."""

    event: Mapping[str, Any]
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class LateEventRecord:
    """A valid event the stream refused because its visit was closed (BILLING_RULES §4);
    the fields of the ``LateEvent`` Avro record plus where the event was consumed."""

    event: Mapping[str, Any]  # event_to_mapping form, occurred_at in epoch ms
    reason: str
    watermark: int  # the stream's event time when it arrived, epoch ms
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A message that could not be decoded or validated, kept byte for byte (the
    ``DeadLetter`` Avro record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error: str
    failed_at: int  # epoch ms, worker's wall clock


class AccountEventRecord(NamedTuple):
    """One account event as consumed from ``account-events`` (MONEY_RULES §1): its record
    (``type`` + fields, times in epoch ms, as ``account_event_to_mapping`` gives them) and
    where it came from. Archived as it is: whether it may be applied is the engine's call."""

    record: Mapping[str, Any]
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """A conversation's usage at ``revision`` was sent whole: its sessions starting after
    ``closed_end`` (-1: no visit closed yet) with an older revision are superseded."""

    account_id: str
    bot_id: str
    conversation_id: str
    revision: int
    closed_end: int


def superseded(change: SessionChange, newest: UsageSnapshot | None) -> bool:
    """Whether the conversation's newest snapshot outranks this session row (the rule
    ``sinks.queries.billed_sessions`` applies in SQL)."""
    return (newest is not None and change.revision < newest.revision
            and change.session.conversation_session_start > newest.closed_end)


@dataclass(slots=True)
class SinkBatch:
    """Everything one flush writes. Order inside each list does not matter: rows carry their
    own identities and revisions."""

    raw_events: list[RawEventRecord] = field(default_factory=list)
    usage_changes: list[SessionChange] = field(default_factory=list)
    usage_snapshots: list[UsageSnapshot] = field(default_factory=list)
    alert_sessions: list[AlertSession] = field(default_factory=list)
    late_events: list[LateEventRecord] = field(default_factory=list)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)
    account_events: list[AccountEventRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.raw_events) + len(self.usage_changes) + len(self.usage_snapshots)
                + len(self.alert_sessions) + len(self.late_events) + len(self.dead_letters)
                + len(self.account_events))


class SessionStore(Protocol):
    """Where batches go. ``write_batch`` either stores the whole batch or raises.

    It raises :class:`~sinks.exceptions.SinkUnavailable` when a retry may succeed; the
    caller must then not commit the batch's offsets, and retries the same batch (see
    :func:`sinks.retry.write_with_retry`). Writing a batch twice equals writing it once.
    """

    def write_batch(self, batch: SinkBatch) -> None: ...


class InMemoryStore:
    """:class:`SessionStore` in memory, for unit tests of its callers only.

    ``failures`` makes the next that many writes raise :class:`SinkUnavailable`, to exercise
    a caller's retry path. :meth:`billed` reads back with the same deduplication as the
    ClickHouse queries (latest revision per session, voided left out).
    """

    def __init__(self, *, failures: int = 0) -> None:
        self.failures = failures
        self.batches: list[SinkBatch] = []

    def write_batch(self, batch: SinkBatch) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise SinkUnavailable("simulated outage", table="in-memory")
        self.batches.append(batch)

    def billed(self) -> list[UsageSession | AlertSession]:
        """Billed sessions in ``row_sort_key`` order, as ``sinks.queries.billed_sessions``."""
        latest: dict[tuple[str, str, str, int, int], SessionChange] = {}
        snapshots: dict[tuple[str, str, str], UsageSnapshot] = {}
        alerts: dict[tuple[str, str, str], AlertSession] = {}
        for batch in self.batches:
            for change in batch.usage_changes:
                known = latest.get(change.session.identity)
                if known is None or change.revision >= known.revision:
                    latest[change.session.identity] = change
            for snap in batch.usage_snapshots:
                key = (snap.account_id, snap.bot_id, snap.conversation_id)
                if key not in snapshots or snap.revision >= snapshots[key].revision:
                    snapshots[key] = snap
            for alert in batch.alert_sessions:
                alerts[(alert.account_id, alert.bot_id, alert.event_id)] = alert
        billed: list[UsageSession | AlertSession] = [
            change.session for change in latest.values() if not change.voided
            and not superseded(change, snapshots.get(change.session.identity[:3]))]
        billed.extend(alerts.values())
        return sorted(billed, key=row_sort_key)
