"""R1-R7 in batch form: one conversation's events in, its billed usage sessions out.

The incremental machine (``incremental.py``) calls the same functions on the events it
holds, so the stream and ``replay`` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter

from .events import AgentHandoff, ConversationEvent, ConversationKey, ConversationTurn
from .sessions import UsageSession
from .timeutil import SESSION_MS

__all__ = [
    "Visit",
    "agent_intervals",
    "bill_conversation",
    "bill_ordered",
    "bill_visit",
    "in_sort_key_order",
    "session_starts",
    "sort_key",
    "split_visits",
    "unique_billable",
]


def sort_key(event: ConversationEvent) -> tuple[int, str]:
    """Event-time order; ties broken by event id so that every run agrees."""
    return (event.occurred_at, event.event_id)


def unique_billable(events: Iterable[ConversationEvent]) -> list[ConversationEvent]:
    """R2 then R1: drop test traffic, then keep the first delivery of each event id."""
    first: dict[str, ConversationEvent] = {}
    for event in events:
        if not event.is_test:
            first.setdefault(event.event_id, event)
    return list(first.values())


_sort_key = attrgetter("occurred_at", "event_id")  # sort_key, without a Python call
_speaker = attrgetter("speaker")


@dataclass(frozen=True, slots=True)
class Visit:
    """R3: a run of events with no gap longer than ``T``; spans ``[start, end]``."""

    events: tuple[ConversationEvent, ...]

    @property
    def start(self) -> int:
        return self.events[0].occurred_at

    @property
    def end(self) -> int:
        return self.events[-1].occurred_at


def split_visits(ordered: Sequence[ConversationEvent], timeout_ms: int) -> list[Visit]:
    """R3 over events already in :func:`sort_key` order. A gap of exactly ``T`` does not split."""
    visits: list[Visit] = []
    first = 0
    for index in range(1, len(ordered)):
        if ordered[index].occurred_at - ordered[index - 1].occurred_at > timeout_ms:
            visits.append(Visit(tuple(ordered[first:index])))
            first = index
    if ordered:
        visits.append(Visit(tuple(ordered[first:])))
    return visits


def agent_intervals(visit: Visit) -> list[tuple[int, int]]:
    """R5: the union of the visit's agent intervals, as sorted disjoint ``[start, end)``."""
    started: dict[str, int] = {}
    ended: dict[str, list[int]] = {}
    for event in visit.events:
        if isinstance(event, AgentHandoff):
            if event.phase == "STARTED":
                if event.handoff_id not in started:  # events are in time order
                    started[event.handoff_id] = event.occurred_at
            else:
                ended.setdefault(event.handoff_id, []).append(event.occurred_at)
    raw: list[tuple[int, int]] = []
    for handoff_id in started.keys() | ended.keys():
        start = started.get(handoff_id, visit.start)
        end = min((t for t in ended.get(handoff_id, ()) if t >= start), default=visit.end)
        if end > start:
            raw.append((start, end))
    raw.sort()
    merged: list[tuple[int, int]] = []
    for start, end in raw:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _bot_segments(visit: Visit, agent: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The complement of the agent intervals within ``[start, end]``."""
    cursor = visit.start
    for start, end in agent:
        if start > cursor:
            yield (cursor, start)
        cursor = max(cursor, end)
    if visit.end > cursor:
        yield (cursor, visit.end)


def session_starts(visit: Visit) -> list[int]:
    """R6 and R7: when each usage session of an interactive visit starts.

    Session ``k >= 2`` starts at the last instant at which bot time ``B(t) = (k-1)*SESSION``:
    the first bot segment in which ``B`` grows past that value, at the offset where it
    reaches it (so a value reached at an agent interval's start moves to its end).
    """
    segments = list(_bot_segments(visit, agent_intervals(visit)))
    bot_time = sum(end - start for start, end in segments)
    count = max(1, -(-bot_time // SESSION_MS))
    starts = [visit.start]
    before = 0  # bot time accumulated before the current segment
    segment = iter(segments)
    seg_start, seg_end = next(segment, (visit.end, visit.end))
    for k in range(2, count + 1):
        target = (k - 1) * SESSION_MS
        while before + (seg_end - seg_start) <= target:
            before += seg_end - seg_start
            seg_start, seg_end = next(segment)
        starts.append(seg_start + (target - before))
    return starts


def bill_visit(key: ConversationKey, visit: Visit) -> list[UsageSession]:
    """R4-R7 for one visit: nothing unless a USER spoke; else its usage sessions."""
    turns = [e for e in visit.events if isinstance(e, ConversationTurn)]
    if "USER" not in map(_speaker, turns):
        return []
    first_turn = turns[0]
    start, end = visit.start, visit.end
    if len(turns) == len(visit.events):  # no agent time: bot time is the whole visit
        starts = list(range(start, end, SESSION_MS)) or [start]
    else:
        starts = session_starts(visit)
    ends = [*starts[1:], end]
    account_id, bot_id, conversation_id = key
    return [
        UsageSession(account_id, bot_id, conversation_id, first_turn.channel,
                     first_turn.user_id, start, end, index, session_start, session_end)
        for index, (session_start, session_end) in enumerate(zip(starts, ends, strict=True),
                                                             start=1)
    ]


def bill_conversation(
    key: ConversationKey, events: Iterable[ConversationEvent], timeout_ms: int
) -> list[UsageSession]:
    """All of R1-R7 for one conversation's events, in any order, duplicates included."""
    return bill_ordered(key, in_sort_key_order(unique_billable(events)), timeout_ms)


def in_sort_key_order(events: Iterable[ConversationEvent]) -> list[ConversationEvent]:
    """``sorted(events, key=sort_key)``."""
    return sorted(events, key=_sort_key)


def bill_ordered(
    key: ConversationKey, ordered: Sequence[ConversationEvent], timeout_ms: int
) -> list[UsageSession]:
    """R3-R7 for one conversation's events that are already billable, unique and in
    :func:`sort_key` order (what :func:`bill_conversation` makes of any events)."""
    return [s for visit in split_visits(ordered, timeout_ms) for s in bill_visit(key, visit)]
