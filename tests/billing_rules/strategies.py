"""Hypothesis strategies for realistically nasty event streams.

Everything lies on a whole-second grid (so the oracle can count seconds) and around the
2026-10-31/11-01 month edge. Conversations mix USER/BOT/AGENT turns with handoffs in any
STARTED/ENDED combination (ENDED first, repeated phases, overlapping ids, either phase
missing); gaps hit ``T`` exactly and ``T`` +- 1 s; per-bot timeouts range from 5 min to a few
hours; there is test traffic, redelivery (same id, sometimes different content) and alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hypothesis import strategies as st

from botbill.billing_rules.events import AgentHandoff, AlertDelivered, ConversationTurn, Event

__all__ = [
    "ACCOUNTS",
    "BOTS",
    "MONTH_EDGE_MS",
    "ConversationCase",
    "Scenario",
    "alerts",
    "conversation_cases",
    "conversation_events",
    "delivered_with_disorder",
    "gaps",
    "redeliveries",
    "scenarios",
    "timeouts_ms",
]

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
MONTH_EDGE_MS = int(datetime(2026, 10, 31, 23, 0, tzinfo=UTC).timestamp()) * SECOND
ACCOUNTS = ("acct-1", "acct-2")
BOTS = ("bot-a", "bot-b", "bot-c")
CONVERSATIONS = ("c1", "c2", "c3")
CHANNELS = ("web", "sms", "whatsapp")
HANDOFF_IDS = ("h1", "h2", "h3")
KINDS = ("USER", "USER", "USER", "BOT", "BOT", "AGENT", "AGENT", "HANDOFF", "HANDOFF", "HANDOFF")
RARELY = (False,) * 9 + (True,)

Key = tuple[str, str, str]

timeouts_ms = st.one_of(
    st.sampled_from([5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR]),
    st.integers(5 * 60, 3 * 3600).map(lambda s: s * SECOND),
)
"""A per-bot inactivity timeout ``T``: 5 min .. 3 h, whole seconds."""

starts_ms = st.integers(-3 * 3600, 2 * 3600).map(lambda s: MONTH_EDGE_MS + s * SECOND)
"""A first event time within a few hours of the October/November month edge."""


def gaps(timeout_ms: int) -> st.SearchStrategy[int]:
    """Time between consecutive events: chatty, on a 5-min grid (so bot time often reaches a
    session boundary exactly at a handoff), exactly ``T`` +- 1 s, or a new visit."""
    t = timeout_ms // SECOND
    return st.one_of(
        st.sampled_from([0, 1, t - 1, t, t + 1]),
        st.integers(0, 180),
        st.integers(1, 6).map(lambda k: k * 300),
        st.integers(0, t + 1),
        st.integers(t + 1, 3 * t),
    ).map(lambda s: s * SECOND)


@st.composite
def conversation_events(
    draw: st.DrawFn, key: Key, timeout_ms: int, prefix: str, max_events: int = 10
) -> list[Event]:
    """One conversation's events in time order, ids ``{prefix}{n}``.

    Three shapes: random gaps (``gaps``); a 5-min grid; and alternating bot and agent
    segments of 5-15 min, so that bot time often reaches a session boundary exactly where a
    handoff starts (R7's "last instant").
    """
    account_id, bot_id, conversation_id = key
    at = draw(starts_ms)
    channel = draw(st.sampled_from(CHANNELS))
    user_id = f"u-{conversation_id}"
    all_test = draw(st.sampled_from(RARELY))
    events: list[Event] = []

    def turn(speaker: str) -> None:
        events.append(ConversationTurn(
            f"{prefix}{len(events)}", account_id, bot_id, at, conversation_id,
            draw(st.sampled_from((user_id, user_id, "u-other"))),
            draw(st.sampled_from((channel, channel, channel, "sms"))),
            speaker, all_test or draw(st.sampled_from(RARELY))))  # type: ignore[arg-type]

    def handoff(handoff_id: str, phase: str) -> None:
        events.append(AgentHandoff(
            f"{prefix}{len(events)}", account_id, bot_id, at, conversation_id, user_id, channel,
            handoff_id, phase, draw(st.sampled_from((None, "agent-7"))),  # type: ignore[arg-type]
            all_test or draw(st.sampled_from(RARELY))))

    shape = draw(st.sampled_from(("gaps", "grid", "segments")))
    if shape == "segments":
        turn("USER")
        for _ in range(draw(st.integers(1, max_events // 2))):
            length = draw(st.sampled_from([m * MINUTE for m in (5, 5, 10, 15)
                                           if m * MINUTE <= timeout_ms]))
            if draw(st.booleans()):
                handoff_id = draw(st.sampled_from(HANDOFF_IDS))
                handoff(handoff_id, "STARTED")
                at += length
                if draw(st.sampled_from((True, True, True, False))):
                    handoff(handoff_id, "ENDED")
            else:
                at += length
                turn(draw(st.sampled_from(("USER", "BOT"))))
        return events
    step = st.sampled_from((0, 5 * MINUTE, 5 * MINUTE)) if shape == "grid" else gaps(timeout_ms)
    for number in range(draw(st.integers(1, max_events))):
        if number:
            at += draw(step)
        kind = draw(st.sampled_from(KINDS))
        if kind == "HANDOFF":
            handoff(draw(st.sampled_from(HANDOFF_IDS)), draw(st.sampled_from(("STARTED", "ENDED"))))
        else:
            turn(kind)
    return events


@st.composite
def alerts(draw: st.DrawFn, prefix: str = "al", max_alerts: int = 4) -> list[Event]:
    """Alert deliveries around the month edge."""
    return [
        AlertDelivered(f"{prefix}{number}", draw(st.sampled_from(ACCOUNTS)),
                       draw(st.sampled_from(BOTS)), draw(starts_ms),
                       draw(st.sampled_from(("sales-report", "stock"))), "u-9", "email",
                       draw(st.sampled_from(RARELY)))
        for number in range(draw(st.integers(0, max_alerts)))
    ]


@st.composite
def redeliveries(
    draw: st.DrawFn, events: Sequence[Event], restamp_alerts: bool = False
) -> list[Event]:
    """Copies of some events under the same id: identical, or with other content.

    A conversation event may come back up to 2 min off its original time; an alert only
    when ``restamp_alerts`` (a re-stamped alert is a known double-billing case).
    """
    if not events:
        return []
    copies: list[Event] = []
    for original in draw(st.lists(st.sampled_from(list(events)), max_size=len(events) // 2 + 1)):
        how = draw(st.sampled_from(("same", "same", "restamp", "content", "test", "untest")))
        copy: Event = original
        if how == "restamp" and (restamp_alerts or not isinstance(original, AlertDelivered)):
            shift = draw(st.integers(-120, 120)) * SECOND
            copy = replace(original, occurred_at=original.occurred_at + shift)
        elif how == "content":
            if isinstance(original, ConversationTurn):
                copy = replace(original, speaker=draw(st.sampled_from(("USER", "BOT", "AGENT"))),
                               channel="retry-channel")
            elif isinstance(original, AgentHandoff):
                copy = replace(original, phase=draw(st.sampled_from(("STARTED", "ENDED"))),
                               handoff_id=draw(st.sampled_from(HANDOFF_IDS)))
            else:
                copy = replace(original, alert_id="other", channel="sms")
        elif how in ("test", "untest"):
            copy = replace(original, is_test=how == "test")
        copies.append(copy)
    return copies


@dataclass(frozen=True)
class Scenario:
    """Events in delivery order, and the timeouts that apply."""

    events: tuple[Event, ...]
    default_timeout_ms: int = 15 * MINUTE
    per_bot: Mapping[str, int] = field(default_factory=dict)

    def timeout_ms(self, bot_id: str) -> int:
        return self.per_bot.get(bot_id, self.default_timeout_ms)


@st.composite
def scenarios(
    draw: st.DrawFn, max_conversations: int = 4, restamp_alerts: bool = False,
    shuffle: bool = True,
) -> Scenario:
    """Several conversations (keys may collide), alerts and redeliveries, in any order."""
    default_timeout = draw(timeouts_ms)
    per_bot = draw(st.dictionaries(st.sampled_from(BOTS), timeouts_ms, max_size=len(BOTS)))
    events: list[Event] = []
    for number in range(draw(st.integers(1, max_conversations))):
        key = (draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(BOTS)),
               draw(st.sampled_from(CONVERSATIONS)))
        timeout = per_bot.get(key[1], default_timeout)
        events += draw(conversation_events(key, timeout, prefix=f"e{number}-"))
    events += draw(alerts())
    events += draw(redeliveries(events, restamp_alerts=restamp_alerts))
    if shuffle:
        events = draw(st.permutations(events))
    return Scenario(tuple(events), default_timeout, per_bot)


@dataclass(frozen=True)
class ConversationCase:
    """One conversation's deliveries (redeliveries included) in some order."""

    key: Key
    timeout_ms: int
    events: tuple[Event, ...]


@st.composite
def conversation_cases(draw: st.DrawFn, max_events: int = 10, shuffle: bool = True
                       ) -> ConversationCase:
    key = ("acct-1", draw(st.sampled_from(BOTS)), "c1")
    timeout = draw(timeouts_ms)
    events = draw(conversation_events(key, timeout, prefix="e", max_events=max_events))
    events += draw(redeliveries(events))
    if shuffle:
        events = draw(st.permutations(events))
    return ConversationCase(key, timeout, tuple(events))


@st.composite
def delivered_with_disorder(draw: st.DrawFn, events: Sequence[Event], bound_ms: int
                            ) -> list[Event]:
    """``events`` in an order where each arrives less than ``bound_ms`` behind the latest
    ``occurred_at`` delivered before it (sort by time plus a jitter in ``[0, bound)``)."""
    jitters = draw(st.lists(st.integers(0, bound_ms - 1), min_size=len(events),
                            max_size=len(events)))
    order = sorted(range(len(events)), key=lambda i: events[i].occurred_at + jitters[i])
    return [events[i] for i in order]
