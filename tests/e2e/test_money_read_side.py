"""Acceptance of the money read side on the real Kafka + ClickHouse: the worked money examples
sent in time order through ``produce --from`` and the worker, then ``balances export``,
``invoices run/export`` and ``plan-status`` read ClickHouse and give what ``replay`` gives
(and the expected files hold); a final invoice never changes and a correction learned
later is carried as an ``adjustment`` line on the next open invoice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from botbill.billing_rules.timeutil import format_ms
from botbill.jobs._cli import now_ms
from tests.e2e.pipeline import EXAMPLES, Pipeline, normalized

pytestmark = pytest.mark.integration

MONEY = EXAMPLES / "money"
DAYS = ("2026-02-10", "2026-03-02", "2026-06-05")


@pytest.fixture(scope="module")
def pipeline_env() -> dict[str, str]:
    return {"BOTBILL_JOBS_INTERVAL": "0"}  # the jobs run here as of the examples' days


@pytest.fixture(scope="module")
def sorted_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The money examples in event-time order (the file is grouped by case)."""
    records = [orjson.loads(line) for line in (MONEY / "events.jsonl").read_bytes().splitlines()
               if line.strip()]
    records.sort(key=lambda r: r["occurred_at"])  # RFC 3339 text sorts in time order
    path = tmp_path_factory.mktemp("money") / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _instant(day: str) -> str:
    return f"{day}T00:00:00.000Z"


def _replay(pipeline: Pipeline, path: Path, day: str, tmp: Path) -> tuple[list[str], list[str]]:
    balances, invoices = tmp / f"b-{day}.jsonl", tmp / f"i-{day}.jsonl"
    pipeline.botbill("replay", str(path), "--as-of", _instant(day), "--balances",
                     str(balances), "--invoices", str(invoices), "--output",
                     str(tmp / "sessions.jsonl"))
    return balances.read_text().splitlines(), invoices.read_text().splitlines()


def _lines(done: Any) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.strip()]


def _invoice_rows(pipeline: Pipeline) -> int:
    (count,) = pipeline.query("SELECT count() FROM invoices")[0]
    (lines,) = pipeline.query("SELECT count() FROM invoice_lines")[0]
    return int(count) + int(lines)


@pytest.fixture(scope="module")
def loaded(pipeline: Pipeline, sorted_events: Path, tmp_path_factory: pytest.TempPathFactory,
           ) -> Path:
    """The examples through Kafka and the worker, until ClickHouse holds what replay bills."""
    sent = pipeline.produce_file(sorted_events)
    records = [json.loads(line) for line in sorted_events.read_text().splitlines()]
    accounts = {(r["event_id"], json.dumps(r, sort_keys=True)) for r in records
                if r["type"] not in ("conversation_turn", "agent_handoff", "alert_delivered")}
    usage = sum(1 for r in records if r["type"] in
                ("conversation_turn", "agent_handoff", "alert_delivered"))
    assert sent >= usage + len(accounts) - 1  # one account event is refused by its shape
    tmp = tmp_path_factory.mktemp("replay")
    pipeline.botbill("replay", str(sorted_events), "--output", str(tmp / "sessions.jsonl"))
    pipeline.wait_for_export((tmp / "sessions.jsonl").read_text().splitlines(), timeout=300)
    pipeline.wait_until(
        lambda: pipeline.query("SELECT count() FROM account_events FINAL")[0][0]
        >= len(accounts) - 1, 120, "the account events to be archived")
    return tmp


@pytest.mark.parametrize("day", DAYS)
def test_balances_export_equals_the_expected_rows_and_replay(
        pipeline: Pipeline, sorted_events: Path, loaded: Path, day: str) -> None:
    replayed, _ = _replay(pipeline, sorted_events, day, loaded)
    exported = _lines(pipeline.botbill("balances", "export", "--as-of", _instant(day)))
    expected = (MONEY / f"balances-{day}.jsonl").read_text().splitlines()
    assert normalized(exported) == normalized(expected) == normalized(replayed)
    one = _lines(pipeline.botbill("balances", "export", "--as-of", _instant(day),
                                  "--account", "acct-s1"))
    assert normalized(one) == [r for r in normalized(expected) if '"acct-s1"' in r]


def test_invoices_run_twice_then_export_equals_replay_and_finals_never_change(
        pipeline: Pipeline, sorted_events: Path, loaded: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    for day in ("2026-03-02", "2026-06-05"):
        pipeline.botbill("invoices", "run", "--as-of", _instant(day))
        rows = _invoice_rows(pipeline)
        again = pipeline.botbill("invoices", "run", "--as-of", _instant(day))
        assert "0 written" in again.stderr, again.stderr
        assert _invoice_rows(pipeline) == rows  # not a single row more
        _, replayed = _replay(pipeline, sorted_events, day, loaded)
        exported = _lines(pipeline.botbill("invoices", "export"))
        expected = (MONEY / f"invoices-{day}.jsonl").read_text().splitlines()
        assert normalized(exported) == normalized(expected) == normalized(replayed)
    march = _lines(pipeline.botbill("invoices", "export", "--month", "2026-03",
                                    "--account", "acct-s3"))
    assert [json.loads(r)["invoice_id"] for r in march] == ["INV-acct-s3-2026-03"]

    # A correction learned late: bot-s3b upgraded on 15 April (April and May are final).
    late = {"type": "plan_change_requested", "event_id": "late-upgrade-s3b",
            "occurred_at": "2026-04-15T00:00:00.000Z", "account_id": "acct-s3",
            "bot_id": "bot-s3b", "plan_id": "advanced"}
    tmp = tmp_path_factory.mktemp("late")
    (tmp / "late.jsonl").write_text(json.dumps(late) + "\n")
    before = {json.loads(r)["invoice_id"]: json.loads(r)
              for r in _lines(pipeline.botbill("invoices", "export"))}
    pipeline.produce_file(tmp / "late.jsonl")
    pipeline.wait_until(lambda: pipeline.query(
        "SELECT count() FROM account_events WHERE event_id = 'late-upgrade-s3b'")[0][0], 60,
        "the late event to be archived")
    corrected = tmp / "with-late.jsonl"
    corrected.write_text(sorted_events.read_text() + json.dumps(late) + "\n")
    _, replayed = _replay(pipeline, corrected, "2026-06-05", tmp)
    truth = {json.loads(r)["invoice_id"]: json.loads(r) for r in replayed}

    done = pipeline.botbill("invoices", "run", "--as-of", _instant("2026-06-05"))
    assert "INV-acct-s3-2026-04 is final" in done.stderr
    after = {json.loads(r)["invoice_id"]: json.loads(r)
             for r in _lines(pipeline.botbill("invoices", "export"))}
    for month in ("2026-04", "2026-05"):
        invoice_id = f"INV-acct-s3-{month}"
        assert after[invoice_id] == before[invoice_id]  # final: never changed
        assert truth[invoice_id] != before[invoice_id]  # although the rules now differ
    owed = sum(line["amount_cents"] for month in ("2026-04", "2026-05")
               for line in truth[f"INV-acct-s3-{month}"]["lines"]
               if line["bot_id"] == "bot-s3b")
    billed = sum(line["amount_cents"] for month in ("2026-04", "2026-05")
                 for line in before[f"INV-acct-s3-{month}"]["lines"]
                 if line["bot_id"] == "bot-s3b")
    june = after["INV-acct-s3-2026-06"]
    adjustment = {"bot_id": "bot-s3b", "kind": "adjustment", "quantity": 1,
                  "unit_price_cents": owed - billed, "amount_cents": owed - billed}
    assert owed != billed
    assert june["lines"] == [*truth["INV-acct-s3-2026-06"]["lines"], adjustment]
    assert june["total_cents"] == truth["INV-acct-s3-2026-06"]["total_cents"] + owed - billed
    rows = _invoice_rows(pipeline)
    pipeline.botbill("invoices", "run", "--as-of", _instant("2026-06-05"))
    assert _invoice_rows(pipeline) == rows


def test_plan_status_writes_the_recompute_once(pipeline: Pipeline, loaded: Path) -> None:
    day = _instant("2026-06-05")
    first = pipeline.botbill("plan-status", "--as-of", day).stderr
    counts = {table: pipeline.query(f"SELECT count() FROM {table}")[0][0]
              for table in ("bot_balances", "orders", "notifications", "bot_entitlements")}
    assert all(counts.values()), (first, counts)
    second = pipeline.botbill("plan-status", "--as-of", day).stderr
    assert "wrote 0 balance rows, 0 orders, 0 notifications, 0 entitlements" in second
    assert {table: pipeline.query(f"SELECT count() FROM {table}")[0][0]
            for table in counts} == counts
    stored = pipeline.query("SELECT account_id, bot_id, as_of, plan_id, status, granted_cents, "
                            "debited_cents, expired_cents, balance_cents FROM bot_balances "
                            "FINAL ORDER BY account_id, bot_id")
    keys = ("account_id", "bot_id", "as_of", "plan_id", "status", "granted_cents",
            "debited_cents", "expired_cents", "balance_cents")
    exported = _lines(pipeline.botbill("balances", "export", "--as-of", day))
    as_rows = [dict(zip(keys, row, strict=True)) for row in stored]
    for row in as_rows:
        row["as_of"] = day
    assert normalized(json.dumps(r) for r in as_rows) == normalized(exported)
    suspended = pipeline.query("SELECT bot_id FROM bot_entitlements FINAL WHERE allowed = 0 "
                               "ORDER BY bot_id")
    assert suspended and all(status in ("expired", "suspended") for (status,) in
                             pipeline.query("SELECT status FROM bot_entitlements FINAL "
                                            "WHERE allowed = 0"))


def test_the_worker_runs_plan_status_and_invoicing_on_its_schedule(
        pipeline: Pipeline, loaded: Path) -> None:
    """Last in the module: the worker restarted with a 2 s schedule writes, as of now (the
    wall clock, months after the examples), the same balances ``balances export`` gives and
    this month's invoices."""
    exported = [json.loads(line) for line in _lines(pipeline.botbill("balances", "export"))]
    want = [(r["account_id"], r["bot_id"], r["plan_id"], r["status"], r["balance_cents"])
            for r in exported]

    def stored() -> bool:
        return [tuple(row) for row in pipeline.query(
            "SELECT account_id, bot_id, plan_id, status, balance_cents FROM bot_balances "
            "FINAL ORDER BY account_id, bot_id")] == want

    assert not stored()  # as of now, months after 2026-06-05, something has moved
    pipeline.stop_worker()
    pipeline.env["BOTBILL_JOBS_INTERVAL"] = "2"
    pipeline.start_worker()

    pipeline.wait_until(stored, 120, "the worker's plan-status tick")
    this_month = format_ms(now_ms())[:7]
    pipeline.wait_until(lambda: pipeline.query(
        "SELECT count() FROM invoices FINAL WHERE period = %(p)s", {"p": this_month})[0][0],
        60, "the worker's invoicing tick")
