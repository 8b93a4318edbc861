"""BILLING_RULES §4: the per-conversation state machine the stream runs.

Apply one event at a time, in any order, duplicates included; each applied event recomputes
R3-R7 over the conversation's open visits (with :mod:`visits`, the batch code) and returns
the difference to what was emitted before: sessions opened or updated, sessions voided, all
stamped with a revision that only grows.

Closing and lateness, with event time ``W`` (the stream's watermark), are the rules of
:mod:`admission`, which ``replay`` applies too:

* a visit closes once ``W > end + T + grace``; its events leave the state, its sessions
  are final;
* an event is late when it would join or precede a closed visit (``t <= closed_end + T``),
  or when ``W > t + T + grace``; it is refused, never applied;
* a state with no open visit is dropped once ``W > closed_end + 2T + grace``: any event
  that could still touch a closed visit is then old enough to be refused as late without it.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .admission import admit, closing_time, forget_time, late_reason
from .events import ConversationEvent, ConversationKey, event_from_mapping, event_to_mapping
from .sessions import SessionChange, UsageSession
from .visits import Visit, bill_visit, sort_key, split_visits

__all__ = [
    "NO_WATERMARK",
    "ConversationState",
    "Outcome",
    "Step",
    "advance",
    "apply_event",
    "snapshot",
    "state_from_dict",
    "state_to_dict",
]

Outcome = Literal["applied", "duplicate", "test", "late"]
NO_WATERMARK = -(2**62)


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the stream remembers about one conversation."""

    key: ConversationKey
    events: tuple[ConversationEvent, ...] = ()  # events of open visits, in sort_key order
    seen_ids: frozenset[str] = frozenset()  # every applied event id, open or closed
    revision: int = 0  # number of distinct events applied: only grows
    closed_end: int | None = None  # end of the latest closed visit
    live: Mapping[tuple[str, str, str, int, int], UsageSession] = field(default_factory=dict)
    voided: Mapping[tuple[str, str, str, int, int], UsageSession] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one :func:`apply_event`: the new state and what to emit."""

    state: ConversationState
    outcome: Outcome
    changes: tuple[SessionChange, ...] = ()
    reason: str = ""


def _open_visits(events: tuple[ConversationEvent, ...], timeout_ms: int) -> list[Visit]:
    return split_visits(events, timeout_ms)


def _close(
    state: ConversationState, watermark: int, timeout_ms: int, grace_ms: int
) -> ConversationState:
    """Drop the visits that are past closing; their sessions are final."""
    if not state.events:
        return state
    visits = _open_visits(state.events, timeout_ms)
    closing = [v for v in visits if watermark > closing_time(v.end, timeout_ms, grace_ms)]
    if not closing:
        return state
    closed_end = closing[-1].end
    kept = tuple(e for e in state.events if e.occurred_at > closed_end)
    live = {k: s for k, s in state.live.items() if s.conversation_session_start > closed_end}
    voided = {k: s for k, s in state.voided.items() if s.conversation_session_start > closed_end}
    return replace(state, events=kept, closed_end=closed_end, live=live, voided=voided)


def snapshot(state: ConversationState) -> tuple[SessionChange, ...]:
    """Every open visit's sessions as they stand now, live and voided, at the current
    revision: re-sent on a redelivery, so that output lost in a crash between the state
    write and the output write is restored (idempotent for the sink)."""
    return (*(SessionChange(s, state.revision, False) for s in state.live.values()),
            *(SessionChange(s, state.revision, True) for s in state.voided.values()))


def advance(
    state: ConversationState, *, watermark: int, timeout_ms: int, grace_ms: int
) -> ConversationState | None:
    """Close what event time has passed; ``None`` when the whole state may be forgotten."""
    state = _close(state, watermark, timeout_ms, grace_ms)
    if (not state.events and state.closed_end is not None
            and watermark > forget_time(state.closed_end, timeout_ms, grace_ms)):
        return None
    return state


def apply_event(
    state: ConversationState | None,
    event: ConversationEvent,
    *,
    watermark: int = NO_WATERMARK,
    timeout_ms: int,
    grace_ms: int,
) -> Step:
    """R1-R7 for one more event of ``state``'s conversation (``None``: a new one)."""
    if state is None:
        state = ConversationState(key=event.key)
    admission = admit(event, state.seen_ids)
    if admission == "test":
        return Step(state, "test")
    if admission == "duplicate":
        return Step(state, "duplicate", snapshot(state))
    state = _close(state, watermark, timeout_ms, grace_ms)
    reason = late_reason(event.occurred_at, watermark=watermark, timeout_ms=timeout_ms,
                         grace_ms=grace_ms, closed_end=state.closed_end)
    if reason is not None:
        return Step(state, "late", reason=reason)
    events = list(state.events)
    insort(events, event, key=sort_key)
    visits = _open_visits(tuple(events), timeout_ms)
    revision = state.revision + 1
    now: dict[tuple[str, str, str, int, int], UsageSession] = {}
    for visit in visits:
        for session in bill_visit(state.key, visit):
            now[session.identity] = session
    changes = [SessionChange(s, revision, False) for k, s in now.items()
               if state.live.get(k) != s]
    gone = {k: s for k, s in state.live.items() if k not in now}
    changes += [SessionChange(s, revision, True) for s in gone.values()]
    voided = {k: s for k, s in {**state.voided, **gone}.items() if k not in now}
    new_state = replace(state, events=tuple(events), seen_ids=state.seen_ids | {event.event_id},
                        revision=revision, live=now, voided=voided)
    return Step(new_state, "applied", tuple(changes))


def state_to_dict(state: ConversationState) -> dict[str, Any]:
    """A JSON-able form for the stream's changelog-backed table."""
    return {
        "key": list(state.key),
        "events": [event_to_mapping(e) for e in state.events],
        "seen_ids": sorted(state.seen_ids),
        "revision": state.revision,
        "closed_end": state.closed_end,
        "live": [list(_session_values(s)) for s in state.live.values()],
        "voided": [list(_session_values(s)) for s in state.voided.values()],
    }


def _session_values(session: UsageSession) -> tuple[Any, ...]:
    return tuple(getattr(session, name) for name in UsageSession.__slots__)


def state_from_dict(data: Mapping[str, Any]) -> ConversationState:
    """The inverse of :func:`state_to_dict`."""
    events = tuple(event_from_mapping(e) for e in data["events"])
    live = {s.identity: s for s in (UsageSession(*values) for values in data["live"])}
    voided = {s.identity: s for s in (UsageSession(*values) for values in data["voided"])}
    account_id, bot_id, conversation_id = data["key"]
    return ConversationState(
        key=(account_id, bot_id, conversation_id),
        events=events,  # type: ignore[arg-type]
        seen_ids=frozenset(data["seen_ids"]),
        revision=int(data["revision"]),
        closed_end=data["closed_end"],
        live=live,
        voided=voided,
    )
