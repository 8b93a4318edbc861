"""Conversation states recovered from the changelog after a restart are closed and
forgotten on the sweep schedule, like every other state, even when their conversation never
gets another event (issue 9: memory and changelog grew with every restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from botbill.billing_rules.timeutil import MINUTE_MS, parse_rfc3339_ms
from tests.e2e.pipeline import Pipeline, write_events

pytestmark = pytest.mark.integration

START = parse_rfc3339_ms("2026-11-07T00:00:00.000Z")
OLD = 12  # conversations before the restart, never heard of again


@pytest.fixture(scope="module")
def pipeline_env() -> dict[str, str]:
    # one partition: every later event moves the event time of the old conversations too
    return {"BOTBILL_PARTITIONS": "1", "BOTBILL_IDLE_INPUT": "1s"}


def _turn(conversation: str, at: int, number: int) -> dict[str, Any]:
    return {"type": "conversation_turn", "event_id": f"{conversation}-{number}",
            "account_id": "sweep-acct", "bot_id": "sweep-bot", "conversation_id": conversation,
            "user_id": "u1", "channel": "web", "speaker": "USER", "occurred_at": at}


def test_recovered_states_are_swept_without_new_events(pipeline: Pipeline,
                                                       tmp_path: Path) -> None:
    old = [_turn(f"old{i}", START + i * 1000, 0) for i in range(OLD)]
    pipeline.produce_file(write_events(tmp_path / "old.jsonl", old))
    pipeline.wait_until(lambda: len(pipeline.export() or []) >= OLD, 120,
                        f"{OLD} sessions billed")  # their states are in the table
    pipeline.stop_worker()
    pipeline.start_worker()

    # a new conversation hours later in event time: its turns move the watermark far past
    # every old conversation's end + T + grace; none of the old ones gets an event
    later = START + 3 * 60 * MINUTE_MS
    sent = 0

    def only_the_new_one_is_open() -> bool:
        nonlocal sent
        # keep the stream moving (the sweep runs as events arrive, every few seconds)
        turn = _turn("new", later + sent * 1000, sent)
        pipeline.produce_file(write_events(tmp_path / f"new{sent}.jsonl", [turn]))
        sent += 1
        return pipeline.metric("botbill_open_conversations") == 1

    pipeline.wait_until(only_the_new_one_is_open, 120,
                        "the recovered conversations to be swept", every=2.0)
