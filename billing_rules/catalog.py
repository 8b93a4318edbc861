"""The plan catalog (MONEY_RULES §2) as versioned data, and its validation.

The defaults ship as ``data/catalog.json``; an operator overrides them with their own file.
:func:`catalog_from_mapping` is the one place that decides what a usable catalog is (pure:
the adapter reads the file and hands over the decoded JSON). The rules refer to plans by
their *billing* kind, so an operator can rename prices without touching code:

| billing | plans | what the rules do |
|---|---|---|
| ``trial`` | exactly one (``trial``) | free; ends by time or by its number of sessions |
| ``wallet`` | ``standard`` | sessions debited from the wallet; a sign-up credit the first time |
| ``invoice`` | ``essential``, ``advanced`` | a monthly fee, included sessions, overage |
| ``contract`` | ``enterprise`` | usage tracked, nothing priced |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from .exceptions import InvalidCatalog

__all__ = ["BILLING_KINDS", "Catalog", "Plan", "catalog_from_mapping"]

BILLING_KINDS = ("trial", "wallet", "invoice", "contract")
_COMMON = ("rank", "billing", "monthly_fee_cents", "usage_price_cents", "alert_price_cents")
_EXTRA = {
    "trial": ("trial_days", "trial_max_usage_sessions"),
    "wallet": ("signup_credit_cents", "signup_credit_days"),
    "invoice": ("included_usage_sessions", "included_alert_sessions"),
    "contract": (),
}


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    rank: int
    billing: str
    monthly_fee_cents: int = 0
    usage_price_cents: int = 0
    alert_price_cents: int = 0
    included_usage_sessions: int = 0
    included_alert_sessions: int = 0
    trial_days: int = 0
    trial_max_usage_sessions: int = 0
    signup_credit_cents: int = 0
    signup_credit_days: int = 0


@dataclass(frozen=True, slots=True)
class Catalog:
    version: str
    plans: Mapping[str, Plan]
    low_balance_cents: int

    @property
    def trial_plan(self) -> Plan:
        return next(p for p in self.plans.values() if p.billing == "trial")


def catalog_from_mapping(data: Any, source: str = "") -> Catalog:
    """Validate a decoded catalog file; raises :class:`InvalidCatalog` with the reason."""

    def fail(reason: str) -> InvalidCatalog:
        return InvalidCatalog(reason, source)

    if not isinstance(data, Mapping):
        raise fail("the catalog must be a JSON object")
    unknown = set(data) - {"version", "low_balance_cents", "plans"}
    if unknown:
        raise fail(f"unknown top-level field(s) {sorted(unknown)}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise fail("'version' must be a non-empty string")
    low = data.get("low_balance_cents")
    if not _count(low):
        raise fail(f"'low_balance_cents' must be an integer >= 0, got {low!r}")
    raw_plans = data.get("plans")
    if not isinstance(raw_plans, Mapping) or not raw_plans:
        raise fail("'plans' must be a non-empty object of plan_id -> plan")
    plans: dict[str, Plan] = {}
    for plan_id, raw in raw_plans.items():
        plans[plan_id] = _plan(plan_id, raw, fail)
    ranks = [p.rank for p in plans.values()]
    if len(set(ranks)) != len(ranks):
        raise fail("plan ranks must be distinct (M1 compares them)")
    trials = [p.plan_id for p in plans.values() if p.billing == "trial"]
    if len(trials) != 1:
        raise fail(f"exactly one plan must have billing 'trial', found {trials}")
    return Catalog(version, plans, low)


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plan(plan_id: Any, raw: Any, fail: Any) -> Plan:
    if not isinstance(plan_id, str) or not plan_id:
        raise fail(f"plan id {plan_id!r} must be a non-empty string")
    if not isinstance(raw, Mapping):
        raise fail(f"plan {plan_id!r} must be an object")
    billing = raw.get("billing")
    if billing not in BILLING_KINDS:
        raise fail(f"plan {plan_id!r}: 'billing' must be one of {', '.join(BILLING_KINDS)}, "
                   f"got {billing!r}")
    allowed = (*_COMMON, *_EXTRA[billing])
    unknown = set(raw) - set(allowed)
    if unknown:
        raise fail(f"plan {plan_id!r}: unknown field(s) {sorted(unknown)} for billing "
                   f"{billing!r}")
    values: dict[str, int] = {}
    for field in allowed:
        if field == "billing":
            continue
        value = raw.get(field)
        if not _count(value):
            raise fail(f"plan {plan_id!r}: {field!r} must be an integer >= 0, got {value!r}")
        values[field] = value
    if billing == "trial" and values["trial_days"] < 1:
        raise fail(f"plan {plan_id!r}: 'trial_days' must be at least 1")
    if billing == "wallet" and values["signup_credit_cents"] > 0 \
            and values["signup_credit_days"] < 1:
        raise fail(f"plan {plan_id!r}: a sign-up credit needs 'signup_credit_days' >= 1")
    return Plan(plan_id=plan_id, billing=billing, **values)
