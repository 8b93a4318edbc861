"""``streams.ordering.InputOrder``: each partition in offset order, holes rewound."""

from __future__ import annotations

from botbill.streams.ordering import InputOrder

TP = ("turns", 0)


def test_contiguous_offsets_are_processed() -> None:
    order = InputOrder()
    order.start(TP, 10)
    assert [order.decide(TP, o, now=0.0) for o in (10, 11, 12)] == ["process"] * 3


def test_an_unknown_partition_takes_what_comes() -> None:
    order = InputOrder()
    assert order.decide(TP, 7, now=0.0) == "process"
    assert order.decide(TP, 8, now=0.0) == "process"


def test_a_redelivered_offset_is_a_duplicate() -> None:
    order = InputOrder()
    order.start(TP, 5)
    for offset in (5, 6, 7):
        order.decide(TP, offset, now=0.0)
    assert order.decide(TP, 6, now=0.0) == "duplicate"
    assert order.decide(TP, 8, now=0.0) == "process"


def test_a_hole_asks_one_rewind_then_waits_for_it() -> None:
    order = InputOrder(retry_seconds=2.0)
    order.start(TP, 192)  # the committed offset
    assert order.decide(TP, 325, now=0.0) == "rewind"
    assert order.rewind_to(TP) == 192
    assert order.decide(TP, 326, now=0.5) == "wait"  # more of the same skipped batch
    assert order.decide(TP, 192, now=1.0) == "process"  # the rewind arrived
    assert order.decide(TP, 193, now=1.0) == "process"
    assert order.decide(TP, 325, now=1.0) == "rewind"  # a new hole (193 went, 194 not)
    assert order.rewind_to(TP) == 194


def test_an_unanswered_rewind_is_asked_again() -> None:
    order = InputOrder(retry_seconds=2.0)
    order.start(TP, 0)
    assert order.decide(TP, 9, now=0.0) == "rewind"
    assert order.overdue(now=1.0) == []
    assert order.overdue(now=2.5) == [TP]
    assert order.overdue(now=3.0) == []  # asked again at 2.5
    assert order.decide(TP, 9, now=5.0) == "rewind"


def test_a_hole_that_stays_is_accepted_after_max_rewinds() -> None:
    order = InputOrder(retry_seconds=1.0, max_rewinds=3)
    order.start(TP, 0)
    decisions = [order.decide(TP, 4, now=float(t)) for t in range(0, 8)]
    assert decisions.count("rewind") == 3
    assert decisions.count("accept") == 1
    assert order.decide(TP, 5, now=9.0) == "process"


def test_partitions_are_independent_and_forget_resets() -> None:
    order = InputOrder()
    order.start(TP, 3)
    order.start(("turns", 1), 0)
    assert order.decide(("turns", 1), 0, now=0.0) == "process"
    assert order.decide(TP, 5, now=0.0) == "rewind"
    order.forget()
    assert not order.knows(TP)
    assert order.decide(TP, 5, now=0.0) == "process"
