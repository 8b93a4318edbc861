"""R1-R8 over an event stream in one pass, with memory bounded by event time.

This is what ``botbill replay`` runs. Event time is the latest ``occurred_at`` read. Each
conversation's events are buffered until event time passes its closing time (last event
+ ``T`` + ``max_disorder``: the grace of :mod:`admission`); then the conversation is billed
with :func:`visits.bill_ordered` and forgotten, leaving a tombstone (the end of what was
billed) until :func:`admission.forget_time`.

Whatever the input order, every event is either taken by the rules or refused with
:class:`LateEvent` (the stream's lateness rule, :func:`admission.late_reason`, with grace
``max_disorder``), so that the rows are always the rules applied to exactly the events not
refused: what a conversation bills after a close is separated from what it billed before
by more than ``T``, so no visit is ever split or billed twice. With disorder below
``max_disorder`` nothing is refused.

Bookkeeping is a few dictionary operations per event; heap operations are per conversation:

* a conversation has one entry in the deadline heap, for a deadline that may be stale
  (too early); when it comes up, the conversation is billed if its real deadline has
  passed, else rescheduled at its real deadline;
* R1 is global: an event id (an alert's too) stays in memory until event time passes
  ``occurred_at + 2 (T + max_disorder)``, and as long as its conversation is open; ids
  leave memory in buckets of event time (a conversation's all at once, after the horizon
  of its last event). By then a copy with the same time is refused as late.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from .admission import admit, alert_late_reason, closing_time, forget_time, late_reason
from .events import AlertDelivered, ConversationEvent, ConversationKey, Event
from .exceptions import LateEvent
from .sessions import AlertSession, UsageSession, alert_session, row_sort_key
from .settings import DEFAULT_MAX_DISORDER_MS, TimeoutPolicy
from .timeutil import MINUTE_MS
from .visits import bill_ordered, in_sort_key_order

__all__ = ["DEFAULT_MAX_DISORDER_MS", "BatchBiller", "BatchCounters", "Billed"]

Billed = UsageSession | AlertSession
_CONVERSATION, _TOMBSTONE = 0, 1  # kinds of deadline
_SWEEPS_PER_HORIZON = 16  # id buckets per id horizon (a bucket: 1/16 of it, >= 1 minute)
_NEVER = float("inf")
_NEVER_STARTED = float("-inf")


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
    scheduled: int = 0  # the deadline of its entry in the heap: never after the real one


class BatchBiller:
    """Feed events with :meth:`add`; it returns what became final. End with :meth:`finish`."""

    def __init__(self, policy: TimeoutPolicy | None = None,
                 max_disorder_ms: int = DEFAULT_MAX_DISORDER_MS) -> None:
        self.policy = policy or TimeoutPolicy()
        self.max_disorder_ms = max_disorder_ms
        self.counters = BatchCounters()
        self._event_time: float = _NEVER_STARTED  # the watermark; -inf before any event
        self._per_bot = dict(self.policy.per_bot)
        self._default_timeout = self.policy.default_ms
        self._open: dict[ConversationKey, _Conversation] = {}
        # a billed conversation's key -> (end of its last visit, when that is forgotten)
        self._closed_end: dict[ConversationKey, tuple[int, int]] = {}
        self._deadlines: list[tuple[int, int, ConversationKey]] = []  # (when, kind, key)
        # R1 across all events, within the horizon: event id -> when it is forgotten
        self._seen_ids: dict[str, int] = {}
        self._bucket_ms = max(MINUTE_MS, 2 * max_disorder_ms // _SWEEPS_PER_HORIZON)
        self._id_buckets: dict[int, list[str]] = {}  # sweep time // bucket_ms -> ids
        self._bucket_heap: list[int] = []
        self._next_sweep: float = _NEVER  # event time at which a bucket can be swept
        self._next_due: float = _NEVER  # nothing to expire until event time passes this

    @property
    def open_conversations(self) -> int:
        return len(self._open)

    @property
    def watermark(self) -> int | None:
        """Event time: the latest ``occurred_at`` taken, ``None`` before the first event."""
        return None if self._event_time == _NEVER_STARTED else int(self._event_time)

    def add(self, event: Event) -> list[Billed]:
        """Take one event; return the sessions that became final. Raises :class:`LateEvent`
        (and then changes nothing but the ``events`` counter)."""
        counters = self.counters
        counters.events += 1
        seen_ids = self._seen_ids
        admission = admit(event, seen_ids)
        if admission != "new":
            if admission == "test":
                counters.test_events += 1
            else:
                counters.duplicates += 1
            return []
        event_id = event.event_id
        watermark = self._event_time
        at = event.occurred_at
        if isinstance(event, AlertDelivered):
            billed: list[Billed] = self._add_alert(event)
        else:
            billed = []
            timeout = self._per_bot.get(event.bot_id, self._default_timeout) \
                if self._per_bot else self._default_timeout
            key = (event.account_id, event.bot_id, event.conversation_id)
            # Only an event behind event time by more than T + max_disorder, or one for a
            # key with a tombstone, can be late (see admission.late_reason, which decides).
            if at + timeout + self.max_disorder_ms < watermark or key in self._closed_end:
                self._check_late(event, key, timeout)
            conversation = self._open.get(key)
            if conversation is None:
                conversation = self._open[key] = _Conversation(last_at=at)
                self._schedule(conversation, key, closing_time(at, timeout,
                                                               self.max_disorder_ms))
            conversation.events[event_id] = event
            if at > conversation.last_at:
                conversation.last_at = at  # its heap entry stays: it is rescheduled when due
            # Remember the id well past the event's own horizon, so that a redelivery
            # stamped with another time is still recognised; an older copy is refused as
            # late. The ids leave memory with their conversation's: see _close.
            forget_at = at + 2 * (timeout + self.max_disorder_ms)
            seen_ids[event_id] = forget_at if forget_at >= watermark else int(watermark)
        if at > watermark:
            self._event_time = at
            if at > self._next_due:
                billed.extend(self._expire())
        return billed

    def _check_late(self, event: ConversationEvent, key: ConversationKey, timeout: int) -> None:
        closed = self._closed_end.get(key)
        reason = late_reason(event.occurred_at, watermark=self._event_time, timeout_ms=timeout,
                             grace_ms=self.max_disorder_ms,
                             closed_end=None if closed is None else closed[0])
        if reason is not None:
            raise LateEvent(reason, event.event_id)

    def _add_alert(self, event: AlertDelivered) -> list[Billed]:
        """R8. An alert's id is remembered as long as a conversation event's, and it is late
        on the same horizon (``T + max_disorder``), so a redelivery is recognised as surely."""
        horizon = self._per_bot.get(event.bot_id, self._default_timeout) + self.max_disorder_ms
        reason = alert_late_reason(event.occurred_at, watermark=self._event_time,
                                   window_ms=horizon)
        if reason is not None:
            raise LateEvent(reason, event.event_id)
        self.counters.alert_sessions += 1
        forget_at = event.occurred_at + 2 * horizon
        if forget_at < self._event_time:
            forget_at = int(self._event_time)
        self._seen_ids[event.event_id] = forget_at
        self._sweep_later((event.event_id,), forget_at)
        return [alert_session(event)]

    def _schedule(self, conversation: _Conversation, key: ConversationKey, when: int) -> None:
        conversation.scheduled = when
        heapq.heappush(self._deadlines, (when, _CONVERSATION, key))
        self._next_due = min(self._next_due, when)

    def _sweep_later(self, event_ids: Iterable[str], at: int) -> None:
        """Drop these ids from memory once event time passes ``at`` (or a little later)."""
        bucket = at // self._bucket_ms
        ids = self._id_buckets.get(bucket)
        if ids is None:
            ids = self._id_buckets[bucket] = []
            heapq.heappush(self._bucket_heap, bucket)
            self._next_sweep = min(self._next_sweep, (bucket + 1) * self._bucket_ms)
            self._next_due = min(self._next_due, self._next_sweep - 1)
        ids.extend(event_ids)

    def _expire(self) -> list[Billed]:
        """Bill conversations and forget tombstones and event ids that event time passed."""
        billed: list[Billed] = []
        watermark = self._event_time
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < watermark:
            when, kind, key = heapq.heappop(deadlines)
            if kind == _CONVERSATION:
                conversation = self._open.get(key)
                if conversation is None or conversation.scheduled != when:
                    continue  # an entry left behind by a reschedule
                due = closing_time(conversation.last_at, self._timeout(key),
                                   self.max_disorder_ms)
                if due < watermark:
                    billed.extend(self._close(key, conversation))
                else:
                    self._schedule(conversation, key, due)
            else:
                closed = self._closed_end.get(key)
                if closed is not None and closed[1] == when:
                    del self._closed_end[key]
        if self._next_sweep <= watermark:
            self._sweep_ids(watermark)
        self._next_due = min(deadlines[0][0] if deadlines else _NEVER, self._next_sweep - 1)
        billed.sort(key=row_sort_key)
        return billed

    def _sweep_ids(self, watermark: float) -> None:
        """Drop from memory the ids of the buckets that event time has passed (an id is
        only ever in a bucket once its conversation is closed, or for an alert)."""
        buckets, heap, seen, width = self._id_buckets, self._bucket_heap, self._seen_ids, \
            self._bucket_ms
        while heap and (heap[0] + 1) * width <= watermark:
            for event_id in buckets.pop(heapq.heappop(heap)):
                forget_at = seen.get(event_id)
                if forget_at is not None and forget_at < watermark:  # not seen again since
                    del seen[event_id]
        self._next_sweep = (heap[0] + 1) * width if heap else _NEVER

    def _timeout(self, key: ConversationKey) -> int:
        return self._per_bot.get(key[1], self._default_timeout)

    def _close(self, key: ConversationKey, conversation: _Conversation) -> list[UsageSession]:
        timeout = self._timeout(key)
        del self._open[key]
        last_at = conversation.last_at
        forget_at = forget_time(last_at, timeout, self.max_disorder_ms)
        self._closed_end[key] = (last_at, forget_at)
        heapq.heappush(self._deadlines, (forget_at, _TOMBSTONE, key))
        # each id is forgotten by at + 2 (T + max_disorder) <= this, see add
        self._sweep_later(conversation.events, last_at + 2 * (timeout + self.max_disorder_ms))
        sessions = self._bill(key, conversation)
        self.counters.usage_sessions += len(sessions)
        return sessions

    def _bill(self, key: ConversationKey, conversation: _Conversation) -> list[UsageSession]:
        """R1-R7 (``visits.bill_conversation``) for events that are unique and billable."""
        ordered = in_sort_key_order(conversation.events.values())
        return bill_ordered(key, ordered, self._timeout(key))

    def finish(self) -> list[Billed]:
        """Bill everything still open (end of input)."""
        billed: list[Billed] = []
        for key in sorted(self._open):
            conversation = self._open[key]
            sessions = self._bill(key, conversation)
            self.counters.usage_sessions += len(sessions)
            billed.extend(sessions)
        self._open.clear()
        billed.sort(key=row_sort_key)
        return billed
