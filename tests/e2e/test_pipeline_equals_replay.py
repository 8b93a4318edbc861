"""Acceptance: Kafka -> worker -> ClickHouse bills exactly what ``botbill replay`` bills over
the same file (BILLING_RULES §4, last point), and sending the file again changes nothing."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from botbill.billing_rules.timeutil import MINUTE_MS, parse_rfc3339_ms
from botbill.streams.traffic import generate_events
from tests.e2e.pipeline import EXAMPLES, Pipeline, normalized, write_events

pytestmark = pytest.mark.integration

TRAFFIC_START = parse_rfc3339_ms("2026-11-02T00:00:00.000Z")  # after the worked examples
TRAFFIC_SPAN_MS = 5 * 60 * MINUTE_MS
SHUFFLE_WINDOW_MS = MINUTE_MS  # local disorder, well under grace (5 min) and T (15 min)


def _shuffled(events: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """``events`` (in send order) with each moved by up to ``SHUFFLE_WINDOW_MS`` of event
    time: sorted on the running maximum of ``occurred_at`` plus a random jitter."""
    keyed = []
    latest = 0
    for position, event in enumerate(events):
        latest = max(latest, event["occurred_at"])
        keyed.append((latest + rng.randrange(SHUFFLE_WINDOW_MS), position, event))
    return [event for *_, event in sorted(keyed, key=lambda item: item[:2])]


def _events(rng: random.Random) -> list[dict[str, Any]]:
    examples = [orjson.loads(line) for line in
                (EXAMPLES / "events.jsonl").read_bytes().splitlines() if line.strip()]
    for event in examples:
        event["occurred_at"] = parse_rfc3339_ms(event["occurred_at"])
    # The examples file is grouped by case, not by time: send it in event-time order.
    examples.sort(key=lambda event: event["occurred_at"])
    traffic = list(generate_events(seed=20261102, start_ms=TRAFFIC_START, count=5000,
                                   span_ms=TRAFFIC_SPAN_MS, account_prefix="e2e-"))
    return _shuffled(examples, rng) + _shuffled(traffic, rng)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    return write_events(path, _events(random.Random(7)))


def test_stream_equals_replay_and_a_resend_changes_nothing(pipeline: Pipeline,
                                                           events_file: Path) -> None:
    expected = pipeline.replay(events_file)
    lines = events_file.read_bytes().splitlines()
    assert len(lines) > 2000 and len(expected) > 500  # a real load, not a toy

    sent = pipeline.produce_file(events_file)
    assert sent == len(lines)
    first = pipeline.wait_for_export(expected)
    assert first == normalized(expected)
    assert pipeline.metric("botbill_late_events_total") == 0, pipeline.log_tail()
    pipeline.wait_caught_up(sent)
    before = pipeline.metrics()
    assert before.get("botbill_duplicate_events_total", 0) > 0  # the file has redeliveries
    assert before.get("botbill_test_events_total", 0) > 0

    # The very same file again: every event is test traffic, a duplicate or (for
    # conversations already forgotten) late; the billed sessions stay exactly as they are.
    assert pipeline.produce_file(events_file) == sent
    pipeline.wait_caught_up(2 * sent)
    again = pipeline.export()
    assert again is not None
    assert normalized(again) == first

    after = pipeline.metrics()
    refused = {name: after.get(name, 0) - before.get(name, 0) for name in (
        "botbill_duplicate_events_total", "botbill_late_events_total",
        "botbill_test_events_total")}
    assert sum(refused.values()) == sent, refused
    assert refused["botbill_duplicate_events_total"] > 0
    assert after.get("botbill_alert_sessions_total") == before.get("botbill_alert_sessions_total")
    assert after.get("botbill_sink_errors_total", 0) == 0
