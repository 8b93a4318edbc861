"""``streams.watermark.PartitionClock``: event time per partition over co-partitioned
inputs, with injected clocks (``now``: monotonic seconds, ``wall_ms``: epoch ms)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botbill.streams.watermark import NO_WATERMARK, PartitionClock
from tests.streams.conftest import MINUTE, T0

TURNS, HANDOFFS = "turns", "handoffs"
IDLE = 30.0
WALL = T0 + 3600 * 1000  # the wall clock: well ahead of the events, inside any skew bound


@pytest.fixture
def make_clock() -> Callable[..., PartitionClock]:
    def make(*, idle_seconds: float = IDLE, max_skew_ms: int = 5 * MINUTE) -> PartitionClock:
        return PartitionClock((TURNS, HANDOFFS), idle_seconds, max_skew_ms)
    return make


@pytest.fixture
def clock(make_clock: Callable[..., PartitionClock]) -> PartitionClock:
    return make_clock()


def test_nothing_observed_means_no_event_time(clock: PartitionClock) -> None:
    assert clock.watermark(0, now=1000.0) == NO_WATERMARK


def test_event_time_is_the_minimum_over_the_topics(clock: PartitionClock) -> None:
    clock.observe(TURNS, 0, T0 + 10 * MINUTE, now=1.0, wall_ms=WALL)
    clock.observe(HANDOFFS, 0, T0 + 4 * MINUTE, now=2.0, wall_ms=WALL)
    assert clock.watermark(0, now=3.0) == T0 + 4 * MINUTE
    clock.observe(HANDOFFS, 0, T0 + 12 * MINUTE, now=4.0, wall_ms=WALL)
    assert clock.watermark(0, now=5.0) == T0 + 10 * MINUTE


def test_a_topics_time_is_its_latest_event_not_its_last(clock: PartitionClock) -> None:
    clock.observe(TURNS, 0, T0 + 10 * MINUTE, now=1.0, wall_ms=WALL)
    clock.observe(HANDOFFS, 0, T0 + 20 * MINUTE, now=1.0, wall_ms=WALL)
    clock.observe(TURNS, 0, T0 + 2 * MINUTE, now=2.0, wall_ms=WALL)  # out of order
    assert clock.watermark(0, now=3.0) == T0 + 10 * MINUTE


def test_a_topic_behind_holds_event_time_back_while_it_is_active(
        clock: PartitionClock) -> None:
    clock.observe(HANDOFFS, 0, T0, now=0.0, wall_ms=WALL)
    for second in range(1, 20):  # turns race ahead while handoffs keep up a slow trickle
        clock.observe(TURNS, 0, T0 + second * MINUTE, now=float(second), wall_ms=WALL)
    clock.observe(HANDOFFS, 0, T0 + MINUTE, now=19.0, wall_ms=WALL)
    assert clock.watermark(0, now=20.0) == T0 + MINUTE


def test_an_idle_topic_stops_holding_event_time_back(clock: PartitionClock) -> None:
    clock.observe(HANDOFFS, 0, T0, now=0.0, wall_ms=WALL)
    clock.observe(TURNS, 0, T0 + 9 * MINUTE, now=IDLE - 1, wall_ms=WALL)
    assert clock.watermark(0, now=IDLE - 0.5) == T0  # handoffs still count
    clock.observe(TURNS, 0, T0 + 10 * MINUTE, now=IDLE + 1, wall_ms=WALL)
    assert clock.watermark(0, now=IDLE + 1) == T0 + 10 * MINUTE


def test_a_never_seen_topic_holds_back_only_for_idle_seconds_after_the_start(
        clock: PartitionClock) -> None:
    clock.observe(TURNS, 0, T0 + 5 * MINUTE, now=100.0, wall_ms=WALL)  # partition starts
    clock.observe(TURNS, 0, T0 + 6 * MINUTE, now=100 + IDLE - 1, wall_ms=WALL)
    assert clock.watermark(0, now=100 + IDLE - 1) == NO_WATERMARK
    assert clock.watermark(0, now=100 + IDLE + 1) == T0 + 6 * MINUTE


def test_when_every_topic_is_idle_event_time_does_not_fall_back(
        clock: PartitionClock) -> None:
    clock.observe(TURNS, 0, T0 + 7 * MINUTE, now=0.0, wall_ms=WALL)
    clock.observe(HANDOFFS, 0, T0 + 3 * MINUTE, now=0.0, wall_ms=WALL)
    assert clock.watermark(0, now=1.0) == T0 + 3 * MINUTE
    assert clock.watermark(0, now=10 * IDLE) >= T0 + 3 * MINUTE


def test_partitions_are_independent(clock: PartitionClock) -> None:
    clock.observe(TURNS, 0, T0 + 10 * MINUTE, now=0.0, wall_ms=WALL)
    clock.observe(HANDOFFS, 0, T0 + 10 * MINUTE, now=0.0, wall_ms=WALL)
    clock.observe(TURNS, 1, T0 + 2 * MINUTE, now=50.0, wall_ms=WALL)
    assert clock.watermark(0, now=51.0) == T0 + 10 * MINUTE
    # partition 1 started at 50 s: its silent handoffs still hold it back at 51 s
    assert clock.watermark(1, now=51.0) == NO_WATERMARK
    clock.observe(HANDOFFS, 1, T0 + MINUTE, now=52.0, wall_ms=WALL)
    assert clock.watermark(1, now=53.0) == T0 + MINUTE
    assert clock.watermark(0, now=53.0) == T0 + 10 * MINUTE
    assert clock.watermark(2, now=53.0) == NO_WATERMARK


def test_a_timestamp_from_the_future_moves_event_time_only_to_the_skew_bound(
        make_clock: Callable[..., PartitionClock]) -> None:
    clock = make_clock(max_skew_ms=2 * MINUTE)
    wall = T0
    clock.observe(HANDOFFS, 0, wall + 24 * 3600 * 1000, now=0.0, wall_ms=wall)  # bad clock
    clock.observe(TURNS, 0, wall + 24 * 3600 * 1000, now=0.0, wall_ms=wall)
    assert clock.watermark(0, now=1.0) == wall + 2 * MINUTE
    honest = wall + MINUTE  # inside the bound: taken as it is
    clock.observe(TURNS, 0, honest, now=2.0, wall_ms=wall + MINUTE)
    clock.observe(HANDOFFS, 0, honest, now=2.0, wall_ms=wall + MINUTE)
    assert clock.watermark(0, now=3.0) == wall + 2 * MINUTE


def test_an_occurred_at_within_the_skew_is_not_bounded(
        make_clock: Callable[..., PartitionClock]) -> None:
    clock = make_clock(max_skew_ms=2 * MINUTE)
    for topic in (TURNS, HANDOFFS):
        clock.observe(topic, 0, T0 + 2 * MINUTE, now=0.0, wall_ms=T0)
    assert clock.watermark(0, now=1.0) == T0 + 2 * MINUTE
