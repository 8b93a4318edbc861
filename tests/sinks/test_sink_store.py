"""The in-memory store's semantics and the retry loop, without a server."""

from __future__ import annotations

import threading

import pytest

from botbill.billing_rules.sessions import SessionChange
from botbill.sinks import InMemoryStore, SinkBatch, SinkError, SinkUnavailable, write_with_retry


def test_in_memory_store_keeps_the_latest_revision_and_drops_voids(records):
    store = InMemoryStore()
    moved = records.usage(2, billing_start=records.t0 + 17 * 60_000)
    store.write_batch(SinkBatch(usage_changes=[SessionChange(records.usage(1), 1, False),
                                               SessionChange(records.usage(2), 1, False)]))
    store.write_batch(SinkBatch(usage_changes=[SessionChange(moved, 4, False),
                                               SessionChange(records.usage(1), 4, True)]))
    store.write_batch(SinkBatch(usage_changes=[SessionChange(records.usage(2), 2, False)],
                                alert_sessions=[records.alert("a", 0)] * 2))
    assert store.billed() == [moved, records.alert("a", 0)]


def test_write_with_retry_backs_off_exponentially_up_to_the_cap():
    store = InMemoryStore(failures=5)
    waits: list[float] = []
    calls: list[tuple[int, float, str]] = []
    attempts = write_with_retry(store, SinkBatch(), initial_delay=1, max_delay=5,
                                on_retry=lambda n, d, e: calls.append((n, d, e.table)),
                                sleep=waits.append)
    assert attempts == 6 and len(store.batches) == 1
    assert waits == [1, 2, 4, 5, 5]
    assert calls == [(1, 1, "in-memory"), (2, 2, "in-memory"), (3, 4, "in-memory"),
                     (4, 5, "in-memory"), (5, 5, "in-memory")]


def test_the_delay_stays_finite_after_very_many_attempts():
    waits: list[float] = []
    write_with_retry(InMemoryStore(failures=2000), SinkBatch(), sleep=waits.append)
    assert max(waits) == 30.0


def test_stop_ends_the_waiting_by_raising_never_by_dropping():
    stop = threading.Event()
    store = InMemoryStore(failures=10)

    def sleep(delay: float) -> None:
        stop.set()

    with pytest.raises(SinkUnavailable):
        write_with_retry(store, SinkBatch(), stop=stop, sleep=sleep)
    assert store.batches == [] and store.failures == 9


def test_a_set_stop_is_waited_on_without_sleeping():
    stop = threading.Event()
    stop.set()
    with pytest.raises(SinkUnavailable):
        write_with_retry(InMemoryStore(failures=1), SinkBatch(), stop=stop)


def test_other_errors_are_not_retried():
    class Broken:
        calls = 0

        def write_batch(self, batch: SinkBatch) -> None:
            self.calls += 1
            raise SinkError("a record the tables cannot hold")

    broken = Broken()
    with pytest.raises(SinkError):
        write_with_retry(broken, SinkBatch(), sleep=lambda _: None)
    assert broken.calls == 1
