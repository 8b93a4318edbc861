"""``streams.produce.paced``: each record leaves when the wall clock reaches its event time
divided by the speed-up; a fake clock whose ``sleep`` moves it forward."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from botbill.streams.produce import paced
from tests.streams.conftest import T0


@dataclass
class FakeClock:
    """``clock()`` and ``sleep()`` for :func:`paced`; ``sleep`` advances the time."""

    now: float = 500.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "paced must not sleep for nothing"
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock()


Released = list[tuple[int, float]]


@pytest.fixture
def release(fake: FakeClock) -> Callable[..., Released]:
    """Run ``paced`` over records at these event-time offsets (ms after ``T0``); returns
    ``(offset, seconds since the first release)`` per record, in release order."""

    def run(offsets: list[int], speedup: float, start_ms: int = T0) -> Released:
        began = fake.now
        records = ({"occurred_at": T0 + offset, "offset": offset} for offset in offsets)
        stream: Iterator[dict[str, Any]] = paced(records, start_ms, speedup,
                                                 clock=fake.clock, sleep=fake.sleep)
        return [(record["offset"], fake.now - began) for record in stream]

    return run


def test_records_leave_at_their_event_time(release: Callable[..., Released]) -> None:
    assert release([0, 1000, 2500, 10_000], speedup=1) == \
        [(0, 0.0), (1000, 1.0), (2500, 2.5), (10_000, 10.0)]


def test_speedup_divides_the_waits(release: Callable[..., Released]) -> None:
    assert release([0, 1000, 2500, 10_000], speedup=4) == \
        [(0, 0.0), (1000, 0.25), (2500, 0.625), (10_000, 2.5)]


def test_a_record_already_due_is_released_without_sleeping(
        release: Callable[..., Released], fake: FakeClock) -> None:
    assert release([0, 3000, 1000, 3000, 4000], speedup=1) == \
        [(0, 0.0), (3000, 3.0), (1000, 3.0), (3000, 3.0), (4000, 4.0)]
    assert fake.sleeps == [3.0, 1.0]


def test_event_time_is_measured_from_start_ms(release: Callable[..., Released]) -> None:
    assert release([5000, 6000], speedup=2, start_ms=T0 + 4000) == [(5000, 0.5), (6000, 1.0)]


def test_time_spent_by_the_consumer_is_not_waited_again(fake: FakeClock) -> None:
    records = [{"occurred_at": T0 + ms} for ms in (0, 1000, 2000)]
    released = []
    for record in paced(records, T0, 1, clock=fake.clock, sleep=fake.sleep):
        released.append((record["occurred_at"] - T0, fake.now))
        fake.now += 0.4  # sending takes time
    assert [at - released[0][1] for _, at in released] == [0.0, 1.0, 2.0]
    assert fake.sleeps == pytest.approx([0.6, 0.6])


def test_nothing_waits_before_the_first_record_is_asked_for(fake: FakeClock) -> None:
    stream = paced(iter([{"occurred_at": T0 + 60_000}]), T0, 1, clock=fake.clock,
                   sleep=fake.sleep)
    fake.now += 30.0  # built, then started later: the schedule starts at the first pull
    assert fake.sleeps == []
    next(stream)
    assert fake.sleeps == [60.0]
