"""The admin API's request and response bodies (what ``/openapi.json`` publishes).

Money is integer cents everywhere (``StrictInt``: ``100.0`` or ``"100"`` is refused, never
rounded); times are RFC 3339 strings in UTC.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

__all__ = [
    "Accepted",
    "AddFunds",
    "AutoReload",
    "BotRow",
    "DecideExtension",
    "Error",
    "InvoiceLineOut",
    "InvoiceOut",
    "ManageView",
    "Me",
    "OrderOut",
    "OwnerChange",
    "PlanChange",
    "PlanOption",
    "RequestExtension",
    "SettleOrder",
    "UsageBucket",
    "UsageSummaryOut",
]

_ID = Field(min_length=1, max_length=200)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanChange(_Body):
    plan_id: str = _ID


class AddFunds(_Body):
    amount_cents: StrictInt = Field(description="At least 10000 (100.00 USD).")
    payment_method: str = Field(description="card or wire_transfer")


class AutoReload(_Body):
    enabled: StrictBool
    threshold_cents: StrictInt
    amount_cents: StrictInt = Field(description="At least 10000 when enabled.")


class RequestExtension(_Body):
    days: StrictInt = Field(description="1 to 90")


class OwnerChange(_Body):
    owner_user_id: str = _ID


class SettleOrder(_Body):
    account_id: str = _ID
    bot_id: str = _ID
    status: str = Field(description="paid or failed")


class DecideExtension(_Body):
    account_id: str = _ID
    bot_id: str = _ID
    approved: StrictBool
    days: StrictInt = Field(description="1 to 90")


class Error(BaseModel):
    detail: str


class Accepted(BaseModel):
    """What a write answers (202): the account events appended and the ids they carry."""

    event_ids: list[str]
    bot_id: str
    order_id: str | None = None
    request_id: str | None = None
    change: str | None = None
    effective_at: str | None = None


class Me(BaseModel):
    account_id: str
    user_id: str
    role: str
    billing: bool = Field(description="whether the Billing section is shown (admins only)")
    orders_and_invoices: bool = Field(description="false for Enterprise customers")


class BotRow(BaseModel):
    bot_id: str
    plan_id: str
    status: str
    balance_cents: int
    granted_cents: int
    debited_cents: int
    expired_cents: int
    owner_user_id: str
    as_of: str
    downgrade_scheduled: bool
    downgrade_plan_id: str | None
    downgrade_at: str | None
    expiring: bool
    extension_pending: bool
    notices: list[str] = Field(description="the information icon's text, one per flag")


class PlanOption(BaseModel):
    plan_id: str
    change: str = Field(description="upgrade (now), downgrade (start of next month), or "
                        "cancel_scheduled_downgrade (the current plan, while one is scheduled)")
    effective_at: str
    monthly_fee_cents: int


class ManageView(BaseModel):
    bot: BotRow
    plans: list[PlanOption]
    month: str
    usage_sessions: int
    alert_sessions: int
    included_usage_sessions: int | None
    included_alert_sessions: int | None
    cost_so_far_cents: int
    trial_days_left: int | None
    auto_reload_enabled: bool
    auto_reload_threshold_cents: int
    auto_reload_amount_cents: int
    account_users: list[str]


class OrderOut(BaseModel):
    order_id: str
    bot_id: str
    billing_date: str
    cost_cents: int
    payment_method: str
    payment_status: str
    receipt_id: str | None = Field(description="RCT-{order_id} once paid")


class InvoiceLineOut(BaseModel):
    bot_id: str
    kind: str
    quantity: int
    unit_price_cents: int
    amount_cents: int


class InvoiceOut(BaseModel):
    """The MONEY_RULES §4 invoice row, plus whether it can be downloaded (final only)."""

    invoice_id: str
    account_id: str
    period: str
    status: str
    lines: list[InvoiceLineOut]
    total_cents: int
    downloadable: bool


class UsageBucket(BaseModel):
    bucket: str = Field(description="RFC 3339 start of the hour/day, or YYYY-MM")
    sessions: int


class UsageSummaryOut(BaseModel):
    unit: str
    group: str
    start: str
    end: str
    bot_id: str | None
    buckets: list[UsageBucket]
    total: int
