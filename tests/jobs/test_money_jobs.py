"""The money read side over ClickHouse (chdb: a current ClickHouse; and, marked
``integration``, the real 18.16 server): the worked money examples' billed sessions and
account events written as the sink writes them, then the loader, ``balances export``,
``invoices run`` and ``plan-status`` against the expected files and ``replay``."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from typing import Any

import orjson
import pytest

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.invoices import (
    InvoiceLine,
    balance_rows,
    invoice_row,
    invoice_rows,
    invoices,
)
from botbill.billing_rules.money import run_books
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.jobs.catalog_file import load_catalog
from botbill.jobs.invoicing import run_invoices
from botbill.jobs.money_data import account_events, load_movements, recompute
from botbill.jobs.plan_status import run_plan_status
from botbill.sinks import money as store
from botbill.sinks.entitlements import read_entitlements
from botbill.sinks.store import AccountEventRecord, SinkBatch
from botbill.streams.produce import account_record
from tests.examples_dir import BOTBILL, EXAMPLES

MONEY = EXAMPLES / "money"
USAGE_TYPES = ("conversation_turn", "agent_handoff", "alert_delivered")
CATALOG = load_catalog()


def at(day: str) -> int:
    return parse_rfc3339_ms(f"{day}T00:00:00.000Z")


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def expected(kind: str, day: str) -> list[str]:
    return canonical([json.loads(line) for line in
                      (MONEY / f"{kind}-{day}.jsonl").read_text().splitlines() if line])


def _session(row: dict[str, Any]) -> UsageSession | AlertSession:
    if row["kind"] == "alert":
        return AlertSession(row["account_id"], row["bot_id"], row["event_id"],
                            parse_rfc3339_ms(row["delivered_at"]))
    times = {k: parse_rfc3339_ms(v) for k, v in row.items() if k.endswith(("_start", "_end"))}
    return UsageSession(row["account_id"], row["bot_id"], row["conversation_id"],
                        row["channel"], row["user_id"], times["conversation_session_start"],
                        times["conversation_session_end"], row["session_index"],
                        times["billing_session_start"], times["billing_session_end"])


@pytest.fixture(scope="module")
def examples_batch(tmp_path_factory: pytest.TempPathFactory) -> SinkBatch:
    """What the sink writes for the money examples: replay's sessions, the account events."""
    out = tmp_path_factory.mktemp("replay") / "sessions.jsonl"
    subprocess.run([*BOTBILL, "replay", str(MONEY / "events.jsonl"), "--max-disorder", "400d",
                    "-o", str(out)], check=True, capture_output=True, timeout=300)
    batch = SinkBatch()
    for row in map(orjson.loads, out.read_bytes().splitlines()):
        session = _session(row)
        if isinstance(session, AlertSession):
            batch.alert_sessions.append(session)
        else:
            batch.usage_changes.append(SessionChange(session, 1, False))
    for number, line in enumerate((MONEY / "events.jsonl").read_bytes().splitlines()):
        raw = orjson.loads(line)
        if raw.get("type") not in USAGE_TYPES:
            batch.account_events.append(AccountEventRecord(account_record(raw),
                                                           "account-events", 0, number))
    return batch


@pytest.fixture(scope="module")
def loaded(backend: Any, examples_batch: SinkBatch) -> Any:
    backend.write(examples_batch)
    backend.write(examples_batch)  # a redelivery: collapses
    return backend


@pytest.mark.parametrize("day", ["2026-02-10", "2026-03-02", "2026-06-05"])
def test_recomputed_balances_are_the_expected_rows(loaded: Any, day: str) -> None:
    found = recompute(loaded.client, CATALOG, at(day))
    assert canonical(balance_rows(found.books, at(day))) == expected("balances", day)
    found_s2 = recompute(loaded.client, CATALOG, at(day), account="acct-s2")
    assert canonical(balance_rows(found_s2.books, at(day))) == [
        r for r in expected("balances", day) if '"acct-s2"' in r]


def test_the_archive_keeps_every_version_and_the_engine_picks_as_replay(
        loaded: Any, records: Any) -> None:
    base = {"type": "credits_granted", "event_id": "dup-1", "account_id": records.account,
            "bot_id": "bot-a", "occurred_at": records.t0, "grant_id": "g-1",
            "amount_cents": 700, "expires_at": None}
    registered = {"type": "bot_registered", "event_id": "reg", "account_id": records.account,
                  "bot_id": "bot-a", "occurred_at": records.t0 - 1, "plan_id": "standard",
                  "owner_user_id": "u"}
    other = {**base, "amount_cents": 900}
    bad = {**base, "event_id": "bad-1", "amount_cents": -5}
    batch = SinkBatch(account_events=[AccountEventRecord(r, "account-events", 0, n)
                                      for n, r in enumerate([registered, base, base, other,
                                                             bad])])
    loaded.write(batch)
    reported: list[tuple[str, str]] = []
    found = list(account_events(loaded.client, account=records.account,
                                report=lambda label, why: reported.append((label, why))))
    assert sorted((e.event_id, getattr(e, "amount_cents", 0)) for e in found) == [
        ("dup-1", 700), ("dup-1", 900), ("reg", 0)]
    assert len(reported) == 1 and "'bad-1'" in reported[0][0] and "amount_cents" in \
        reported[0][1]
    replayed = [account_event_from_mapping(r) for r in (other, registered, base)]
    books, _ = run_books(replayed, records.t0 + 1, CATALOG)
    movements = load_movements(loaded.client, account=records.account, as_of=records.t0 + 1,
                               report=lambda *_: None)
    mine, _ = run_books(movements, records.t0 + 1, CATALOG)
    assert balance_rows(mine, records.t0 + 1) == balance_rows(books, records.t0 + 1)


def _invoice_rows(client: Any) -> int:
    return sum(client.execute(f"SELECT count() FROM {t}")[0][0]
               for t in ("invoices", "invoice_lines"))


def test_invoices_run_is_idempotent_and_finals_carry_corrections(loaded: Any) -> None:
    client = loaded.client
    first = run_invoices(client, CATALOG, at("2026-03-02"))
    assert first.written and not first.kept_final
    stored = [invoice_row(i) for i in store.read_invoices(client)]
    assert canonical(stored) == expected("invoices", "2026-03-02")
    rows = _invoice_rows(client)
    again = run_invoices(client, CATALOG, at("2026-03-02"))
    assert not again.written and _invoice_rows(client) == rows
    # Stale: a run as of an earlier T never replaces what a later one wrote.
    run_invoices(client, CATALOG, at("2026-03-01"), months=["2026-03"])
    assert canonical([invoice_row(i) for i in store.read_invoices(client)]) == canonical(stored)

    # Late: bot-s3b upgraded on 20 February, learned after February's invoice is final.
    late = {"type": "plan_change_requested", "event_id": "late-s3b", "account_id": "acct-s3",
            "bot_id": "bot-s3b", "occurred_at": at("2026-02-20"), "plan_id": "advanced"}
    loaded.write(SinkBatch(account_events=[AccountEventRecord(late, "account-events", 0,
                                                              99_999)]))
    feb = store.read_invoices(client, invoice_id="INV-acct-s3-2026-02")
    done = run_invoices(client, CATALOG, at("2026-03-02"))
    assert done.kept_final == ["INV-acct-s3-2026-02"]
    assert store.read_invoices(client, invoice_id="INV-acct-s3-2026-02") == feb
    movements = [*load_movements(client, as_of=at("2026-03-02"), report=lambda *_: None)]
    books, _ = run_books(movements, at("2026-03-02"), CATALOG)
    truth = {r["invoice_id"]: r for r in invoice_rows(invoices(books, CATALOG,
                                                                at("2026-03-02")))}
    owed = sum(x["amount_cents"] for x in truth["INV-acct-s3-2026-02"]["lines"]
               if x["bot_id"] == "bot-s3b")
    billed = sum(x.amount_cents for x in feb[0].lines if x.bot_id == "bot-s3b")
    assert owed > billed
    (march,) = store.read_invoices(client, invoice_id="INV-acct-s3-2026-03")
    assert march.status == "draft"
    assert [x for x in march.lines if x.kind == "adjustment"] == [
        InvoiceLine("bot-s3b", "adjustment", 1, owed - billed, owed - billed)]
    regular = [x for x in invoice_row(march)["lines"] if x["kind"] != "adjustment"]
    assert regular == truth["INV-acct-s3-2026-03"]["lines"]
    # March final (as of 2 April) keeps the adjustment; April carries nothing more.
    run_invoices(client, CATALOG, at("2026-04-02"))
    (final,) = store.read_invoices(client, invoice_id="INV-acct-s3-2026-03")
    assert final.status == "final" and final.lines == march.lines
    april = store.read_invoices(client, invoice_id="INV-acct-s3-2026-04")
    assert april and all(x.kind != "adjustment" for x in april[0].lines)


def test_plan_status_twice_changes_nothing(loaded: Any) -> None:
    client = loaded.client
    tables = ("bot_balances", "orders", "notifications", "bot_entitlements")

    def counts() -> dict[str, int]:
        return {t: client.execute(f"SELECT count() FROM {t}")[0][0] for t in tables}

    first = run_plan_status(client, CATALOG, at("2026-06-05"))
    assert first.balances and first.orders and first.notifications and first.entitlements
    before = counts()
    assert run_plan_status(client, CATALOG, at("2026-06-05")) == type(first)(0, 0, 0, 0)
    assert counts() == before
    # An older run never replaces a newer one.
    run_plan_status(client, CATALOG, at("2026-03-02"))
    found = recompute(client, CATALOG, at("2026-06-05"), report=lambda *_: None)
    rows = [replace(b, version=0).to_row() for b in store.read_balances(client)]
    assert canonical(rows) == canonical(balance_rows(found.books, at("2026-06-05")))
    rights = {(e.account_id, e.bot_id): e for e in read_entitlements(client)}
    assert all(e.allowed == (e.status not in ("expired", "suspended")) for e in rights.values())
    assert any(not e.allowed and e.reason for e in rights.values())
    orders = {o.order_id: o for o in store.read_orders(client)}
    assert orders["reload:bot-s6:2"].payment_status == "paid"
    assert orders["reload:bot-s6:2"].payment_method == "auto_reload"
    assert orders["reload:bot-s6:2"].placed_at > 0


@pytest.mark.integration
def test_the_api_reads_what_the_jobs_wrote(clickhouse_backend: Any,
                                           examples_batch: SinkBatch) -> None:
    """Balances, orders, invoices and the PDF of a final invoice, through the admin API, from
    the rows plan-status and invoices run wrote (no balance agent involved)."""
    from fastapi.testclient import TestClient

    from botbill.api._events import MemoryEventLog
    from botbill.api.app import create_app
    from botbill.api.users import add_user

    client = clickhouse_backend.client
    clickhouse_backend.write(examples_batch)
    day = at("2026-06-05")
    run_plan_status(client, CATALOG, day)
    run_invoices(client, CATALOG, day)
    tokens = {account: add_user(client, account, f"admin-{account}", "admin", now_ms=day)
              for account in ("acct-s2", "acct-s3")}
    app = create_app(clickhouse_url=clickhouse_backend.url, events=MemoryEventLog(),
                     clock=lambda: day)
    with TestClient(app) as http:
        def get(account: str, path: str) -> Any:
            answer = http.get(path, headers={"Authorization": f"Bearer {tokens[account]}"})
            assert answer.status_code == 200, answer.text
            return answer

        bots = get("acct-s2", "/api/bots").json()
        want = [json.loads(r) for r in expected("balances", "2026-06-05") if '"acct-s2"' in r]
        assert [(b["bot_id"], b["balance_cents"]) for b in bots] == [
            (r["bot_id"], r["balance_cents"]) for r in want]
        orders = {o["order_id"]: o for o in get("acct-s2", "/api/orders").json()}
        assert orders["o-s2-1"]["payment_status"] == "paid"
        assert orders["o-s2-1"]["receipt_id"] == "RCT-o-s2-1"
        listed = {i["invoice_id"]: i for i in get("acct-s3", "/api/invoices").json()}
        want_s3 = {json.loads(r)["invoice_id"] for r in expected("invoices", "2026-06-05")
                   if '"acct-s3"' in r}
        assert set(listed) == want_s3
        assert listed["INV-acct-s3-2026-02"]["downloadable"]
        assert not listed["INV-acct-s3-2026-06"]["downloadable"]  # a draft
        pdf = get("acct-s3", "/api/invoices/INV-acct-s3-2026-02/download")
        assert pdf.headers["content-type"].startswith("application/pdf")
        assert pdf.content.startswith(b"%PDF")


def test_usage_aggregates_count_what_the_export_bills(loaded: Any) -> None:
    """``bot_usage_daily``/``bot_usage_monthly`` (finance, the usage summary) and the API's
    buckets count exactly the billed sessions the invoicing job reads."""
    from collections import Counter
    from datetime import UTC, datetime

    from botbill.sinks.queries import billed_sessions, usage_summary
    from botbill.sinks.usage import usage_buckets

    client = loaded.client
    per_month: Counter[tuple[str, str, str, str]] = Counter()
    for s in billed_sessions(client):
        start = s.delivered_at if isinstance(s, AlertSession) else s.billing_session_start
        month = datetime.fromtimestamp(start // 1000, UTC).strftime("%Y-%m")
        unit = "alert" if isinstance(s, AlertSession) else "usage"
        per_month[(s.account_id, s.bot_id, month, unit)] += 1
    viewed: Counter[tuple[str, str, str, str]] = Counter()
    for row in usage_summary(client):
        for unit, count in (("usage", row.usage_sessions), ("alert", row.alert_sessions)):
            if count:
                viewed[(row.account_id, row.bot_id, row.month.strftime("%Y-%m"), unit)] = count
    assert viewed == per_month and sum(per_month.values()) > 2000
    for unit in ("usage", "alert"):
        buckets = usage_buckets(client, account="acct-s3", bot="bot-s3", unit=unit,
                                group="month", start_ms=at("2026-01-01"),
                                end_ms=at("2026-07-01"))
        assert {(month, n) for month, n in buckets} == {
            (k[2], n) for k, n in per_month.items()
            if k[:2] == ("acct-s3", "bot-s3") and k[3] == unit}
