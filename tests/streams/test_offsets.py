"""``streams.offsets.CommitWatch``: the broker's committed offsets against the log end, and
the stall rule (input waiting, no commit for ``stall_seconds``), clock passed in."""

from __future__ import annotations

from botbill.streams.offsets import CommitWatch, PartitionView

STALL = 60.0
TP = ("turns", 0)


def test_waiting_is_log_end_minus_committed() -> None:
    assert PartitionView(committed=5, end=9).waiting == 4
    assert PartitionView(committed=9, end=9).waiting == 0


def test_nothing_waiting_is_healthy_however_long_nothing_commits() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    watch.observe({TP: PartitionView(10, 10)}, now=1.0)
    watch.observe({TP: PartitionView(10, 10)}, now=10 * STALL)
    assert watch.check(now=10 * STALL)[0]


def test_input_waiting_without_a_commit_for_the_stall_window_is_a_stall() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    watch.observe({TP: PartitionView(10, 10)}, now=1.0)
    watch.observe({TP: PartitionView(10, 50)}, now=5.0)  # input arrives, commit stays
    assert watch.check(now=5.0 + STALL - 1)[0]
    watch.observe({TP: PartitionView(10, 60)}, now=5.0 + STALL + 1)
    healthy, why = watch.check(now=5.0 + STALL + 1)
    assert not healthy
    assert "turns[0] 50 waiting" in why
    assert watch.stalled(now=5.0 + STALL + 1) == {TP: STALL + 1}


def test_a_moving_commit_is_not_a_stall_even_with_a_backlog() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    for step in range(10):
        watch.observe({TP: PartitionView(100 * step, 100_000)}, now=step * STALL / 2)
    assert watch.check(now=10 * STALL / 2)[0]


def test_a_stall_clears_once_the_commit_moves() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    watch.observe({TP: PartitionView(0, 5)}, now=0.0)
    assert not watch.check(now=STALL + 1)[0]
    watch.observe({TP: PartitionView(3, 5)}, now=STALL + 2)
    assert watch.check(now=STALL + 3)[0]


def test_a_partition_s_clock_starts_when_it_is_first_seen() -> None:
    # e.g. assigned only after a crashed member's session timed out: not stalled at once
    watch = CommitWatch(STALL, started_at=100.0)
    watch.observe({TP: PartitionView(0, 5)}, now=150.0)
    assert watch.stalled_for(TP, now=150.0) == 0.0
    assert watch.check(now=150 + STALL - 1)[0]
    assert not watch.check(now=150 + STALL + 1)[0]


def test_a_broker_that_does_not_answer_lets_the_stall_clock_run() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    watch.observe({TP: PartitionView(0, 5)}, now=1.0)
    watch.observe({}, now=30.0)  # the read failed: nothing new, nothing forgotten
    assert not watch.check(now=STALL + 2)[0]


def test_only_the_retained_partitions_are_watched() -> None:
    watch = CommitWatch(STALL, started_at=0.0)
    other = ("turns", 1)  # now another worker's partition
    watch.observe({TP: PartitionView(0, 0), other: PartitionView(0, 5)}, now=0.0)
    assert not watch.check(now=STALL + 1)[0]
    watch.retain([TP])
    assert watch.check(now=STALL + 1)[0]
    assert watch.waiting() == 0
