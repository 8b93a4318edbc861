"""``BOTBILL_TOPIC_PREFIX`` names a whole pipeline: without ``BOTBILL_APP_ID`` the consumer
group and the changelog topics carry the prefix too, so a second pipeline on the cluster
(staging beside production, a benchmark beside a demo) never recovers the other's states."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from botbill.billing_rules.timeutil import parse_rfc3339_ms
from tests.e2e.pipeline import Pipeline, write_events

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline_env() -> dict[str, str]:
    return {"BOTBILL_APP_ID": ""}  # unset: derived from the prefix


def test_the_group_and_the_changelogs_live_in_the_prefix(pipeline: Pipeline,
                                                          tmp_path: Path) -> None:
    turn = {"type": "conversation_turn", "event_id": "ns-1", "account_id": "ns-acct",
            "bot_id": "ns-bot", "conversation_id": "ns-c", "user_id": "u", "channel": "web",
            "speaker": "USER", "occurred_at": parse_rfc3339_ms("2026-11-08T00:00:00.000Z")}
    pipeline.produce_file(write_events(tmp_path / "one.jsonl", [turn]))
    pipeline.wait_until(lambda: len(pipeline.export() or []) == 1, 120, "one session")
    admin = AdminClient({"bootstrap.servers": pipeline.bootstrap})
    expected_group = f"{pipeline.prefix}botbill"
    groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid}
    assert expected_group in groups
    changelogs = [name for name in admin.list_topics(timeout=30).topics
                  if name.endswith("-changelog") and "conversations" in name
                  and name.startswith(pipeline.prefix)]
    assert changelogs == [f"{expected_group}-conversations-changelog"]
