"""The worker's money-jobs loop: its setting, and that a failing tick never stops it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from botbill.jobs import schedule


def test_the_interval_setting() -> None:
    assert schedule.jobs_interval({}) == schedule.DEFAULT_INTERVAL
    assert schedule.jobs_interval({schedule.INTERVAL_ENV: "0"}) == 0
    assert schedule.jobs_interval({schedule.INTERVAL_ENV: "2.5"}) == 2.5
    for bad in ("-1", "soon"):
        with pytest.raises(ValueError):
            schedule.jobs_interval({schedule.INTERVAL_ENV: bad})


def test_off_means_no_thread() -> None:
    assert schedule.start_schedule(0, lambda: None) is None


def test_a_failing_tick_is_retried_at_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks: list[int] = []
    done = threading.Event()

    class Client:
        def disconnect(self) -> None:
            pass

    def run_once(client: Any, as_of: int) -> None:
        ticks.append(as_of)
        if len(ticks) == 1:
            raise RuntimeError("ClickHouse is down")
        done.set()

    monkeypatch.setattr(schedule, "run_once", run_once)
    stop = schedule.start_schedule(0.01, Client, clock=lambda: 42)
    assert stop is not None
    try:
        assert done.wait(5)
    finally:
        stop.set()
    assert ticks[:2] == [42, 42]


def test_the_clock_setting() -> None:
    wall = iter([1_000, 1_000, 5_000])
    assert schedule.jobs_clock({}, wall=lambda: 7) is not None
    assert schedule.jobs_clock({}, wall=lambda: 7)() == 7
    clock = schedule.jobs_clock({schedule.AS_OF_ENV: "2026-03-10T12:00:00.000Z"},
                                wall=lambda: next(wall))
    start = 1_773_144_000_000  # 2026-03-10T12:00:00Z, by hand: 20 522 days + 12 h
    assert (clock(), clock()) == (start, start + 4_000)  # it starts there, then runs on
    for bad in ("yesterday", "2026-13-01T00:00:00Z"):
        with pytest.raises(ValueError, match="BOTBILL_JOBS_AS_OF"):
            schedule.jobs_clock({schedule.AS_OF_ENV: bad})
        with pytest.raises(ValueError, match="BOTBILL_JOBS_AS_OF"):
            schedule.jobs_interval({schedule.AS_OF_ENV: bad})
