"""Every agent reads each input partition in offset order, without holes.

Why this exists: after a restart or a rebalance, faust-streaming can hand an agent a
partition's messages from *past* the committed offset (records fetched before its seek to
the committed offsets, then dropped; faust-streaming issues #216, #221, #596). Faust then
books the range it jumped over as a "gap" (as if the topic were compacted) and commits
past it: those events are never billed, and the ones after them were applied first. Our
topics are neither compacted nor transactional, so offsets are contiguous and a jump always
means lost messages.

:class:`InputOrder` is the decision, per agent and ``(topic, partition)``: process the next
expected offset; drop an offset already processed (a redelivery after a rewind); and for an
offset past the expected one, drop it and ask for a *rewind* (the agent seeks the partition
back to the expected offset). A rewind is asked again while nothing arrives, and given up
(the hole accepted, loudly) only if the same offset stays missing after ``max_rewinds``
tries, which a healthy log never does. A hole at the *tail* of a partition has no later
message to reveal it; the worker finds that one in the broker's view (input waiting, no
commit) and reads the partition again from its committed offset (``streams.app``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Decision", "InputOrder"]

TopicPartition = tuple[str, int]
Decision = Literal["process", "duplicate", "rewind", "wait", "accept"]


@dataclass
class _Rewind:
    offset: int
    asked_at: float
    tries: int = 1


@dataclass
class InputOrder:
    """The next offset each partition must deliver; the clock is passed in."""

    retry_seconds: float = 2.0
    max_rewinds: int = 30  # ~1 min: a rewind can take a few tries while fetched data drains
    expected: dict[TopicPartition, int] = field(default_factory=dict)
    rewinds: dict[TopicPartition, _Rewind] = field(default_factory=dict)

    def knows(self, tp: TopicPartition) -> bool:
        return tp in self.expected

    def start(self, tp: TopicPartition, offset: int) -> None:
        """The partition's first offset after an assignment (the group's committed one)."""
        self.expected[tp] = offset
        self.rewinds.pop(tp, None)

    def forget(self) -> None:
        """After a rebalance: the committed offsets are the new starting points."""
        self.expected.clear()
        self.rewinds.clear()

    def decide(self, tp: TopicPartition, offset: int, now: float) -> Decision:
        """What to do with the message at ``offset``: ``process`` it (and expect the next),
        drop it as a ``duplicate``, or drop it and ``rewind`` to :meth:`rewind_to` (or
        ``wait`` for a rewind already asked); ``accept``: process it although the offsets
        before it never came (the caller must say so loudly)."""
        want = self.expected.get(tp)
        if want is None or offset == want:
            self.expected[tp] = offset + 1
            self.rewinds.pop(tp, None)
            return "process"
        if offset < want:
            return "duplicate"
        pending = self.rewinds.get(tp)
        if pending is None or pending.offset != want:
            self.rewinds[tp] = _Rewind(want, now)
            return "rewind"
        if now - pending.asked_at < self.retry_seconds:
            return "wait"
        if pending.tries >= self.max_rewinds:  # the offsets really are not there
            self.expected[tp] = offset + 1
            del self.rewinds[tp]
            return "accept"
        pending.tries += 1
        pending.asked_at = now
        return "rewind"

    def rewind_to(self, tp: TopicPartition) -> int:
        return self.expected[tp]

    def overdue(self, now: float) -> list[TopicPartition]:
        """Partitions whose rewind was asked ``retry_seconds`` ago and not yet answered
        (ask again: the seek can lose a race with messages already fetched)."""
        due = []
        for tp, pending in self.rewinds.items():
            if now - pending.asked_at >= self.retry_seconds and pending.tries < self.max_rewinds:
                pending.tries += 1
                pending.asked_at = now
                due.append(tp)
        return due
