"""A worker that stops and starts again (state recovered from the changelog topic) bills
exactly as ``replay``: it remembers open visits and the event ids it has seen."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from botbill.billing_rules.timeutil import MINUTE_MS, parse_rfc3339_ms
from botbill.streams.traffic import generate_events
from tests.e2e.pipeline import Pipeline, PipelineFailed, normalized, write_events

pytestmark = pytest.mark.integration

TRAFFIC_START = parse_rfc3339_ms("2026-11-05T00:00:00.000Z")


def _traffic(start_ms: int) -> list[dict[str, Any]]:
    return list(generate_events(seed=11, start_ms=start_ms, count=2000,
                                span_ms=3 * 60 * MINUTE_MS, account_prefix="restart-"))


# SIGKILL too: a crash may lose state and output out of step, and the stream re-reads events
# in another order than the lost history; the newer snapshots must outrank what it sent.
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "kill"])
def test_a_restarted_worker_bills_as_replay(pipeline: Pipeline, tmp_path: Path,
                                            how: signal.Signals) -> None:
    # each case later in event time than the one before: the module shares one pipeline
    start = TRAFFIC_START + (24 * 60 * MINUTE_MS if how == signal.SIGKILL else 0)
    events = [{**e, "account_id": f"{how.name}-{e['account_id']}"} for e in _traffic(start)]
    half = len(events) // 2
    first = write_events(tmp_path / "first.jsonl", events[:half])
    # the second half re-sends the tail of the first: after the restart those must be
    # recognised as duplicates from the recovered state, not billed again
    second = write_events(tmp_path / "second.jsonl", events[half - 200:])
    everything = write_events(tmp_path / "all.jsonl", events)

    def export_of_this_run() -> list[str]:
        rows = pipeline.export() or []
        return normalized(r for r in rows if f'"{how.name}-' in r)

    def wait_for(expected: list[str]) -> None:
        want = normalized(expected)
        try:
            pipeline.wait_until(lambda: export_of_this_run() == want or None, 180,
                                f"the export of this run to equal {len(want)} rows", 2.0)
        except PipelineFailed as error:
            have = export_of_this_run()
            missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
            raise PipelineFailed(f"{error}\nmissing {len(missing)}: {missing[:3]}\n"
                                 f"unexpected {len(extra)}: {extra[:3]}") from None

    pipeline.produce_file(first)
    wait_for(pipeline.replay(first))
    pipeline.stop_worker(signal_to_send=how)
    pipeline.start_worker()
    pipeline.produce_file(second)
    wait_for(pipeline.replay(everything))
    pipeline.assert_alive()
