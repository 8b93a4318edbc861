"""What the admin console may do, decided once: eligible plans, limits on amounts and days,
the shape of an account event (MONEY_RULES §1), the Enterprise rule, usage windows, and
money formatted from integer cents.

Pure (no I/O, no clock: ``now_ms`` is an argument). The API adapter calls these and turns a
:class:`Refusal` into a 422 naming the field. The default plan catalog here is the
MONEY_RULES §2 table; when the money engine's catalog (``billing_rules.catalog``) lands,
:data:`DEFAULT_PLANS` should be read from it instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACCOUNT_EVENT_FIELDS",
    "DEFAULT_PLANS",
    "EXPORT_MAX_MONTHS",
    "MAX_EXTENSION_DAYS",
    "MIN_ORDER_CENTS",
    "ROLES",
    "SUMMARY_GROUPS",
    "SUMMARY_MAX_DAYS",
    "USER_PAYMENT_METHODS",
    "PlanInfo",
    "Refusal",
    "account_event_problem",
    "can_reach_billing",
    "check_auto_reload",
    "check_export_window",
    "check_extension_days",
    "check_order",
    "check_plan_change",
    "check_summary_window",
    "eligible_plans",
    "format_cents",
    "is_downgrade",
    "is_enterprise_customer",
    "month_start_ms",
    "month_to_date_cost_cents",
    "next_month_start_ms",
    "plan_change_effect",
    "quota_for",
    "trial_days_left",
]

MIN_ORDER_CENTS = 10_000
"""Add funds: at least 100.00 (MONEY_RULES §1 ``order_placed``)."""
USER_PAYMENT_METHODS = ("card", "wire_transfer")
"""What an admin may pay with; ``auto_reload`` orders are placed by the balance agent (M6)."""
PAYMENT_METHODS = (*USER_PAYMENT_METHODS, "auto_reload")
MAX_EXTENSION_DAYS = 90
SUMMARY_MAX_DAYS = 90
EXPORT_MAX_MONTHS = 3
SUMMARY_GROUPS = ("hour", "day", "month")
ROLES = ("admin", "member", "shared", "operator")
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """One plan of the catalog (MONEY_RULES §2); prices in cents."""

    plan_id: str
    rank: int
    monthly_fee_cents: int
    included_usage: int | None
    included_alert: int | None
    usage_price_cents: int
    alert_price_cents: int


DEFAULT_PLANS: Mapping[str, PlanInfo] = {p.plan_id: p for p in (
    PlanInfo("trial", 0, 0, None, None, 0, 0),
    PlanInfo("standard", 1, 0, None, None, 20, 2),
    PlanInfo("essential", 2, 9_900, 1_000, 5_000, 12, 1),
    PlanInfo("advanced", 3, 49_900, 6_000, 30_000, 10, 1),
    PlanInfo("enterprise", 4, 0, None, None, 0, 0),
)}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the field at fault and the reason, for a 422."""

    field: str
    reason: str


def can_reach_billing(role: str) -> Refusal | None:
    """Only an account's admins see billing (issue 8); members and shared users do not."""
    if role == "admin":
        return None
    return Refusal("role", f"the Billing section is for admins of the account; "
                   f"a {role} user cannot see or change billing")


def is_enterprise_customer(plans_of_registered_bots: Iterable[str]) -> bool:
    """An account whose registered bots are all on ``enterprise`` (MONEY_RULES §1); an
    account with no registered bot is not one."""
    plans = list(plans_of_registered_bots)
    return bool(plans) and all(plan == "enterprise" for plan in plans)


def eligible_plans(current: str, plans: Mapping[str, PlanInfo] = DEFAULT_PLANS, *,
                   downgrade_scheduled: bool = False) -> list[str]:
    """The plans a bot may move to, by rank: any but ``trial`` (one trial per bot, at
    registration) and its current plan, which is offered only while a downgrade is
    scheduled (requesting it cancels the downgrade, M1)."""
    return [p.plan_id for p in sorted(plans.values(), key=lambda p: (p.rank, p.plan_id))
            if p.plan_id != "trial" and (p.plan_id != current or downgrade_scheduled)]


def is_downgrade(current: str, target: str,
                 plans: Mapping[str, PlanInfo] = DEFAULT_PLANS) -> bool:
    """A move to a lower rank: scheduled for the start of next month (M1). A plan missing
    from the catalog (an operator's override dropped it) has no rank: never a downgrade."""
    if current not in plans or target not in plans:
        return False
    return plans[target].rank < plans[current].rank


def check_plan_change(current: str | None, target: Any,
                      plans: Mapping[str, PlanInfo] = DEFAULT_PLANS) -> Refusal | None:
    if not isinstance(target, str) or target not in plans:
        return Refusal("plan_id", f"{target!r} is not a plan of the catalog "
                       f"({', '.join(plans)})")
    if target == "trial":
        return Refusal("plan_id", "a bot has one trial, at registration")
    if current is None:
        return Refusal("bot_id", "the bot is not registered for billing")
    return None


def check_order(amount_cents: Any, payment_method: Any) -> Refusal | None:
    """Add funds: integer cents, at least :data:`MIN_ORDER_CENTS`, card or wire transfer."""
    if not _is_int(amount_cents):
        return Refusal("amount_cents", "must be a whole number of cents")
    if amount_cents < MIN_ORDER_CENTS:
        return Refusal("amount_cents", f"{amount_cents} is under the minimum order of "
                       f"{format_cents(MIN_ORDER_CENTS)} ({MIN_ORDER_CENTS} cents)")
    if payment_method not in USER_PAYMENT_METHODS:
        return Refusal("payment_method", f"{payment_method!r} is not one of "
                       f"{', '.join(USER_PAYMENT_METHODS)}")
    return None


def check_auto_reload(enabled: Any, threshold_cents: Any, amount_cents: Any) -> Refusal | None:
    if not isinstance(enabled, bool):
        return Refusal("enabled", "must be true or false")
    if not _is_int(threshold_cents) or threshold_cents < 0:
        return Refusal("threshold_cents", "must be a whole number of cents, 0 or more")
    if not _is_int(amount_cents) or amount_cents < 0:
        return Refusal("amount_cents", "must be a whole number of cents, 0 or more")
    if enabled and amount_cents < MIN_ORDER_CENTS:
        return Refusal("amount_cents", f"{amount_cents} is under the minimum order of "
                       f"{MIN_ORDER_CENTS} cents (auto-reload enabled)")
    return None


def check_extension_days(days: Any) -> Refusal | None:
    if not _is_int(days) or not 1 <= days <= MAX_EXTENSION_DAYS:
        return Refusal("days", f"{days!r} is not a whole number of days from 1 to "
                       f"{MAX_EXTENSION_DAYS}")
    return None


def check_summary_window(start_ms: int, end_ms: int, group: str) -> Refusal | None:
    """A usage summary covers ``[start_ms, end_ms)``, at most :data:`SUMMARY_MAX_DAYS`."""
    if group not in SUMMARY_GROUPS:
        return Refusal("group", f"{group!r} is not one of {', '.join(SUMMARY_GROUPS)}")
    if end_ms <= start_ms:
        return Refusal("to", "must be after 'from'")
    if end_ms - start_ms > SUMMARY_MAX_DAYS * _DAY_MS:
        return Refusal("to", f"a usage summary covers at most {SUMMARY_MAX_DAYS} days")
    return None


def check_export_window(first_day_ms: int, last_day_ms: int) -> Refusal | None:
    """A sessions export covers whole UTC days, at most :data:`EXPORT_MAX_MONTHS` calendar
    months: the last day is before the same day 3 months after the first."""
    if last_day_ms < first_day_ms:
        return Refusal("to", "must not be before 'from'")
    if last_day_ms >= _add_months(first_day_ms, EXPORT_MAX_MONTHS):
        return Refusal("to", f"a sessions export covers at most {EXPORT_MAX_MONTHS} months")
    return None


def quota_for(plan_id: str, plans: Mapping[str, PlanInfo] = DEFAULT_PLANS,
              ) -> tuple[int | None, int | None]:
    """The included usage and alert sessions a month (None: no quota)."""
    plan = plans.get(plan_id)
    return (None, None) if plan is None else (plan.included_usage, plan.included_alert)


def plan_change_effect(current: str, target: str, now_ms: int,
                       plans: Mapping[str, PlanInfo] = DEFAULT_PLANS) -> tuple[str, int]:
    """``(change, effective_at)`` of a plan change requested at ``now_ms`` (M1): an upgrade
    now, a downgrade at the start of next month, the current plan cancels a scheduled
    downgrade (now)."""
    if target == current:
        return "cancel_scheduled_downgrade", now_ms
    if is_downgrade(current, target, plans):
        return "downgrade", next_month_start_ms(now_ms)
    return "upgrade", now_ms


def month_to_date_cost_cents(plan_id: str, usage_sessions: int, alert_sessions: int,
                             plans: Mapping[str, PlanInfo] = DEFAULT_PLANS) -> int:
    """An estimate for the Manage view: this month's sessions priced by the current plan
    (``standard``: every session; invoiced plans: the full monthly fee plus overage beyond
    the quota). The invoice (M3) prorates the fee over plan changes; this does not."""
    plan = plans.get(plan_id)
    if plan is None:
        return 0
    if plan.included_usage is None or plan.included_alert is None:
        return usage_sessions * plan.usage_price_cents + alert_sessions * plan.alert_price_cents
    return (plan.monthly_fee_cents
            + max(0, usage_sessions - plan.included_usage) * plan.usage_price_cents
            + max(0, alert_sessions - plan.included_alert) * plan.alert_price_cents)


def trial_days_left(trial_end_ms: int, now_ms: int) -> int:
    """Whole days (rounded up) until the trial ends; 0 once it has."""
    return max(0, -((now_ms - trial_end_ms) // _DAY_MS))


ACCOUNT_EVENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "bot_registered": ("plan_id", "owner_user_id"),
    "plan_change_requested": ("plan_id",),
    "order_placed": ("order_id", "amount_cents", "payment_method"),
    "order_settled": ("order_id", "status"),
    "credits_granted": ("grant_id", "amount_cents"),
    "auto_reload_set": ("enabled", "threshold_cents", "amount_cents"),
    "extension_requested": ("request_id", "days"),
    "extension_decided": ("request_id", "approved", "days"),
    "owner_changed": ("owner_user_id",),
}
"""Required extra fields per account event type (``credits_granted`` may add ``expires_at``)."""


def account_event_problem(record: Mapping[str, Any]) -> Refusal | None:
    """Whether one account event is well formed by itself (MONEY_RULES §1): the ranges and
    enumerations a single record can break. What depends on a bot's history (registered,
    an id used twice, ...) is the money engine's to decide. ``occurred_at`` in ms."""
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in ACCOUNT_EVENT_FIELDS:
        return Refusal("type", f"{kind!r} is not an account event type")
    for name in ("event_id", "account_id", "bot_id", *_TEXT_FIELDS.get(kind, ())):
        if not isinstance(record.get(name), str) or not record[name]:
            return Refusal(name, "missing or not a non-empty string")
    if not _is_int(record.get("occurred_at")):
        return Refusal("occurred_at", "missing or not epoch milliseconds")
    if kind in ("plan_change_requested", "bot_registered") and record["plan_id"] not in \
            DEFAULT_PLANS:
        return Refusal("plan_id", f"{record['plan_id']!r} is not a plan of the catalog")
    if kind == "plan_change_requested" and record["plan_id"] == "trial":
        return Refusal("plan_id", "a bot has one trial, at registration")
    if kind == "order_placed":
        if not _is_int(record.get("amount_cents")) or record["amount_cents"] < MIN_ORDER_CENTS:
            return Refusal("amount_cents", f"must be whole cents, at least {MIN_ORDER_CENTS}")
        if record.get("payment_method") not in PAYMENT_METHODS:
            return Refusal("payment_method", f"not one of {', '.join(PAYMENT_METHODS)}")
    if kind == "order_settled" and record.get("status") not in ("paid", "failed"):
        return Refusal("status", "not one of paid, failed")
    if kind == "credits_granted":
        if not _is_int(record.get("amount_cents")) or record["amount_cents"] <= 0:
            return Refusal("amount_cents", "must be whole cents, more than 0")
        expires = record.get("expires_at")
        if expires is not None and (not _is_int(expires) or expires <= record["occurred_at"]):
            return Refusal("expires_at", "must be after occurred_at")
    if kind == "auto_reload_set":
        return check_auto_reload(record.get("enabled"), record.get("threshold_cents"),
                                 record.get("amount_cents"))
    if kind in ("extension_requested", "extension_decided"):
        if kind == "extension_decided" and not isinstance(record.get("approved"), bool):
            return Refusal("approved", "must be true or false")
        return check_extension_days(record.get("days"))
    return None


_TEXT_FIELDS = {
    "bot_registered": ("plan_id", "owner_user_id"),
    "plan_change_requested": ("plan_id",),
    "order_placed": ("order_id",),
    "order_settled": ("order_id",),
    "credits_granted": ("grant_id",),
    "extension_requested": ("request_id",),
    "extension_decided": ("request_id",),
    "owner_changed": ("owner_user_id",),
}


def format_cents(cents: int) -> str:
    """``123456`` -> ``"1,234.56"``, ``-5`` -> ``"-0.05"``: integer arithmetic only."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


def month_start_ms(t_ms: int) -> int:
    """00:00 UTC of the first day of ``t_ms``'s month."""
    days = t_ms // _DAY_MS
    year, month, _ = _civil(days)
    return _days_from_civil(year, month, 1) * _DAY_MS


def next_month_start_ms(t_ms: int) -> int:
    """Where a downgrade requested at ``t_ms`` takes effect (M1)."""
    return _add_months(month_start_ms(t_ms), 1)


def _add_months(t_ms: int, months: int) -> int:
    """The same day ``months`` later, clamped once to the target month's length (Jan 31 +
    3 months is Apr 30, not Apr 28)."""
    days, rest = divmod(t_ms, _DAY_MS)
    year, month, day = _civil(days)
    index = year * 12 + month - 1 + months
    year, month = index // 12, index % 12 + 1
    day = min(day, _month_length(year, month))
    return _days_from_civil(year, month, day) * _DAY_MS + rest


def _month_length(year: int, month: int) -> int:
    nxt = _days_from_civil(year + (month == 12), month % 12 + 1, 1)
    return nxt - _days_from_civil(year, month, 1)


def _civil(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 -> (year, month, day) (H. Hinnant's algorithm)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
