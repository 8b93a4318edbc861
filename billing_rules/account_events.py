"""The account events of MONEY_RULES §1 (admin actions, payment outcomes), and their shape.

:func:`account_event_from_mapping` decides whether a record is *well formed* (each field of
the right type and range) and raises :class:`InvalidEvent` naming the record and the field
otherwise. Whether a well-formed event may be *applied* (a bot registered twice, a second
settlement, an unknown plan, ...) depends on the bot's history: the money engine
(:mod:`.money`) decides that, and rejects the event with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .events import event_time
from .exceptions import InvalidEvent

__all__ = [
    "ACCOUNT_EVENT_TYPES",
    "PAYMENT_METHODS",
    "AccountEvent",
    "AutoReloadSet",
    "BotRegistered",
    "CreditsGranted",
    "ExtensionDecided",
    "ExtensionRequested",
    "OrderPlaced",
    "OrderSettled",
    "OwnerChanged",
    "PlanChangeRequested",
    "account_event_from_mapping",
    "account_event_to_mapping",
]

PAYMENT_METHODS = ("card", "wire_transfer", "auto_reload")
SETTLEMENTS = ("paid", "failed")
MAX_EXTENSION_DAYS = 90


@dataclass(frozen=True, slots=True)
class BotRegistered:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    plan_id: str
    owner_user_id: str
    type = "bot_registered"


@dataclass(frozen=True, slots=True)
class PlanChangeRequested:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    plan_id: str
    type = "plan_change_requested"


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    order_id: str
    amount_cents: int
    payment_method: str
    type = "order_placed"


@dataclass(frozen=True, slots=True)
class OrderSettled:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    order_id: str
    status: str  # paid | failed
    type = "order_settled"


@dataclass(frozen=True, slots=True)
class CreditsGranted:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    grant_id: str
    amount_cents: int
    expires_at: int | None = None
    type = "credits_granted"


@dataclass(frozen=True, slots=True)
class AutoReloadSet:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    enabled: bool
    threshold_cents: int
    amount_cents: int
    type = "auto_reload_set"


@dataclass(frozen=True, slots=True)
class ExtensionRequested:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    request_id: str
    days: int
    type = "extension_requested"


@dataclass(frozen=True, slots=True)
class ExtensionDecided:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    request_id: str
    approved: bool
    days: int
    type = "extension_decided"


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    owner_user_id: str
    type = "owner_changed"


AccountEvent = (BotRegistered | PlanChangeRequested | OrderPlaced | OrderSettled
                | CreditsGranted | AutoReloadSet | ExtensionRequested | ExtensionDecided
                | OwnerChanged)

_CLASSES: dict[str, type[Any]] = {c.type: c for c in (
    BotRegistered, PlanChangeRequested, OrderPlaced, OrderSettled, CreditsGranted,
    AutoReloadSet, ExtensionRequested, ExtensionDecided, OwnerChanged)}
ACCOUNT_EVENT_TYPES = frozenset(_CLASSES)


def account_event_from_mapping(record: Mapping[str, Any]) -> AccountEvent:
    """Check the shape of one account-event record and build it; raises
    :class:`InvalidEvent` naming the record (its ``event_id``) and the first bad field."""
    name = repr(record.get("event_id")) if isinstance(record.get("event_id"), str) else ""
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in _CLASSES:
        raise InvalidEvent(f"field 'type' must be one of {', '.join(sorted(_CLASSES))}, "
                           f"got {kind!r}", name)
    check = _Checker(record, name)
    common = (check.text("event_id"), check.text("account_id"), check.text("bot_id"),
              check.time("occurred_at"))
    if kind == "bot_registered":
        return BotRegistered(*common, check.text("plan_id"), check.text("owner_user_id"))
    if kind == "plan_change_requested":
        return PlanChangeRequested(*common, check.text("plan_id"))
    if kind == "order_placed":
        return OrderPlaced(*common, check.text("order_id"),
                           check.cents("amount_cents", 1),
                           check.choice("payment_method", PAYMENT_METHODS))
    if kind == "order_settled":
        return OrderSettled(*common, check.text("order_id"), check.choice("status", SETTLEMENTS))
    if kind == "credits_granted":
        expires_at = None
        if record.get("expires_at") is not None:
            expires_at = check.time("expires_at")
            if expires_at <= common[3]:
                raise InvalidEvent("field 'expires_at' must be after 'occurred_at'", name)
        return CreditsGranted(*common, check.text("grant_id"), check.cents("amount_cents", 1),
                              expires_at)
    if kind == "auto_reload_set":
        enabled = check.flag("enabled")
        return AutoReloadSet(*common, enabled, check.cents("threshold_cents", 0),
                             check.cents("amount_cents", 0))
    if kind == "extension_requested":
        return ExtensionRequested(*common, check.text("request_id"), check.days("days"))
    if kind == "extension_decided":
        return ExtensionDecided(*common, check.text("request_id"), check.flag("approved"),
                                check.days("days"))
    return OwnerChanged(*common, check.text("owner_user_id"))


class _Checker:
    """Field checks that name the record and the field in their error."""

    def __init__(self, record: Mapping[str, Any], name: str) -> None:
        self.record = record
        self.name = name

    def _fail(self, field: str, what: str) -> InvalidEvent:
        return InvalidEvent(f"field {field!r} must be {what}, got {self.record.get(field)!r}",
                            self.name)

    def text(self, field: str) -> str:
        value = self.record.get(field)
        if not isinstance(value, str) or not value:
            raise self._fail(field, "a non-empty string")
        return value

    def time(self, field: str) -> int:
        return event_time(self.record.get(field), self.name, field)

    def cents(self, field: str, minimum: int) -> int:
        """An integer amount; rule minimums (an order's 10 000) are the engine's to check."""
        value = self.record.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self._fail(field, f"an integer number of cents >= {minimum}")
        return value

    def days(self, field: str) -> int:
        value = self.record.get(field)
        if (not isinstance(value, int) or isinstance(value, bool)
                or not 1 <= value <= MAX_EXTENSION_DAYS):
            raise self._fail(field, f"an integer from 1 to {MAX_EXTENSION_DAYS}")
        return value

    def flag(self, field: str) -> bool:
        value = self.record.get(field)
        if not isinstance(value, bool):
            raise self._fail(field, "true or false")
        return value

    def choice(self, field: str, allowed: tuple[str, ...]) -> str:
        value = self.record.get(field)
        if not isinstance(value, str) or value not in allowed:
            raise self._fail(field, "one of " + ", ".join(allowed))
        return value


def account_event_to_mapping(event: AccountEvent) -> dict[str, Any]:
    """The inverse of :func:`account_event_from_mapping` (times in epoch ms)."""
    record: dict[str, Any] = {"type": event.type}
    for field in event.__slots__:
        record[field] = getattr(event, field)
    return record
