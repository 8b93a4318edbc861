"""The admin API (issue 8): Plan & Usage, Orders & Invoices, usage, sessions export, operator
endpoints, and the Billing page. A thin adapter: who may do what and what is valid come from
``billing_rules.admin``; writes become account events on Kafka (202 + ids); reads come from
ClickHouse (``sinks.money``, ``sinks.usage``, ``sinks.queries``).

Access: a bearer token (``Authorization: Bearer ...``; GET requests also accept the
``botbill_token`` cookie the Billing page sets, so downloads are plain links). Billing is for
the account's ``admin`` users (others: 403 with the reason); another account's bot, order or
invoice is 404; an Enterprise customer has no Orders & Invoices (403).
"""

# No `from __future__ import annotations`: FastAPI must see the dependency aliases defined
# inside create_app as real objects, not as names to resolve later.
import csv
import hashlib
import io
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from botbill.billing_rules import admin as rules
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.invoices import invoice_row
from botbill.billing_rules.sessions import to_row
from botbill.billing_rules.timeutil import format_ms, parse_rfc3339_ms
from botbill.jobs.catalog_file import load_catalog
from botbill.sinks import SinkError, SinkUnavailable, billed_sessions, connect
from botbill.sinks import money as store
from botbill.sinks.usage import usage_buckets

from . import models as m
from ._auth import hash_token
from ._events import EventLog
from .documents import invoice_csv, invoice_json, invoice_pdf
from .exceptions import ApiError, EventsUnavailable, RequestRefused
from .page import BILLING_PAGE

__all__ = ["create_app"]

_DAY_MS = 86_400_000
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": m.Error, "description": "no or unknown bearer token"},
    403: {"model": m.Error, "description": "the user's role may not do this (reason given)"},
    404: {"model": m.Error, "description": "no such bot, order or invoice in this account"},
    503: {"model": m.Error, "description": "ClickHouse or Kafka unavailable: retry"},
}
_WRITE_ERRORS = {**_ERRORS, 409: {"model": m.Error, "description": "conflicts with the state"}}
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="a retried POST with the same key is a no-op (same ids, same events)")]
BotId = Annotated[str, Path(min_length=1, max_length=200)]


def _refuse(refusal: rules.Refusal | None, where: str = "body") -> None:
    if refusal is not None:
        raise RequestRefused(refusal.field, refusal.reason, where)


def _unprocessable(field: str, reason: str, where: str = "body") -> JSONResponse:
    return JSONResponse(status_code=422, content={
        "detail": [{"loc": [where, field], "msg": reason, "type": "value_error"}],
        "field": field, "reason": reason})


def create_app(*, clickhouse_url: str | None, events: EventLog,
               clock: Callable[[], int] | None = None, catalog: Catalog | None = None,
               ) -> FastAPI:
    """The API over ClickHouse at ``clickhouse_url`` appending to ``events``; ``clock``
    returns epoch ms (injected in tests); ``catalog``: the plan catalog (default: the one
    in force, ``jobs.catalog_file.load_catalog``)."""
    now = clock or (lambda: int(time.time() * 1000))
    plans = rules.plans_of(catalog or load_catalog())
    local = threading.local()
    opened: list[Any] = []

    def client() -> Any:
        """One ClickHouse client per worker thread (a client is not thread-safe)."""
        found = getattr(local, "client", None)
        if found is None:
            found = local.client = connect(clickhouse_url)
            opened.append(found)
        return found

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for each in opened:
            each.disconnect()

    app = FastAPI(title="botbill admin API", version="1", lifespan=lifespan,
                  description="Billing for bot admins (Plan & Usage, Orders & Invoices), "
                  "usage, sessions export, operator actions. Money in integer cents.")

    @app.exception_handler(RequestRefused)
    async def refused(_: Request, error: RequestRefused) -> JSONResponse:
        return _unprocessable(error.field, error.reason, error.where)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": ["body"], "msg": "invalid"}
        loc = [str(part) for part in first.get("loc", ())]
        field = loc[-1] if len(loc) > 1 else (loc[0] if loc else "body")
        body = _unprocessable(field, str(first.get("msg", "invalid")),
                              loc[0] if loc else "body")
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in error.errors()]
        content = json.loads(bytes(body.body))
        content["detail"] = detail
        return JSONResponse(status_code=422, content=content)

    @app.exception_handler(SinkUnavailable)
    async def sink_down(_: Request, error: SinkUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": f"ClickHouse: {error}"})

    @app.exception_handler(EventsUnavailable)
    async def kafka_down(_: Request, error: EventsUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(error)})

    # -- who is asking -------------------------------------------------------------------

    def user(request: Request,
             authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
             ) -> store.User:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        elif request.method == "GET":
            token = request.cookies.get("botbill_token")
        if not token:
            raise HTTPException(401, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        found = store.user_by_token_hash(client(), hash_token(token))
        if found is None:
            raise HTTPException(401, "unknown or replaced token",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    User = Annotated[store.User, Depends(user)]

    def billing_admin(who: User) -> store.User:
        refusal = rules.can_reach_billing(who.role)
        if refusal is not None:
            raise HTTPException(403, refusal.reason)
        return who

    Admin = Annotated[store.User, Depends(billing_admin)]

    def operator(who: User) -> store.User:
        if who.role != "operator":
            raise HTTPException(403, f"operator endpoints are for operators; a {who.role} "
                                "user cannot settle orders or decide extensions")
        return who

    Operator = Annotated[store.User, Depends(operator)]

    def bots_of(account: str) -> list[store.BotBalance]:
        return store.read_balances(client(), account=account)

    def enterprise(account: str) -> bool:
        return rules.is_enterprise_customer(b.plan_id for b in bots_of(account))

    def orders_admin(who: Admin) -> store.User:
        if enterprise(who.account_id):
            raise HTTPException(403, "Enterprise customers have no Orders & Invoices: they "
                                "are invoiced by contract")
        return who

    OrdersAdmin = Annotated[store.User, Depends(orders_admin)]

    def bot_of(account: str, bot_id: str) -> store.BotBalance:
        found = store.read_balances(client(), account=account, bot=bot_id)
        if not found:
            raise HTTPException(404, f"no bot {bot_id!r} in this account")
        return found[0]

    def ids(request: Request, who: store.User, key: str | None) -> str:
        """One digest per request: a retried request with the same key gets the same ids."""
        if not key:
            return uuid.uuid4().hex[:24]
        text = "\0".join((who.account_id, who.user_id, request.method, request.url.path, key))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    answered: OrderedDict[str, None] = OrderedDict()  # event ids Kafka acknowledged
    answered_lock = threading.Lock()

    def append(records: list[dict[str, Any]]) -> None:
        """Append once: a retry (same Idempotency-Key, so the same event ids) that this
        process already had acknowledged sends nothing; past this bounded memory, or after a
        restart, it is sent again and counts once downstream by its event_id (R1)."""
        ids_ = [r["event_id"] for r in records]
        with answered_lock:
            if all(i in answered for i in ids_):
                return
        events.append(records)
        with answered_lock:
            for i in ids_:
                answered[i] = None
            while len(answered) > 10_000:
                answered.popitem(last=False)

    def event(kind: str, digest: str, account: str, bot_id: str, **fields: Any,
              ) -> dict[str, Any]:
        return {"type": kind, "event_id": f"api-{kind}-{digest}", "account_id": account,
                "bot_id": bot_id, "occurred_at": now(), **fields}

    # -- the page ------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/billing", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(BILLING_PAGE)

    @app.get("/api/me", response_model=m.Me, responses=_ERRORS, tags=["account"])
    def me(who: User) -> m.Me:
        is_admin = rules.can_reach_billing(who.role) is None
        return m.Me(account_id=who.account_id, user_id=who.user_id, role=who.role,
                    billing=is_admin,
                    orders_and_invoices=is_admin and not enterprise(who.account_id))

    # -- Plan & Usage ----------------------------------------------------------------------

    @app.get("/api/bots", response_model=list[m.BotRow], responses=_ERRORS,
             tags=["plan & usage"])
    def list_bots(who: Admin) -> list[m.BotRow]:
        return [_bot_row(b, now()) for b in bots_of(who.account_id)]

    @app.get("/api/bots/{bot_id}", response_model=m.ManageView, responses=_ERRORS,
             tags=["plan & usage"])
    def manage(who: Admin, bot_id: BotId) -> m.ManageView:
        bot = bot_of(who.account_id, bot_id)
        at = now()
        start = rules.month_start_ms(at)
        end = rules.next_month_start_ms(at)
        counts = {unit: sum(n for _, n in usage_buckets(
            client(), account=who.account_id, bot=bot_id, unit=unit, group="month",
            start_ms=start, end_ms=end)) for unit in ("usage", "alert")}
        quota = rules.quota_for(bot.plan_id, plans)
        options = []
        for plan_id in rules.eligible_plans(bot.plan_id, plans,
                                            downgrade_scheduled=bool(bot.downgrade_plan_id)):
            change, effective = rules.plan_change_effect(bot.plan_id, plan_id, at, plans)
            options.append(m.PlanOption(
                plan_id=plan_id, change=change, effective_at=format_ms(effective),
                monthly_fee_cents=plans[plan_id].monthly_fee_cents))
        users = store.read_users(client(), account=who.account_id)
        return m.ManageView(
            bot=_bot_row(bot, at), plans=options, month=format_ms(start)[:7],
            usage_sessions=counts["usage"], alert_sessions=counts["alert"],
            included_usage_sessions=quota[0], included_alert_sessions=quota[1],
            cost_so_far_cents=rules.month_to_date_cost_cents(bot.plan_id, counts["usage"],
                                                             counts["alert"], plans),
            trial_days_left=(rules.trial_days_left(bot.trial_end, at)
                             if bot.plan_id == "trial" and bot.trial_end else None),
            auto_reload_enabled=bot.auto_reload_enabled,
            auto_reload_threshold_cents=bot.auto_reload_threshold_cents,
            auto_reload_amount_cents=bot.auto_reload_amount_cents,
            account_users=[u.user_id for u in users])

    @app.post("/api/bots/{bot_id}/plan", status_code=202, response_model=m.Accepted,
              responses=_WRITE_ERRORS, tags=["plan & usage"])
    def change_plan(request: Request, who: Admin, bot_id: BotId, body: m.PlanChange,
                    idempotency_key: IdempotencyKey = None) -> m.Accepted:
        bot = bot_of(who.account_id, bot_id)
        _refuse(rules.check_plan_change(bot.plan_id, body.plan_id, plans))
        change, effective = rules.plan_change_effect(bot.plan_id, body.plan_id, now(), plans)
        record = event("plan_change_requested", ids(request, who, idempotency_key),
                       who.account_id, bot_id, plan_id=body.plan_id)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=bot_id, change=change,
                          effective_at=format_ms(effective))

    @app.post("/api/bots/{bot_id}/funds", status_code=202, response_model=m.Accepted,
              responses=_WRITE_ERRORS, tags=["plan & usage"])
    def add_funds(request: Request, who: Admin, bot_id: BotId, body: m.AddFunds,
                  idempotency_key: IdempotencyKey = None) -> m.Accepted:
        bot_of(who.account_id, bot_id)
        _refuse(rules.check_order(body.amount_cents, body.payment_method))
        digest = ids(request, who, idempotency_key)
        record = event("order_placed", digest, who.account_id, bot_id,
                       order_id=f"ord-{digest}", amount_cents=body.amount_cents,
                       payment_method=body.payment_method)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=bot_id,
                          order_id=record["order_id"])

    @app.post("/api/bots/{bot_id}/auto-reload", status_code=202, response_model=m.Accepted,
              responses=_WRITE_ERRORS, tags=["plan & usage"])
    def auto_reload(request: Request, who: Admin, bot_id: BotId, body: m.AutoReload,
                    idempotency_key: IdempotencyKey = None) -> m.Accepted:
        bot_of(who.account_id, bot_id)
        _refuse(rules.check_auto_reload(body.enabled, body.threshold_cents,
                                        body.amount_cents))
        record = event("auto_reload_set", ids(request, who, idempotency_key),
                       who.account_id, bot_id, enabled=body.enabled,
                       threshold_cents=body.threshold_cents, amount_cents=body.amount_cents)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=bot_id)

    @app.post("/api/bots/{bot_id}/extensions", status_code=202, response_model=m.Accepted,
              responses=_WRITE_ERRORS, tags=["plan & usage"])
    def request_extension(request: Request, who: Admin, bot_id: BotId,
                          body: m.RequestExtension,
                          idempotency_key: IdempotencyKey = None) -> m.Accepted:
        bot = bot_of(who.account_id, bot_id)
        _refuse(rules.check_extension_days(body.days))
        if bot.plan_id != "trial":
            raise HTTPException(409, f"bot {bot_id!r} is on {bot.plan_id}, not on a trial")
        digest = ids(request, who, idempotency_key)
        record = event("extension_requested", digest, who.account_id, bot_id,
                       request_id=f"ext-{digest}", days=body.days)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=bot_id,
                          request_id=record["request_id"])

    @app.post("/api/bots/{bot_id}/owner", status_code=202, response_model=m.Accepted,
              responses=_WRITE_ERRORS, tags=["plan & usage"])
    def change_owner(request: Request, who: Admin, bot_id: BotId, body: m.OwnerChange,
                     idempotency_key: IdempotencyKey = None) -> m.Accepted:
        bot_of(who.account_id, bot_id)
        members = {u.user_id for u in store.read_users(client(), account=who.account_id)}
        if body.owner_user_id not in members:
            _refuse(rules.Refusal("owner_user_id", f"{body.owner_user_id!r} is not a user "
                                  "of this account"))
        record = event("owner_changed", ids(request, who, idempotency_key), who.account_id,
                       bot_id, owner_user_id=body.owner_user_id)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=bot_id)

    # -- Orders & Invoices ---------------------------------------------------------------

    @app.get("/api/orders", response_model=list[m.OrderOut], responses=_ERRORS,
             tags=["orders & invoices"])
    def list_orders(who: OrdersAdmin) -> list[m.OrderOut]:
        return [m.OrderOut(order_id=o.order_id, bot_id=o.bot_id,
                           billing_date=format_ms(o.placed_at), cost_cents=o.amount_cents,
                           payment_method=o.payment_method, payment_status=o.payment_status,
                           receipt_id=f"RCT-{o.order_id}" if o.payment_status == "paid"
                           else None)
                for o in store.read_orders(client(), account=who.account_id)]

    @app.get("/api/invoices", response_model=list[m.InvoiceOut], responses=_ERRORS,
             tags=["orders & invoices"])
    def list_invoices(who: OrdersAdmin,
                      month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
                      = None) -> list[m.InvoiceOut]:
        return [m.InvoiceOut(**invoice_row(inv), downloadable=inv.status == "final")
                for inv in store.read_invoices(client(), account=who.account_id,
                                               month=month)]

    @app.get("/api/invoices/{invoice_id}/download", responses={
        **_WRITE_ERRORS, 200: {"content": {"application/pdf": {}, "text/csv": {},
                                           "application/json": {}},
                               "description": "the document"}},
        response_class=Response, tags=["orders & invoices"])
    def download(who: OrdersAdmin,
                 invoice_id: Annotated[str, Path(min_length=1, max_length=200)],
                 format: Literal["pdf", "csv", "json"] = "pdf") -> Response:
        found = store.read_invoices(client(), account=who.account_id, invoice_id=invoice_id)
        if not found:
            raise HTTPException(404, f"no invoice {invoice_id!r} in this account")
        row = invoice_row(found[0])
        if row["status"] != "final":
            raise HTTPException(409, f"invoice {invoice_id} is a draft: drafts are not "
                                "downloadable")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in invoice_id)
        if format == "pdf":
            body, media = invoice_pdf(row), "application/pdf"
        elif format == "csv":
            body, media = invoice_csv(row).encode(), "text/csv"
        else:
            body, media = invoice_json(row).encode(), "application/json"
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{format}"'})

    # -- usage and sessions ----------------------------------------------------------------

    @app.get("/api/usage", response_model=m.UsageSummaryOut, responses=_ERRORS,
             tags=["usage"])
    def usage(who: Admin, unit: Literal["usage", "alert"] = "usage",
              group: Literal["hour", "day", "month"] = "day",
              start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
              end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
              bot_id: Annotated[str | None, Query(max_length=200)] = None,
              ) -> m.UsageSummaryOut:
        end_ms = _instant(end, "to") if end else now()
        start_ms = _instant(start, "from") if start else end_ms - 30 * _DAY_MS
        _refuse(rules.check_summary_window(start_ms, end_ms, group), "query")
        buckets = usage_buckets(client(), account=who.account_id, unit=unit, group=group,
                                start_ms=start_ms, end_ms=end_ms, bot=bot_id)
        return m.UsageSummaryOut(
            unit=unit, group=group, start=format_ms(start_ms), end=format_ms(end_ms),
            bot_id=bot_id, total=sum(n for _, n in buckets),
            buckets=[m.UsageBucket(bucket=b if isinstance(b, str) else format_ms(b),
                                   sessions=n) for b, n in buckets])

    @app.get("/api/sessions/export", responses={
        **_ERRORS, 200: {"content": {"application/x-ndjson": {}, "text/csv": {}},
                         "description": "billed sessions, streamed"}},
        response_class=StreamingResponse, tags=["usage"])
    def export(who: Admin,
               start: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")],
               end: Annotated[str, Query(alias="to", pattern=r"^\d{4}-\d{2}-\d{2}$")],
               format: Literal["jsonl", "csv"] = "jsonl",
               bot_id: Annotated[str | None, Query(max_length=200)] = None,
               ) -> StreamingResponse:
        first, last = _day(start, "from"), _day(end, "to")
        _refuse(rules.check_export_window(first, last), "query")
        day_from, day_to = date.fromisoformat(start), date.fromisoformat(end)
        own = connect(clickhouse_url)  # the stream outlives this thread's request

        def rows() -> Iterator[bytes]:
            try:
                sessions = billed_sessions(own, account=who.account_id, bot=bot_id,
                                           day_from=day_from, day_to=day_to)
                if format == "jsonl":
                    for session in sessions:
                        yield json.dumps(to_row(session), separators=(",", ":")).encode() + b"\n"
                    return
                yield from _csv_rows(to_row(s) for s in sessions)
            finally:
                own.disconnect()

        media = "application/x-ndjson" if format == "jsonl" else "text/csv"
        return StreamingResponse(rows(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="sessions-{start}-{end}.{format}"'})

    # -- operators -------------------------------------------------------------------------

    @app.post("/api/operator/orders/{order_id}/settle", status_code=202,
              response_model=m.Accepted, responses=_WRITE_ERRORS, tags=["operator"])
    def settle(request: Request, who: Operator,
               order_id: Annotated[str, Path(min_length=1, max_length=200)],
               body: m.SettleOrder, idempotency_key: IdempotencyKey = None) -> m.Accepted:
        if body.status not in ("paid", "failed"):
            _refuse(rules.Refusal("status", f"{body.status!r} is not one of paid, failed"))
        found = store.read_orders(client(), account=body.account_id, bot=body.bot_id,
                                  order_id=order_id)
        if not found:
            raise HTTPException(404, f"no order {order_id!r} of bot {body.bot_id!r}")
        if found[0].payment_status != "pending":
            raise HTTPException(409, f"order {order_id} is already {found[0].payment_status}"
                                ": an order settles once")
        record = event("order_settled", ids(request, who, idempotency_key), body.account_id,
                       body.bot_id, order_id=order_id, status=body.status)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=body.bot_id,
                          order_id=order_id)

    @app.post("/api/operator/extensions/{request_id}/decide", status_code=202,
              response_model=m.Accepted, responses=_WRITE_ERRORS, tags=["operator"])
    def decide(request: Request, who: Operator,
               request_id: Annotated[str, Path(min_length=1, max_length=200)],
               body: m.DecideExtension, idempotency_key: IdempotencyKey = None,
               ) -> m.Accepted:
        _refuse(rules.check_extension_days(body.days))
        bot_of(body.account_id, body.bot_id)
        record = event("extension_decided", ids(request, who, idempotency_key),
                       body.account_id, body.bot_id, request_id=request_id,
                       approved=body.approved, days=body.days)
        append([record])
        return m.Accepted(event_ids=[record["event_id"]], bot_id=body.bot_id,
                          request_id=request_id)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(error)})

    @app.exception_handler(SinkError)
    async def sink_error(_: Request, error: SinkError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": f"ClickHouse: {error}"})

    return app


def _bot_row(bot: store.BotBalance, now_ms: int) -> m.BotRow:
    notices = []
    if bot.downgrade_plan_id:
        notices.append(f"Downgrade to {bot.downgrade_plan_id} scheduled on "
                       f"{format_ms(bot.downgrade_at)[:10]}")
    if bot.expiring:
        days = rules.trial_days_left(bot.trial_end, now_ms) if bot.trial_end else None
        notices.append("Trial expiring" + (f" in {days} day(s)" if days is not None else ""))
    if bot.extension_pending:
        notices.append("Extension requested, awaiting a decision")
    return m.BotRow(
        bot_id=bot.bot_id, plan_id=bot.plan_id, status=bot.status,
        balance_cents=bot.balance_cents, granted_cents=bot.granted_cents,
        debited_cents=bot.debited_cents, expired_cents=bot.expired_cents,
        owner_user_id=bot.owner_user_id, as_of=format_ms(bot.as_of),
        downgrade_scheduled=bool(bot.downgrade_plan_id),
        downgrade_plan_id=bot.downgrade_plan_id or None,
        downgrade_at=format_ms(bot.downgrade_at) if bot.downgrade_plan_id else None,
        expiring=bot.expiring, extension_pending=bot.extension_pending, notices=notices)


def _instant(text: str, field: str) -> int:
    try:
        if len(text) == 10:
            text += "T00:00:00Z"
        return parse_rfc3339_ms(text)
    except (BotbillError, ValueError):
        raise RequestRefused(field, f"{text!r} is not an RFC 3339 UTC time "
                             "(e.g. 2026-11-01T00:00:00Z) or a day", "query") from None


def _day(text: str, field: str) -> int:
    try:
        return parse_rfc3339_ms(text + "T00:00:00Z")
    except (BotbillError, ValueError):
        raise RequestRefused(field, f"{text!r} is not a day YYYY-MM-DD", "query") from None


_CSV_FIELDS = ("kind", "account_id", "bot_id", "conversation_id", "channel", "user_id",
               "conversation_session_start", "conversation_session_end", "session_index",
               "billing_session_start", "billing_session_end", "event_id", "delivered_at")


def _csv_rows(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        if out.tell() > 65_536:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
