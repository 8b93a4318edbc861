"""Event time for co-partitioned inputs (BILLING_RULES §4).

Per partition, event time is the minimum over the input topics of the latest
``occurred_at`` each has delivered, so a topic that is behind never makes the other's events
late. A topic that has delivered nothing for ``idle_seconds`` of wall time (or nothing at
all, that long after the partition started) stops holding it back. An ``occurred_at`` more
than ``max_skew_ms`` ahead of the wall clock (a producer with a bad clock) moves event time
only up to that bound, so it cannot make every honest event after it late. The clocks come
in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["NO_WATERMARK", "PartitionClock"]

NO_WATERMARK = -(2**62)


@dataclass
class PartitionClock:
    topics: Sequence[str]
    idle_seconds: float = 30.0
    max_skew_ms: int = 5 * 60_000
    _latest: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)
    _started: dict[int, float] = field(default_factory=dict)
    _emitted: dict[int, int] = field(default_factory=dict)

    def observe(self, topic: str, partition: int, occurred_at: int, now: float,
                wall_ms: int) -> None:
        """``now``: a monotonic clock (idleness); ``wall_ms``: epoch ms (skew bound)."""
        self._started.setdefault(partition, now)
        latest, _ = self._latest.get((topic, partition), (NO_WATERMARK, now))
        bounded = min(occurred_at, wall_ms + self.max_skew_ms)
        self._latest[topic, partition] = (max(latest, bounded), now)

    def watermark(self, partition: int, now: float) -> int:
        """Never goes back: closing a visit cannot be undone, so neither can event time."""
        current = max(self._candidate(partition, now), self._emitted.get(partition, NO_WATERMARK))
        self._emitted[partition] = current
        return current

    def _candidate(self, partition: int, now: float) -> int:
        started = self._started.get(partition)
        if started is None:
            return NO_WATERMARK
        active: list[int] = []
        seen: list[int] = []
        for topic in self.topics:
            entry = self._latest.get((topic, partition))
            if entry is None:
                if now - started < self.idle_seconds:
                    return NO_WATERMARK  # still waiting to hear from this topic
                continue
            seen.append(entry[0])
            if now - entry[1] < self.idle_seconds:
                active.append(entry[0])
        if active:
            return min(active)
        return max(seen) if seen else NO_WATERMARK
