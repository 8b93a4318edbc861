"""Which events the rules take: R2 (test traffic), R1 (once per event id) and lateness.

One implementation of each, called by the stream (``incremental``, the alert handler) and
by ``replay`` (``batch``) alike; they differ only in where they keep what they have seen
and in the grace they give (the stream: ``grace``; replay: ``--max-disorder``).

Lateness (BILLING_RULES §4), with event time ``W`` and a visit's end ``e``:

* a visit closes once ``W > e + T + grace`` (:func:`closing_time`); its sessions are final;
* an event at ``t`` is late when ``t <= closed_end + T`` (it would join or precede a closed
  visit), or when ``W > t + T + grace`` (any visit it could belong to has closed, whether
  or not it is still remembered). The second rule is what lets a closed visit be forgotten
  once ``W > closed_end + 2T + grace`` (:func:`forget_time`): every event that could still
  touch it is late by then without it;
* an alert is late when ``W > t + window``: older than the de-duplication memory, it could
  be a redelivery of an alert already billed.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Literal

from .events import Event
from .timeutil import format_ms

__all__ = [
    "Admission",
    "admit",
    "alert_late_reason",
    "closing_time",
    "forget_time",
    "late_reason",
]

Admission = Literal["test", "duplicate", "new"]


def admit(event: Event, seen: Container[str]) -> Admission:
    """R2, then R1: test traffic is dropped before its id is looked at; an id already taken
    (``seen``) is a duplicate, whatever its content or time."""
    if event.is_test:
        return "test"
    if event.event_id in seen:
        return "duplicate"
    return "new"


def closing_time(end_ms: int, timeout_ms: int, grace_ms: int) -> int:
    """A visit that ends at ``end_ms`` is closed once event time passes this instant."""
    return end_ms + timeout_ms + grace_ms


def forget_time(closed_end: int, timeout_ms: int, grace_ms: int) -> int:
    """Once event time passes this, the end of a closed visit need not be remembered: an
    event that could join it (``t <= closed_end + T``) is late by its own time."""
    return closing_time(closed_end + timeout_ms, timeout_ms, grace_ms)


def late_reason(occurred_at: int, *, watermark: int | float, timeout_ms: int, grace_ms: int,
                closed_end: int | None) -> str | None:
    """Why a conversation event is late, or ``None`` when it may be applied."""
    if closed_end is not None and occurred_at <= closed_end + timeout_ms:
        return (f"occurred at {format_ms(occurred_at)}, within the inactivity timeout of a "
                f"visit that ended at {format_ms(closed_end)} and is already closed")
    if watermark > closing_time(occurred_at, timeout_ms, grace_ms):
        return (f"occurred at {format_ms(occurred_at)}; event time "
                f"{format_ms(int(watermark))} has passed the closing time of any visit it "
                "could belong to")
    return None


def alert_late_reason(occurred_at: int, *, watermark: int | float,
                      window_ms: int) -> str | None:
    """Why an alert is late (older than the de-duplication window), or ``None``."""
    if watermark > occurred_at + window_ms:
        return (f"occurred at {format_ms(occurred_at)}, older than the de-duplication window "
                f"({window_ms // 60_000} min of event time) behind {format_ms(int(watermark))}")
    return None
