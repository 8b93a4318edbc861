"""What the *broker* says about the worker's consumer group: per input partition, the
committed offset next to the log end offset.

Faust's own view (its fetcher's high-water marks, the offsets its agents saw) is blind to the
failure this exists for: after a restart Faust can stop fetching, or skip a range and then
never commit past it, while every number it keeps says "nothing waiting". The broker cannot
be fooled that way: input waiting (log end > committed) and a committed offset that has not
moved for ``stall_seconds`` is a stall, whatever the worker believes.

:class:`CommitWatch` is the decision (pure, clock passed in); :class:`BrokerOffsets` asks the
broker (confluent-kafka, blocking: call it from an executor).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["BrokerOffsets", "CommitWatch", "PartitionView"]

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PartitionView:
    """One partition as the broker sees the group: ``committed`` is the next offset the
    group will read (the log start when it never committed), ``end`` the log end offset."""

    committed: int
    end: int

    @property
    def waiting(self) -> int:
        return max(0, self.end - self.committed)


@dataclass
class CommitWatch:
    """Remembers when each partition's committed offset last moved (or last had nothing
    waiting); a partition with input waiting whose commit has not moved for
    ``stall_seconds`` is stalled."""

    stall_seconds: float
    started_at: float
    views: dict[TopicPartition, PartitionView] = field(default_factory=dict)
    moved_at: dict[TopicPartition, float] = field(default_factory=dict)

    def observe(self, views: Mapping[TopicPartition, PartitionView], now: float) -> None:
        for tp, view in views.items():
            before = self.views.get(tp)
            if before is None:  # newly assigned: its clock starts now
                self.moved_at[tp] = now
            elif view.committed != before.committed or not (view.waiting and before.waiting):
                self.moved_at[tp] = now  # moved, idle, or input only just arrived
            self.views[tp] = view

    def retain(self, tps: Iterable[TopicPartition]) -> None:
        """Watch only these partitions (this worker's assignment): another worker's stall is
        that worker's to report."""
        keep = set(tps)
        for tp in [tp for tp in self.views if tp not in keep]:
            del self.views[tp]
            self.moved_at.pop(tp, None)

    def stalled_for(self, tp: TopicPartition, now: float) -> float:
        """Seconds partition ``tp`` has had input waiting without a commit (0: not stuck)."""
        view = self.views.get(tp)
        if view is None or not view.waiting:
            return 0.0
        return max(0.0, now - self.moved_at.get(tp, self.started_at))

    def stalled(self, now: float) -> dict[TopicPartition, float]:
        """Partitions stalled longer than ``stall_seconds``, with for how long."""
        return {tp: since for tp in self.views
                if (since := self.stalled_for(tp, now)) > self.stall_seconds}

    def waiting(self) -> int:
        return sum(view.waiting for view in self.views.values())

    def check(self, now: float) -> tuple[bool, str]:
        """``(healthy, why)`` for /health."""
        stalled = self.stalled(now)
        if not self.views:
            return True, "broker: no committed offsets read yet"
        if stalled:
            names = ", ".join(f"{topic}[{partition}] {self.views[topic, partition].waiting} "
                              f"waiting, no commit for {since:.0f}s"
                              for (topic, partition), since in sorted(stalled.items()))
            return False, f"broker: stalled: {names}"
        return True, f"broker: {self.waiting()} waiting, no partition stalled"


class BrokerOffsets:
    """Asks the broker for ``group``'s committed offsets and the log end offsets.

    Uses a confluent-kafka consumer that never subscribes, so it never joins the group; it
    only reads the group's committed offsets (OffsetFetch) and the watermarks.
    """

    def __init__(self, bootstrap: str, group: str, timeout: float = 10.0) -> None:
        from confluent_kafka import Consumer

        self.timeout = timeout
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                   "enable.auto.commit": False,
                                   "socket.timeout.ms": int(timeout * 1000)})

    def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        metadata = self._consumer.list_topics(timeout=self.timeout).topics
        return sorted((name, p) for name in topics if name in metadata
                      for p in metadata[name].partitions)

    def read(self, topics: Iterable[str]) -> dict[TopicPartition, PartitionView]:
        """Committed and end offset of every partition of ``topics`` (blocking)."""
        from confluent_kafka import TopicPartition as KafkaTP

        tps = [KafkaTP(topic, partition) for topic, partition in self.partitions(topics)]
        if not tps:
            return {}
        committed = self._consumer.committed(tps, timeout=self.timeout)
        views = {}
        for tp in committed:
            low, end = self._consumer.get_watermark_offsets(KafkaTP(tp.topic, tp.partition),
                                                            timeout=self.timeout)
            views[tp.topic, tp.partition] = PartitionView(
                tp.offset if tp.offset >= 0 else low, end)
        return views

    def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of one partition (``None``: never committed)."""
        from confluent_kafka import TopicPartition as KafkaTP

        [found] = self._consumer.committed([KafkaTP(*tp)], timeout=self.timeout)
        return found.offset if found.offset >= 0 else None

    def start_offset(self, tp: TopicPartition) -> int:
        """Where the group resumes reading ``tp``: its committed offset, or the log start
        when it never committed (or retention removed the committed offset)."""
        from confluent_kafka import TopicPartition as KafkaTP

        low, _ = self._consumer.get_watermark_offsets(KafkaTP(*tp), timeout=self.timeout)
        committed = self.committed(tp)
        return low if committed is None else max(committed, low)

    def close(self) -> None:
        self._consumer.close()
