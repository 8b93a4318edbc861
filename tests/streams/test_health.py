"""``streams.health.Progress``: lag per agent and the stall rule, with the clock passed in."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botbill.streams.health import Progress

STALL = 60.0
AGENTS = {"sessionizer": ("turns", "handoffs"), "alerts": ("alerts",)}


@pytest.fixture
def make_progress() -> Callable[..., Progress]:
    def make(started_at: float = 0.0, stall_seconds: float = STALL) -> Progress:
        return Progress(AGENTS, stall_seconds, started_at)
    return make


@pytest.fixture
def progress(make_progress: Callable[..., Progress]) -> Progress:
    return make_progress()


def test_lag_counts_what_each_agent_has_still_to_read(progress: Progress) -> None:
    progress.processed("sessionizer", "turns", 0, 3, now=1.0)  # read offsets 0..3
    highwaters = {("turns", 0): 10, ("turns", 1): 5, ("handoffs", 0): 0, ("alerts", 0): 7}
    assert progress.lag(highwaters) == {"sessionizer": 6 + 5, "alerts": 7}


def test_lag_only_counts_the_agents_own_topics(progress: Progress) -> None:
    progress.processed("alerts", "alerts", 0, 99, now=1.0)
    assert progress.lag({("alerts", 0): 100, ("turns", 0): 40}) == {"sessionizer": 40,
                                                                    "alerts": 0}
    # an agent's offsets on a topic it does not read change nothing
    progress.processed("alerts", "turns", 0, 39, now=2.0)
    assert progress.lag({("alerts", 0): 100, ("turns", 0): 40})["sessionizer"] == 40


def test_healthy_without_lag_however_long_nothing_moved(progress: Progress) -> None:
    progress.processed("sessionizer", "turns", 0, 9, now=1.0)
    healthy, why = progress.check({("turns", 0): 10, ("alerts", 0): 0}, now=10 * STALL)
    assert healthy, why


def test_lag_within_the_stall_window_is_healthy(progress: Progress) -> None:
    assert progress.check({("turns", 0): 5}, now=STALL - 1)[0]


def test_lag_without_progress_for_the_stall_window_is_unhealthy(progress: Progress) -> None:
    healthy, why = progress.check({("turns", 0): 5}, now=STALL + 1)
    assert not healthy
    assert "sessionizer" in why and "5" in why


def test_a_stalled_agent_recovers_once_it_moves(progress: Progress) -> None:
    highwaters = {("turns", 0): 100, ("alerts", 0): 0}
    progress.processed("sessionizer", "turns", 0, 10, now=5.0)
    assert progress.check(highwaters, now=5 + STALL - 1)[0]
    assert not progress.check(highwaters, now=5 + STALL + 1)[0]
    progress.processed("sessionizer", "turns", 0, 11, now=5 + STALL + 2)
    assert progress.check(highwaters, now=5 + STALL + 3)[0]


def test_one_stalled_agent_makes_the_worker_unhealthy(progress: Progress) -> None:
    highwaters = {("turns", 0): 100, ("alerts", 0): 50}
    progress.processed("sessionizer", "turns", 0, 10, now=200.0)  # moving
    healthy, why = progress.check(highwaters, now=201.0)  # alerts never moved since 0
    assert not healthy
    assert "alerts: 50 messages waiting" in why


def test_the_stall_clock_starts_when_the_worker_started(
        make_progress: Callable[..., Progress]) -> None:
    progress = make_progress(started_at=1000.0)
    assert progress.check({("turns", 0): 5}, now=1000 + STALL - 1)[0]
    assert not progress.check({("turns", 0): 5}, now=1000 + STALL + 1)[0]
