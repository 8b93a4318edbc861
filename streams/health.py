"""Health: red when an agent has input waiting but has stopped making progress."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

__all__ = ["Progress"]

TopicPartition = tuple[str, int]


@dataclass
class Progress:
    """Last processed offset per agent and ``(topic, partition)``; when each agent last
    moved. The clock is passed in (``now``) so that the decision is testable."""

    subscriptions: Mapping[str, Collection[str]]  # agent -> topics it reads
    stall_seconds: float
    started_at: float
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)
    last_progress: dict[str, float] = field(default_factory=dict)

    def processed(self, agent: str, topic: str, partition: int, offset: int,
                  now: float) -> None:
        self.offsets[agent, topic, partition] = offset
        self.last_progress[agent] = now

    def lag(self, highwaters: Mapping[TopicPartition, int]) -> dict[str, int]:
        """Messages each agent has still to read (a partition never read counts whole)."""
        return {
            agent: sum(max(0, hw - self.offsets.get((agent, topic, partition), -1) - 1)
                       for (topic, partition), hw in highwaters.items() if topic in topics)
            for agent, topics in self.subscriptions.items()
        }

    def check(self, highwaters: Mapping[TopicPartition, int], now: float) -> tuple[bool, str]:
        """``(healthy, why)``: unhealthy when an agent is behind and has not moved for
        ``stall_seconds``."""
        details = []
        healthy = True
        for agent, behind in self.lag(highwaters).items():
            since = now - self.last_progress.get(agent, self.started_at)
            if behind > 0 and since > self.stall_seconds:
                healthy = False
                details.append(f"{agent}: {behind} messages waiting, no progress for "
                               f"{since:.0f}s")
            else:
                details.append(f"{agent}: {behind} waiting, last progress {since:.0f}s ago")
        return healthy, "; ".join(details)
