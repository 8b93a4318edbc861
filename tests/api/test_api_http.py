"""The admin API over HTTP on the real ClickHouse and Kafka: roles, tenant isolation, the
Enterprise rule, validation (422 with the field), writes as account events (202 + ids),
idempotent retries, downloads, usage and the sessions export."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from pypdf import PdfReader

from botbill.billing_rules.timeutil import parse_rfc3339_ms
from tests.e2e.pipeline import write_events

from .conftest import (
    BOT_1_BALANCE,
    DAY,
    FINAL_INVOICE,
    FINAL_TOTAL_TEXT,
    NOW,
    read_account_events,
)

pytestmark = pytest.mark.integration


def test_no_or_unknown_token_is_401(world):
    with world.client(None) as http:
        assert http.get("/api/me").status_code == 401
        bad = http.get("/api/bots", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize("who", ["max", "sam", "ops"])
def test_only_admins_reach_billing(world, who):
    with world.client(who) as http:
        me = http.get("/api/me").json()
        assert (me["billing"], me["orders_and_invoices"]) == (False, False)
        for path in ("/api/bots", "/api/bots/bot-1", "/api/orders", "/api/invoices",
                     "/api/usage"):
            answer = http.get(path)
            assert answer.status_code == 403, path
            assert "admin" in answer.json()["detail"]
        refused = http.post("/api/bots/bot-1/funds",
                            json={"amount_cents": 10_000, "payment_method": "card"})
        assert refused.status_code == 403


def test_admin_sees_its_bots_with_plan_status_balance_and_notices(world):
    with world.client("ann") as http:
        me = http.get("/api/me").json()
        assert me == {"account_id": world.accounts["a"], "user_id": "ann", "role": "admin",
                      "billing": True, "orders_and_invoices": True}
        bots = {b["bot_id"]: b for b in http.get("/api/bots").json()}
    assert set(bots) == {"bot-1", "bot-2", "bot-3"}
    assert (bots["bot-1"]["plan_id"], bots["bot-1"]["status"],
            bots["bot-1"]["balance_cents"]) == ("standard", "active", BOT_1_BALANCE)
    assert (bots["bot-2"]["plan_id"], bots["bot-3"]["plan_id"]) == ("essential", "trial")
    assert bots["bot-3"]["expiring"] and bots["bot-3"]["notices"] == [
        "Trial expiring in 2 day(s)"]
    assert bots["bot-1"]["notices"] == []


def test_manage_view(world):
    with world.client("ann") as http:
        view = http.get("/api/bots/bot-2").json()
        trial = http.get("/api/bots/bot-3").json()
    assert [(p["plan_id"], p["change"], p["effective_at"]) for p in view["plans"]] == [
        ("standard", "downgrade", "2026-04-01T00:00:00.000Z"),
        ("advanced", "upgrade", "2026-03-10T12:00:00.000Z"),
        ("enterprise", "upgrade", "2026-03-10T12:00:00.000Z")]
    assert (view["month"], view["included_usage_sessions"], view["included_alert_sessions"],
            view["cost_so_far_cents"], view["trial_days_left"]) == (
        "2026-03", 1_000, 5_000, 9_900 + 0, None)
    assert view["account_users"] == ["ann", "max", "sam"]
    assert trial["trial_days_left"] == 2 and trial["cost_so_far_cents"] == 0


def test_another_accounts_bot_order_and_invoice_are_404(world):
    b = world.accounts["b"]
    with world.client("ann") as http:
        assert http.get("/api/bots/bot-b1").status_code == 404
        assert http.post("/api/bots/bot-b1/plan",
                         json={"plan_id": "advanced"}).status_code == 404
        assert http.get(f"/api/invoices/INV-{b}-2026-02/download").status_code == 404
        assert "ord-b-1" not in {o["order_id"] for o in http.get("/api/orders").json()}
    with world.client("bob") as http:
        assert http.get("/api/bots/bot-1").status_code == 404
        assert http.get(f"/api/invoices/{FINAL_INVOICE['invoice_id']}/download"
                        ).status_code == 404
        assert [o["order_id"] for o in http.get("/api/orders").json()] == ["ord-b-1"]


def test_enterprise_customers_get_no_orders_and_invoices(world):
    with world.client("eve") as http:
        me = http.get("/api/me").json()
        assert (me["billing"], me["orders_and_invoices"]) == (True, False)
        assert [b["plan_id"] for b in http.get("/api/bots").json()] == ["enterprise"]
        for path in ("/api/orders", "/api/invoices"):
            answer = http.get(path)
            assert answer.status_code == 403
            assert "Enterprise" in answer.json()["detail"]


def test_orders_and_invoices_list_the_seeded_rows(world):
    with world.client("ann") as http:
        orders = http.get("/api/orders").json()
        invoices = {i["invoice_id"]: i for i in http.get("/api/invoices").json()}
    assert orders == [{"order_id": "ord-paid-1", "bot_id": "bot-1",
                       "billing_date": "2026-02-18T12:00:00.000Z", "cost_cents": 10_000,
                       "payment_method": "card", "payment_status": "paid",
                       "receipt_id": "RCT-ord-paid-1"}]
    final = invoices[FINAL_INVOICE["invoice_id"]]
    assert final["downloadable"] and final["total_cents"] == FINAL_INVOICE["total_cents"]
    assert final["lines"] == FINAL_INVOICE["lines"]
    assert invoices["RCT-ord-paid-1"]["total_cents"] == 10_000
    assert not invoices[f"INV-{world.accounts['a']}-2026-03"]["downloadable"]


@pytest.mark.parametrize(("body", "field"), [
    ({"amount_cents": 9_999, "payment_method": "card"}, "amount_cents"),
    ({"amount_cents": 10_000, "payment_method": "cash"}, "payment_method"),
    ({"amount_cents": 100.5, "payment_method": "card"}, "amount_cents"),
    ({"amount_cents": "10000", "payment_method": "card"}, "amount_cents"),
    ({"payment_method": "card"}, "amount_cents"),
    ({"amount_cents": 10_000, "payment_method": "card", "x": 1}, "x"),
])
def test_add_funds_is_validated_with_the_field_and_reason(world, body, field):
    with world.client("ann") as http:
        answer = http.post("/api/bots/bot-1/funds", json=body)
    assert answer.status_code == 422
    assert answer.json()["field"] == field and answer.json()["reason"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("plan", {"plan_id": "trial"}, "plan_id"),
    ("plan", {"plan_id": "gold"}, "plan_id"),
    ("extensions", {"days": 91}, "days"),
    ("extensions", {"days": 0}, "days"),
    ("auto-reload", {"enabled": True, "threshold_cents": 1_000, "amount_cents": 500},
     "amount_cents"),
    ("owner", {"owner_user_id": "stranger"}, "owner_user_id"),
    ("owner", {"owner_user_id": "bob"}, "owner_user_id"),  # a user of another account
])
def test_other_writes_are_validated(world, path, body, field):
    bot = "bot-3" if path == "extensions" else "bot-1"
    with world.client("ann") as http:
        answer = http.post(f"/api/bots/{bot}/{path}", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_writes_become_account_events_on_kafka_and_a_retry_is_a_no_op(world):
    key = {"Idempotency-Key": "retry-me-1"}
    with world.client("ann") as http:
        first = http.post("/api/bots/bot-1/funds", headers=key,
                          json={"amount_cents": 25_000, "payment_method": "wire_transfer"})
        again = http.post("/api/bots/bot-1/funds", headers=key,
                          json={"amount_cents": 25_000, "payment_method": "wire_transfer"})
        down = http.post("/api/bots/bot-2/plan", json={"plan_id": "standard"})
        up = http.post("/api/bots/bot-1/plan", json={"plan_id": "advanced"})
        owner = http.post("/api/bots/bot-1/owner", json={"owner_user_id": "max"})
        ext = http.post("/api/bots/bot-3/extensions", json={"days": 7})
        reload_ = http.post("/api/bots/bot-1/auto-reload",
                            json={"enabled": True, "threshold_cents": 2_000,
                                  "amount_cents": 10_000})
    for answer in (first, again, down, up, owner, ext, reload_):
        assert answer.status_code == 202, answer.text
    assert first.json() == again.json() and first.json()["order_id"]
    assert (down.json()["change"], down.json()["effective_at"]) == (
        "downgrade", "2026-04-01T00:00:00.000Z")
    assert (up.json()["change"], up.json()["effective_at"]) == (
        "upgrade", "2026-03-10T12:00:00.000Z")
    messages = read_account_events(world, expect=6)
    mine = {record["event_id"]: (key_, name, record) for key_, name, record in messages}
    order_events = [r for _, n, r in messages if n == "OrderPlaced"
                    and r["order_id"] == first.json()["order_id"]]
    assert len(order_events) == 1  # the retry sent nothing
    assert order_events[0] == {"event_id": first.json()["event_ids"][0],
                               "account_id": world.accounts["a"], "bot_id": "bot-1",
                               "occurred_at": NOW, "order_id": first.json()["order_id"],
                               "amount_cents": 25_000, "payment_method": "wire_transfer"}
    key_, name, record = mine[down.json()["event_ids"][0]]
    assert (key_, name, record["plan_id"]) == (b"bot-2", "PlanChangeRequested", "standard")
    assert mine[owner.json()["event_ids"][0]][2]["owner_user_id"] == "max"
    assert mine[ext.json()["event_ids"][0]][2]["request_id"] == ext.json()["request_id"]
    assert mine[reload_.json()["event_ids"][0]][1] == "AutoReloadSet"


def test_operator_settles_pending_orders_once_and_decides_extensions(world):
    """Settling is checked by the API against the orders the worker computed; the paid
    order then comes back through the worker with its receipt and its money."""
    b = world.accounts["b"]
    with world.client("ops") as http:
        ok = http.post("/api/operator/orders/ord-b-1/settle",
                       json={"account_id": b, "bot_id": "bot-b1", "status": "paid"})
        twice = http.post("/api/operator/orders/ord-paid-1/settle",
                          json={"account_id": world.accounts["a"], "bot_id": "bot-1",
                                "status": "paid"})
        unknown = http.post("/api/operator/orders/nope/settle",
                            json={"account_id": b, "bot_id": "bot-b1", "status": "paid"})
        bad = http.post("/api/operator/orders/ord-b-1/settle",
                        json={"account_id": b, "bot_id": "bot-b1", "status": "maybe"})
        decided = http.post("/api/operator/extensions/ext-1/decide",
                            json={"account_id": world.accounts["a"], "bot_id": "bot-3",
                                  "approved": True, "days": 7})
        too_long = http.post("/api/operator/extensions/ext-1/decide",
                             json={"account_id": world.accounts["a"], "bot_id": "bot-3",
                                   "approved": True, "days": 120})
    assert ok.status_code == 202 and ok.json()["order_id"] == "ord-b-1"
    assert twice.status_code == 409 and "settles once" in twice.json()["detail"]
    assert unknown.status_code == 404
    assert (bad.status_code, bad.json()["field"]) == (422, "status")
    assert decided.status_code == 202
    assert (too_long.status_code, too_long.json()["field"]) == (422, "days")
    with world.client("ann") as http:
        assert http.post("/api/operator/orders/ord-b-1/settle",
                         json={"account_id": b, "bot_id": "bot-b1",
                               "status": "paid"}).status_code == 403
    # the effect, through the worker: the order paid, its receipt, the money on the wallet
    with world.client("bob") as http:
        receipt = world.wait_until(
            lambda: {i["invoice_id"]: i for i in http.get("/api/invoices").json()
                     }.get("RCT-ord-b-1"), "the receipt of the settled order")
        orders = http.get("/api/orders").json()
        bots = {bot["bot_id"]: bot for bot in http.get("/api/bots").json()}
    assert (receipt["period"], receipt["status"], receipt["total_cents"]) == (
        "2026-03", "final", 20_000)
    assert orders == [{"order_id": "ord-b-1", "bot_id": "bot-b1",
                       "billing_date": "2026-03-05T12:00:00.000Z", "cost_cents": 20_000,
                       "payment_method": "wire_transfer", "payment_status": "paid",
                       "receipt_id": "RCT-ord-b-1"}]
    assert bots["bot-b1"]["balance_cents"] == 50_000 + 20_000  # sign-up credit + the order


def test_final_invoices_download_as_pdf_csv_json_and_drafts_do_not(world):
    invoice_id = FINAL_INVOICE["invoice_id"]
    with world.client("ann") as http:
        pdf = http.get(f"/api/invoices/{invoice_id}/download")
        csv_ = http.get(f"/api/invoices/{invoice_id}/download?format=csv")
        js = http.get(f"/api/invoices/{invoice_id}/download?format=json")
        draft = http.get(f"/api/invoices/INV-{world.accounts['a']}-2026-03/download")
        receipt = http.get("/api/invoices/RCT-ord-paid-1/download")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"Total: USD {FINAL_TOTAL_TEXT}" in text and invoice_id in text
    assert world.accounts["a"] in text
    total = FINAL_INVOICE["total_cents"]
    assert csv_.text.splitlines()[-1].endswith(f",{total},,{FINAL_TOTAL_TEXT}")
    assert json.loads(js.text) == FINAL_INVOICE
    assert draft.status_code == 409 and "draft" in draft.json()["detail"]
    receipt_text = PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text()
    assert "Receipt RCT-ord-paid-1" in receipt_text and "USD 100.00" in receipt_text


MIN = 60_000


def _usage_events(account: str) -> list[dict]:
    """Usage of bot-1, in file order (BILLING_RULES R3-R8, T = 15 min, SESSION = 15 min):
    - c1: turns 12:00-12:31 on 7 March, one visit of 31 min -> sessions 1, 2, 3;
    - c2: turns at 14:00 and 14:16 (two visits: 16 min > T), then one at 14:08 that arrives
      last and merges them into one visit of 16 min -> sessions 1, 2; the stream must void
      the session it had opened for the 14:16 visit;
    - alerts 40, 2 and 1 days before NOW."""
    day = NOW - 3 * DAY  # 2026-03-07T12:00
    turns = [("c1", day, "USER"), ("c1", day + 10 * MIN, "BOT"), ("c1", day + 20 * MIN, "BOT"),
             ("c1", day + 31 * MIN, "USER"), ("c2", day + 120 * MIN, "USER"),
             ("c2", day + 136 * MIN, "USER"), ("c2", day + 128 * MIN, "BOT")]
    events = [{"type": "conversation_turn", "event_id": f"t-{n}", "occurred_at": at,
               "account_id": account, "bot_id": "bot-1", "conversation_id": conversation,
               "user_id": "u", "channel": "web", "speaker": speaker}
              for n, (conversation, at, speaker) in enumerate(turns)]
    events += [{"type": "alert_delivered", "event_id": f"al-{i}", "occurred_at": NOW - i * DAY,
                "account_id": account, "bot_id": "bot-1", "alert_id": f"al-{i}",
                "user_id": "u", "channel": "web"} for i in (40, 2, 1)]
    return events


def test_usage_summary_and_sessions_export(world, tmp_path):
    world.pipeline.produce_file(write_events(tmp_path / "usage.jsonl",
                                             _usage_events(world.accounts["a"])))
    day = NOW - 3 * DAY
    expected = [("usage", "c1", 1, day), ("usage", "c1", 2, day + 15 * MIN),
                ("usage", "c1", 3, day + 30 * MIN), ("usage", "c2", 1, day + 120 * MIN),
                ("usage", "c2", 2, day + 135 * MIN),
                ("alert", None, None, NOW - 2 * DAY), ("alert", None, None, NOW - DAY)]

    def march_rows():
        with world.client("ann") as http:
            lines = http.get("/api/sessions/export",
                             params={"from": "2026-03-01", "to": "2026-03-31"}).text
        rows = [json.loads(line) for line in lines.splitlines()]
        return [(r["kind"], r.get("conversation_id"), r.get("session_index"),
                 parse_rfc3339_ms(r.get("billing_session_start") or r["delivered_at"]))
                for r in rows]

    world.wait_until(lambda: march_rows() == expected, "the stream's sessions of bot-1")
    voided = world.pipeline.query("SELECT conversation_id, billing_session_start FROM "
                                  "usage_sessions FINAL WHERE voided = 1")
    assert [tuple(v) for v in voided] == [("c2", day + 136 * MIN)]  # the void happened
    with world.client("ann") as http:
        daily = http.get("/api/usage", params={"unit": "usage", "group": "day"}).json()
        alerts = http.get("/api/usage", params={"unit": "alert", "group": "month",
                                                "from": "2026-01-01", "to": "2026-03-31"})
        too_long = http.get("/api/usage", params={"from": "2025-11-01", "to": "2026-03-01"})
        exported = http.get("/api/sessions/export",
                            params={"from": "2026-03-01", "to": "2026-03-31"})
        as_csv = http.get("/api/sessions/export",
                          params={"from": "2026-03-01", "to": "2026-03-31", "format": "csv"})
        months = http.get("/api/sessions/export",
                          params={"from": "2026-01-01", "to": "2026-04-01"})
    assert daily["buckets"] == [{"bucket": "2026-03-07T00:00:00.000Z", "sessions": 5}]
    assert alerts.json()["buckets"] == [{"bucket": "2026-01", "sessions": 1},
                                        {"bucket": "2026-03", "sessions": 2}]
    assert (too_long.status_code, too_long.json()["field"]) == (422, "to")
    assert len(exported.text.splitlines()) == len(expected)
    assert len(as_csv.text.splitlines()) == 1 + len(expected)
    assert (months.status_code, months.json()["field"]) == (422, "to")


def test_users_add_prints_the_token_on_the_last_line(world):
    done = subprocess.run(
        [sys.executable, "-m", "botbill", "users", "add", "--account", world.accounts["a"],
         "--user", "newbie", "--role", "member", "--clickhouse-url", world.clickhouse_url],
        capture_output=True, text=True, check=True, timeout=60)
    token = done.stdout.strip().splitlines()[-1]
    with world.client(None) as http:
        me = http.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["user_id"], me["role"], me["billing"]) == ("newbie", "member", False)
    assert token not in done.stderr


def test_botbill_api_serves_the_openapi_and_the_page(world):
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "botbill", "api", "--port", str(port),
         "--clickhouse-url", world.clickhouse_url, "--bootstrap", world.bootstrap],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).json()
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "botbill api did not start"
                time.sleep(0.2)
        assert {"/api/bots", "/api/orders", "/api/invoices/{invoice_id}/download",
                "/api/operator/orders/{order_id}/settle"} <= set(spec["paths"])
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.headers["content-type"].startswith("text/html")
        assert "Plan & Usage" in page.text
        me = httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=5,
                       headers={"Authorization": f"Bearer {world.tokens['ann']}"})
        assert me.json()["billing"] is True
    finally:
        server.terminate()
        server.wait(timeout=20)
        server.stderr.close()
