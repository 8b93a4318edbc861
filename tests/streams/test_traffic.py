"""``streams.traffic.generate_events``: deterministic, realistic, valid generated traffic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.events import event_from_mapping
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS
from botbill.streams.traffic import generate_events
from tests.streams.conftest import MINUTE, T0

HOUR = 60 * MINUTE
Records = list[dict[str, Any]]


@pytest.fixture
def make_traffic() -> Callable[..., Records]:
    def make(seed: int = 5, count: int = 2000, span_ms: int = 6 * HOUR,
             **options: Any) -> Records:
        return list(generate_events(seed=seed, start_ms=T0, count=count, span_ms=span_ms,
                                    **options))
    return make


@pytest.fixture
def traffic(make_traffic: Callable[..., Records]) -> Records:
    return make_traffic()


def test_the_same_seed_gives_the_same_traffic(make_traffic: Callable[..., Records]) -> None:
    assert make_traffic(seed=9) == make_traffic(seed=9)
    assert make_traffic(seed=9) != make_traffic(seed=10)


def test_every_record_is_a_valid_event(traffic: Records) -> None:
    for record in traffic:
        event = event_from_mapping(record)
        assert event.occurred_at == record["occurred_at"]


def test_everything_happens_inside_the_window(traffic: Records) -> None:
    assert traffic
    assert all(T0 <= r["occurred_at"] < T0 + 6 * HOUR for r in traffic)


def test_it_has_every_kind_of_traffic(traffic: Records) -> None:
    kinds = Counter(r["type"] for r in traffic)
    assert kinds["conversation_turn"] and kinds["agent_handoff"] and kinds["alert_delivered"]
    phases = Counter(r["phase"] for r in traffic if r["type"] == "agent_handoff")
    assert phases["STARTED"] and phases["ENDED"]
    assert {r["speaker"] for r in traffic if r["type"] == "conversation_turn"} >= \
        {"USER", "BOT", "AGENT"}
    tests = [r for r in traffic if r.get("is_test")]
    assert tests and len(tests) < len(traffic) / 5


def test_duplicates_are_redeliveries_of_the_same_event(traffic: Records) -> None:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in traffic:
        by_id.setdefault(record["event_id"], []).append(record)
    copies = {event_id: rs for event_id, rs in by_id.items() if len(rs) > 1}
    assert copies, "no redeliveries"
    assert len(copies) < len(by_id) / 10
    for records in copies.values():
        assert all(r == records[0] for r in records)


def test_an_ended_handoff_has_started_in_its_conversation(traffic: Records) -> None:
    started = {(r["conversation_id"], r["handoff_id"]) for r in traffic
               if r["type"] == "agent_handoff" and r["phase"] == "STARTED"}
    ended = {(r["conversation_id"], r["handoff_id"]) for r in traffic
             if r["type"] == "agent_handoff" and r["phase"] == "ENDED"}
    assert ended and ended <= started


def test_handoffs_arrive_a_little_behind_the_turns(
        make_traffic: Callable[..., Records]) -> None:
    """Cross-topic disorder, bounded by ``handoff_delay_ms``; turns keep event-time order.
    First deliveries only: redeliveries come up to a minute later on purpose."""
    traffic = make_traffic(handoff_delay_ms=20_000)
    seen: set[str] = set()
    latest_turn = 0
    behind = []
    for record in traffic:
        first = record["event_id"] not in seen
        seen.add(record["event_id"])
        if first and record["type"] == "agent_handoff":
            behind.append(latest_turn - record["occurred_at"])
        elif first and record["type"] == "conversation_turn":
            assert record["occurred_at"] >= latest_turn
            latest_turn = record["occurred_at"]
    assert max(behind) > 0  # some handoff was sent after a later turn
    assert max(behind) <= 20_000


def test_idle_gaps_play_right_at_the_timeout(make_traffic: Callable[..., Records]) -> None:
    timeout = 7 * MINUTE
    traffic = make_traffic(timeout_ms=timeout)
    times: dict[str, list[int]] = {}
    for record in traffic:
        if record["type"] == "conversation_turn":
            times.setdefault(record["conversation_id"], []).append(record["occurred_at"])
    gaps = Counter(b - a for ts in times.values() for a, b in zip(sorted(ts), sorted(ts)[1:],
                                                                 strict=False))
    assert gaps[timeout] and (gaps[timeout + 1] or gaps[timeout - 1])


def test_the_account_prefix_tells_runs_apart(make_traffic: Callable[..., Records]) -> None:
    traffic = make_traffic(account_prefix="run7-", accounts=2, bots_per_account=2)
    assert {r["account_id"] for r in traffic} == {"run7-acct-1", "run7-acct-2"}
    assert {r["bot_id"] for r in traffic} == {"bot-1-1", "bot-1-2", "bot-2-1", "bot-2-2"}


@pytest.mark.parametrize(("count", "span_ms"), [(1000, 10_000), (1000, 10 * MINUTE)])
def test_about_count_events_fall_inside_the_window(
        count: int, span_ms: int, make_traffic: Callable[..., Records]) -> None:
    assert len(make_traffic(count=count, span_ms=span_ms)) >= count / 2


def test_account_events_leave_the_usage_traffic_as_it_was(
        make_traffic: Callable[..., Records]) -> None:
    with_accounts = make_traffic(account_events=True)
    usage = [r for r in with_accounts if r["type"] not in ACCOUNT_EVENT_SCHEMAS]
    assert usage == make_traffic()
    assert make_traffic(account_events=True) == with_accounts


def test_every_bot_is_registered_first_on_a_mix_of_plans(
        make_traffic: Callable[..., Records]) -> None:
    traffic = make_traffic(account_events=True, account_prefix="run7-")
    bots = {(r["account_id"], r["bot_id"]) for r in traffic}
    registered = [r for r in traffic if r["type"] == "bot_registered"]
    assert sorted((r["account_id"], r["bot_id"]) for r in registered) == sorted(bots)
    assert {r["plan_id"] for r in registered} == {"standard", "essential", "advanced", "trial"}
    first_seen: dict[tuple[str, str], str] = {}
    for record in traffic:
        first_seen.setdefault((record["account_id"], record["bot_id"]), record["type"])
    assert set(first_seen.values()) == {"bot_registered"}


def test_the_account_events_are_valid_and_in_the_window(
        make_traffic: Callable[..., Records]) -> None:
    traffic = make_traffic(account_events=True)
    accounts = [r for r in traffic if r["type"] in ACCOUNT_EVENT_SCHEMAS]
    kinds = Counter(r["type"] for r in accounts)
    assert kinds["order_placed"] == kinds["order_settled"] == kinds["credits_granted"] == 1
    assert kinds["plan_change_requested"] == 1
    assert len({r["event_id"] for r in accounts}) == len(accounts)
    for record in accounts:
        account_event_from_mapping(record)  # raises on a bad one
        assert T0 <= record["occurred_at"] < T0 + 6 * HOUR
    placed, settled = (next(r for r in accounts if r["type"] == kind)
                       for kind in ("order_placed", "order_settled"))
    assert settled["order_id"] == placed["order_id"] and settled["status"] == "paid"
    assert placed["occurred_at"] < settled["occurred_at"]
