"""Acceptance: ClickHouse goes down while the worker runs (Kafka stays up). The sink retries
without committing, and once ClickHouse is back the export equals ``botbill replay``:
nothing missing, nothing doubled."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from botbill.billing_rules.timeutil import MINUTE_MS, parse_rfc3339_ms
from botbill.deploy.stack import start_service, stop_service
from botbill.streams.traffic import generate_events
from tests.e2e.pipeline import Pipeline, normalized, write_events

pytestmark = pytest.mark.integration

TRAFFIC_START = parse_rfc3339_ms("2026-11-04T00:00:00.000Z")
OUTAGE_RETRIES = 3  # sink retries to see before ClickHouse comes back (~3.5 s of backoff)


def _traffic() -> list[dict[str, Any]]:
    return list(generate_events(seed=4, start_ms=TRAFFIC_START, count=2500,
                                span_ms=4 * 60 * MINUTE_MS, account_prefix="outage-"))


def test_export_equals_replay_after_a_clickhouse_outage(pipeline: Pipeline,
                                                        tmp_path: Path) -> None:
    events = _traffic()
    half = len(events) // 2
    before = write_events(tmp_path / "before.jsonl", events[:half])
    during = write_events(tmp_path / "during.jsonl", events[half:])
    everything = write_events(tmp_path / "all.jsonl", events)

    # Written normally first, so the sink's connection is an established one that breaks.
    pipeline.produce_file(before)
    pipeline.wait_for_export(pipeline.replay(before))
    expected = pipeline.replay(everything)
    assert len(expected) > len(pipeline.replay(before)) > 100

    try:
        assert stop_service("clickhouse"), "ClickHouse was not running"
        outage_started = time.monotonic()
        pipeline.produce_file(during)

        def sink_failing() -> bool:
            metrics = pipeline.metrics()
            health = pipeline.health()  # still served while the sink waits on ClickHouse
            return (metrics.get("botbill_sink_errors_total", 0) > 0
                    and metrics.get("botbill_sink_retries_total", 0) >= OUTAGE_RETRIES
                    and health is not None
                    and re.search(r"sink: [1-9]\d* (messages )?waiting", health["detail"])
                    is not None)

        pipeline.wait_until(sink_failing, 120, "sink errors and retries during the outage")
        assert pipeline.export() is None  # ClickHouse really is down
    finally:
        start_service("clickhouse")
    outage = time.monotonic() - outage_started

    rows = pipeline.wait_for_export(expected, timeout=180)
    assert rows == normalized(expected)
    assert len(rows) == len(set(rows))
    metrics = pipeline.metrics()
    assert metrics.get("botbill_late_events_total", 0) == 0
    assert metrics.get("botbill_invalid_events_total", 0) == 0
    # every input event archived once: raw_events, deduplicated, holds each distinct event
    distinct_ids = {(e["account_id"], e["event_id"]) for e in events}
    ((archived,),) = pipeline.query("SELECT count() FROM (SELECT DISTINCT account_id, "
                                    "event_id FROM raw_events)")
    assert archived == len(distinct_ids), f"outage of {outage:.0f}s"
    health = pipeline.health()
    assert health is not None and health["healthy"], health
