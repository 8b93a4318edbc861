"""``botbill reconcile`` on the real ClickHouse: finds and repairs what the store got wrong."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from botbill.billing_rules.batch import BatchBiller
from botbill.billing_rules.events import event_from_mapping, event_to_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.billing_rules.settings import TimeoutPolicy
from botbill.deploy.stack import Endpoints
from botbill.sinks import ClickHouseStore, SinkBatch, connect, migrate
from botbill.sinks.store import RawEventRecord
from tests.examples_dir import BOTBILL
from tests.examples_dir import EXAMPLES as EXAMPLES_DIR

EXAMPLES = EXAMPLES_DIR / "events.jsonl"
pytestmark = pytest.mark.integration


@pytest.fixture
def database(stack: Endpoints) -> Iterator[str]:
    name = f"botbill_reconcile_{uuid.uuid4().hex[:10]}"
    url = f"clickhouse://default@{stack.clickhouse_host}:{stack.clickhouse_port}/{name}"
    client = connect(url, create_database=True)
    migrate(client)
    client.disconnect()
    yield url
    admin = connect(url.rsplit("/", 1)[0] + "/default")
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.disconnect()


def run(url: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOTBILL_CLICKHOUSE_URL": url, **extra_env}
    return subprocess.run([*BOTBILL, "reconcile", "--from", "2026-10-31", "--to", "2026-11-01",
                           *args], capture_output=True, text=True, env=env, timeout=120)


def test_reconcile_reports_then_repairs(database: str) -> None:
    events = [event_from_mapping(json.loads(line)) for line in EXAMPLES.read_text().splitlines()]
    biller = BatchBiller()
    truth = [s for e in events for s in biller.add(e)] + biller.finish()
    usage = [s for s in truth if isinstance(s, UsageSession)]
    alerts = [s for s in truth if isinstance(s, AlertSession)]
    # what a faulty stream left behind: one session lost, one with the wrong end, one
    # that should not exist, one alert lost
    wrong = replace(usage[1], billing_session_end=usage[1].billing_session_end + 60_000)
    stray = replace(usage[0], conversation_id="never-happened")
    stored = [usage[0], wrong, stray, *usage[3:]]
    with ClickHouseStore(database) as store:
        store.write_batch(SinkBatch(
            raw_events=[RawEventRecord(event_to_mapping(e), "conversation-turns", 0, offset)
                        for offset, e in enumerate(events)],
            usage_changes=[SessionChange(s, 3, False) for s in stored],
            alert_sessions=alerts[1:]))

    report = run(database)
    assert report.returncode == 1, report.stderr
    found = [json.loads(line) for line in report.stdout.splitlines()]
    missing = {(r["conversation_id"] if r["kind"] == "usage" else r["event_id"])
               for r in found if r["difference"] == "missing"}
    extra = {r.get("conversation_id") for r in found if r["difference"] == "extra"}
    assert missing == {usage[1].conversation_id, usage[2].conversation_id, alerts[0].event_id}
    assert extra == {wrong.conversation_id, "never-happened"}

    assert run(database, "--repair").returncode == 0
    again = run(database)
    assert again.returncode == 0, again.stdout
    assert again.stdout == ""
    exported = subprocess.run([*BOTBILL, "sessions", "export", "--url", database],
                              capture_output=True, text=True, check=True, timeout=120).stdout
    replayed = subprocess.run([*BOTBILL, "replay", str(EXAMPLES)], capture_output=True,
                              text=True, check=True, timeout=120).stdout
    assert sorted(map(json.loads, exported.splitlines()), key=json.dumps) == \
        sorted(map(json.loads, replayed.splitlines()), key=json.dumps)


def test_repair_leaves_a_bot_with_its_own_timeout_alone(database: str) -> None:
    """What the stream billed for a bot with its own T (BOTBILL_BOT_TIMEOUTS) is right:
    reconcile must re-bill it with that T, find nothing and repair nothing (it used to
    re-bill it with the default T and 'repair' the correct sessions)."""
    events = [event_from_mapping(json.loads(line)) for line in EXAMPLES.read_text().splitlines()]
    biller = BatchBiller(TimeoutPolicy(per_bot={"bot-a": 3_600_000}))
    truth = [s for e in events for s in biller.add(e)] + biller.finish()
    with ClickHouseStore(database) as store:
        store.write_batch(SinkBatch(
            raw_events=[RawEventRecord(event_to_mapping(e), "conversation-turns", 0, offset)
                        for offset, e in enumerate(events)],
            usage_changes=[SessionChange(s, 3, False) for s in truth
                           if isinstance(s, UsageSession)],
            alert_sessions=[s for s in truth if isinstance(s, AlertSession)]))
    own_t = {"BOTBILL_BOT_TIMEOUTS": "bot-a=1h"}
    report = run(database, **own_t)
    assert (report.returncode, report.stdout) == (0, ""), report.stderr
    assert run(database, "--repair", **own_t).returncode == 0
    with_default_t = run(database)  # the difference a wrong T makes is there to be found
    assert with_default_t.returncode == 1
    assert '"ex4-idle"' in with_default_t.stdout
    assert run(database, **own_t).stdout == ""
