"""R1-R8 over an event stream in one pass, with memory bounded by event time.

This is what ``botbill replay`` runs. Each conversation's events are buffered until event
time (the latest ``occurred_at`` seen) passes ``last + T + max_disorder``; then the
conversation is billed with :func:`visits.bill_conversation` and forgotten, leaving a
tombstone so that a straggler is refused loudly rather than billed twice. The result is
exact for any input order whose disorder stays within ``max_disorder``; anything later is
reported as :class:`LateEvent`, never silently mis-billed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from .events import AlertDelivered, ConversationEvent, ConversationKey, Event
from .exceptions import LateEvent
from .sessions import AlertSession, UsageSession, row_sort_key
from .settings import TimeoutPolicy
from .timeutil import format_ms
from .visits import bill_conversation

__all__ = ["DEFAULT_MAX_DISORDER_MS", "BatchBiller", "BatchCounters", "Billed"]

DEFAULT_MAX_DISORDER_MS = 35 * 24 * 3600 * 1000  # one billing month and some margin
Billed = UsageSession | AlertSession


@dataclass(slots=True)
class BatchCounters:
    events: int = 0
    test_events: int = 0
    duplicates: int = 0
    usage_sessions: int = 0
    alert_sessions: int = 0


@dataclass(slots=True)
class _Conversation:
    events: dict[str, ConversationEvent] = field(default_factory=dict)
    last_at: int = 0


class BatchBiller:
    """Feed events with :meth:`add`; it returns what became final. End with :meth:`finish`."""

    def __init__(self, policy: TimeoutPolicy | None = None,
                 max_disorder_ms: int = DEFAULT_MAX_DISORDER_MS) -> None:
        self.policy = policy or TimeoutPolicy()
        self.max_disorder_ms = max_disorder_ms
        self.counters = BatchCounters()
        self.watermark: int | None = None
        self._open: dict[ConversationKey, _Conversation] = {}
        self._closed_end: dict[ConversationKey, int] = {}
        self._seen_ids: set[str] = set()  # R1 across all events, within the horizon
        self._deadlines: list[tuple[int, int, tuple[str, ...]]] = []  # (when, kind, key)

    @property
    def open_conversations(self) -> int:
        return len(self._open)

    def add(self, event: Event) -> list[Billed]:
        """Take one event; return the sessions that became final. Raises :class:`LateEvent`."""
        self.counters.events += 1
        if event.is_test:
            self.counters.test_events += 1
            return []
        at = event.occurred_at
        if event.event_id in self._seen_ids:
            self.counters.duplicates += 1
            return []
        timeout = 0 if isinstance(event, AlertDelivered) else self.policy.timeout_ms(event.bot_id)
        if isinstance(event, AlertDelivered):
            billed: list[Billed] = self._add_alert(event)
        else:
            self._add_turn_or_handoff(event)
            billed = []
        # Remember the id well past the event's own horizon, so that a redelivery stamped
        # with another time is still recognised; an older copy is refused as too old.
        self._seen_ids.add(event.event_id)
        forget_at = at + 2 * (timeout + self.max_disorder_ms)
        heapq.heappush(self._deadlines, (forget_at, 3, (event.event_id,)))
        if self.watermark is None or at > self.watermark:
            self.watermark = at
            billed.extend(self._expire())
        return billed

    def _too_old(self, event: Event, horizon: int) -> None:
        if self.watermark is not None and event.occurred_at + horizon < self.watermark:
            raise LateEvent(
                f"occurred at {format_ms(event.occurred_at)}, more than the allowed disorder "
                f"behind {format_ms(self.watermark)}; raise --max-disorder or sort the input",
                event.event_id)

    def _add_alert(self, event: AlertDelivered) -> list[Billed]:
        self._too_old(event, self.max_disorder_ms)
        self.counters.alert_sessions += 1
        return [AlertSession(event.account_id, event.bot_id, event.event_id, event.occurred_at)]

    def _add_turn_or_handoff(self, event: ConversationEvent) -> None:
        key = event.key
        timeout = self.policy.timeout_ms(event.bot_id)
        conversation = self._open.get(key)
        closed_end = self._closed_end.get(key)
        if closed_end is not None and event.occurred_at <= closed_end + timeout:
            raise LateEvent(
                f"occurred at {format_ms(event.occurred_at)}, within the inactivity timeout of "
                f"a visit that ended at {format_ms(closed_end)} and was already billed; "
                "raise --max-disorder or sort the input", event.event_id)
        if conversation is None:
            self._too_old(event, timeout + self.max_disorder_ms)
            conversation = self._open[key] = _Conversation(last_at=event.occurred_at)
        conversation.events[event.event_id] = event
        if event.occurred_at > conversation.last_at or len(conversation.events) == 1:
            conversation.last_at = event.occurred_at
            deadline = event.occurred_at + timeout + self.max_disorder_ms
            heapq.heappush(self._deadlines, (deadline, 0, key))

    def _expire(self) -> list[Billed]:
        """Bill conversations and forget tombstones and alert ids that event time passed."""
        billed: list[Billed] = []
        watermark = self.watermark
        assert watermark is not None
        while self._deadlines and self._deadlines[0][0] < watermark:
            _, kind, key = heapq.heappop(self._deadlines)
            if kind == 0:
                billed.extend(self._close(key))  # type: ignore[arg-type]
            elif kind == 1:
                self._closed_end.pop(key, None)  # type: ignore[call-overload]
            else:
                self._seen_ids.discard(key[0])
        billed.sort(key=row_sort_key)
        return billed

    def _close(self, key: ConversationKey) -> list[UsageSession]:
        conversation = self._open.get(key)
        timeout = self.policy.timeout_ms(key[1])
        if conversation is None or (
            self.watermark is not None
            and conversation.last_at + timeout + self.max_disorder_ms >= self.watermark
        ):
            return []  # a stale deadline: the conversation grew since it was scheduled
        del self._open[key]
        self._closed_end[key] = conversation.last_at
        forget_at = conversation.last_at + 2 * timeout + self.max_disorder_ms
        heapq.heappush(self._deadlines, (forget_at, 1, key))
        sessions = bill_conversation(key, conversation.events.values(), timeout)
        self.counters.usage_sessions += len(sessions)
        return sessions

    def finish(self) -> list[Billed]:
        """Bill everything still open (end of input)."""
        billed: list[Billed] = []
        for key in sorted(self._open):
            conversation = self._open[key]
            sessions = bill_conversation(key, conversation.events.values(),
                                         self.policy.timeout_ms(key[1]))
            self.counters.usage_sessions += len(sessions)
            billed.extend(sessions)
        self._open.clear()
        billed.sort(key=row_sort_key)
        return billed
