"""A brute-force oracle for BILLING_RULES.md, written from the text alone.

It shares no code with ``billing_rules`` beyond the input event types, and it is slow on
purpose: bot time is counted cell by cell on the finest grid the visit's times allow (one
second for generated inputs), and session ``k >= 2`` is found by scanning for the *last*
cell boundary ``t`` with ``B(t) == (k - 1) * SESSION`` (R7, literally).

Where the spec is silent the oracle assumes:

* R1 keeps the first delivery (in input order) of each ``event_id``, over all event types;
* events of equal ``occurred_at`` are ordered by ``event_id`` (this only matters for "the
  visit's first turn" when two turns tie).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from math import gcd
from typing import Any

from botbill.billing_rules.events import AgentHandoff, AlertDelivered, ConversationTurn, Event

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "SESSION_MS",
    "OracleVisit",
    "fmt",
    "oracle_alert_rows",
    "oracle_rows",
    "oracle_visits",
]

SESSION_MS = 15 * 60 * 1000
DEFAULT_TIMEOUT_MS = 15 * 60 * 1000

Key = tuple[str, str, str]
Row = dict[str, Any]


@dataclass(frozen=True)
class OracleVisit:
    """One visit as the oracle sees it (times in epoch ms)."""

    key: Key
    start: int
    end: int
    events: tuple[ConversationTurn | AgentHandoff, ...]
    agent_intervals: tuple[tuple[int, int], ...]  # per handoff id, not merged, maybe empty
    interactive: bool
    bot_time: int
    session_starts: tuple[int, ...]  # empty when not interactive


def fmt(epoch_ms: int) -> str:
    """Epoch ms -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``, built field by field."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
            f"{epoch_ms % 1000:03d}Z")


def _billable(events: Iterable[Event]) -> list[Event]:
    """R2 (drop test traffic first), then R1 (first delivery of each event id)."""
    seen: set[str] = set()
    kept: list[Event] = []
    for event in events:
        if event.is_test:
            continue
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        kept.append(event)
    return kept


def _timeout(bot_id: str, timeouts: Mapping[str, int], default_ms: int) -> int:
    return timeouts.get(bot_id, default_ms)


def oracle_visits(
    events: Iterable[Event],
    timeouts: Mapping[str, int] | None = None,
    default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[OracleVisit]:
    """R1-R7: every visit of every conversation, with its usage-session starts."""
    groups: dict[Key, list[ConversationTurn | AgentHandoff]] = {}
    for event in _billable(events):
        if isinstance(event, ConversationTurn | AgentHandoff):
            key = (event.account_id, event.bot_id, event.conversation_id)
            groups.setdefault(key, []).append(event)
    visits: list[OracleVisit] = []
    for key in sorted(groups):
        timeout = _timeout(key[1], timeouts or {}, default_timeout_ms)
        ordered = sorted(groups[key], key=lambda e: (e.occurred_at, e.event_id))
        current = [ordered[0]]
        for event in ordered[1:]:
            if event.occurred_at - current[-1].occurred_at > timeout:  # R3: exactly T joins
                visits.append(_visit(key, current))
                current = []
            current.append(event)
        visits.append(_visit(key, current))
    return visits


def _visit(key: Key, events: list[ConversationTurn | AgentHandoff]) -> OracleVisit:
    s, e = events[0].occurred_at, events[-1].occurred_at
    interactive = any(isinstance(x, ConversationTurn) and x.speaker == "USER" for x in events)
    intervals: list[tuple[int, int]] = []
    for handoff_id in sorted({x.handoff_id for x in events if isinstance(x, AgentHandoff)}):
        mine = [x for x in events if isinstance(x, AgentHandoff) and x.handoff_id == handoff_id]
        started = [x.occurred_at for x in mine if x.phase == "STARTED"]
        start = min(started) if started else s
        ended = [x.occurred_at for x in mine if x.phase == "ENDED" and x.occurred_at >= start]
        end = min(ended) if ended else e
        intervals.append((start, end))
    # The grid: every boundary (event times, SESSION multiples from s) lies on it.
    step = SESSION_MS
    for x in events:
        step = gcd(step, x.occurred_at - s)
    cells = (e - s) // step
    agent = [False] * cells
    for start, end in intervals:
        for cell in range((start - s) // step, (end - s) // step):  # [start, end)
            agent[cell] = True
    bot_before = [0]  # bot_before[j] = B(s + j*step) / step
    for cell in range(cells):
        bot_before.append(bot_before[-1] + (0 if agent[cell] else 1))
    bot_time = bot_before[-1] * step
    starts: list[int] = []
    if interactive:
        count = max(1, -(-bot_time // SESSION_MS))  # R6
        starts.append(s)
        for k in range(2, count + 1):  # R7: the LAST t with B(t) == (k-1) * SESSION
            target = (k - 1) * SESSION_MS // step
            last = max(j for j, b in enumerate(bot_before) if b == target)
            starts.append(s + last * step)
    return OracleVisit(key, s, e, tuple(events), tuple(intervals), interactive, bot_time,
                       tuple(starts))


def _usage_rows(visit: OracleVisit) -> list[Row]:
    first_turn = next(x for x in visit.events if isinstance(x, ConversationTurn))
    ends = [*visit.session_starts[1:], visit.end]
    account_id, bot_id, conversation_id = visit.key
    return [
        {
            "kind": "usage",
            "account_id": account_id,
            "bot_id": bot_id,
            "conversation_id": conversation_id,
            "channel": first_turn.channel,
            "user_id": first_turn.user_id,
            "conversation_session_start": fmt(visit.start),
            "conversation_session_end": fmt(visit.end),
            "session_index": index,
            "billing_session_start": fmt(start),
            "billing_session_end": fmt(end),
        }
        for index, (start, end) in enumerate(zip(visit.session_starts, ends, strict=True), 1)
    ]


def oracle_alert_rows(events: Iterable[Event]) -> list[Row]:
    """R8: one alert session per remaining ``alert_delivered``."""
    return [
        {"kind": "alert", "account_id": x.account_id, "bot_id": x.bot_id,
         "event_id": x.event_id, "delivered_at": fmt(x.occurred_at)}
        for x in _billable(events) if isinstance(x, AlertDelivered)
    ]


def oracle_rows(
    events: Iterable[Event],
    timeouts: Mapping[str, int] | None = None,
    default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[Row]:
    """Every BILLING_RULES §3 row the events bill, usage then alerts (compare as a set)."""
    events = list(events)
    rows = [row for visit in oracle_visits(events, timeouts, default_timeout_ms)
            if visit.interactive for row in _usage_rows(visit)]
    return rows + oracle_alert_rows(events)
