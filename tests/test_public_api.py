"""Each package's front door: the public names in ``__all__``, pinned (as httpx pins its
exports), every one importable from the package; and every exception class lives in an
``exceptions.py`` and derives from ``BotbillError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from botbill.billing_rules.exceptions import BotbillError

PUBLIC = {
    "botbill": {"BotbillError", "__version__"},
    "botbill.billing_rules": {
        "SESSION_MS", "Admission", "AgentHandoff", "AlertDelivered", "AlertSession",
        "BatchBiller", "BatchCounters", "Billed", "BillingSettings", "BotbillError",
        "ConversationEvent", "ConversationKey", "ConversationState", "ConversationTurn",
        "Difference", "Event", "InvalidEvent", "InvalidSetting", "LateEvent", "SessionChange",
        "Step", "TimeoutPolicy", "UsageSession", "Visit", "admit", "advance",
        "alert_late_reason", "alert_session", "apply_event", "bill_conversation",
        "billing_day", "billing_month", "closing_time", "compare", "corrections",
        "event_from_mapping", "event_to_mapping", "forget_time", "format_ms", "late_reason",
        "parse_duration_ms", "parse_rfc3339_ms", "row_sort_key", "split_visits", "to_row",
    },
    "botbill.schemas": {
        "ACCOUNT_EVENT_SCHEMAS", "AvroCodec", "SchemaError", "SchemaRegistryUnavailable",
        "account_event_schema_name", "event_schema_name", "iter_container_records",
        "schema_event_type", "write_container",
    },
    "botbill.api": {
        "ApiError", "EventLog", "EventsUnavailable", "KafkaEventLog", "MemoryEventLog",
        "create_app", "hash_token", "new_token",
    },
    "botbill.streams": {
        "BadRecord", "DeliveryFailed", "InvalidMessage", "StreamError", "TopicError",
        "WorkerSettings",
    },
    "botbill.sinks": {
        "ClickHouseStore", "DeadLetterRecord", "InMemoryStore", "LateEventRecord",
        "MigrationError", "RawEventRecord", "SessionStore", "SinkBatch", "SinkError",
        "SinkUnavailable", "UsageSnapshot", "UsageSummary", "billed_sessions", "connect", "migrate",
        "raw_events", "usage_summary", "write_with_retry",
    },
    "botbill.deploy": {
        "Endpoints", "MissingTool", "PortInUse", "ServiceFailed", "ServiceStatus",
        "StackError", "down", "endpoints", "status", "up",
    },
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_names_are_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == PUBLIC[name]
    assert len(module.__all__) == len(set(module.__all__))
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.{public}"


def _all_modules() -> list[str]:
    """Every module of the distribution (``__main__`` runs the CLI when imported). The
    folders are mapped under ``botbill`` one by one, so each is walked on its own path."""
    names = []
    for package in sorted(PUBLIC):
        path = importlib.import_module(package).__path__
        names += [package, *(info.name for info in pkgutil.walk_packages(path, f"{package}.")
                             if not info.name.endswith("__main__"))]
    assert len(names) > 50  # the walk found the modules, not just the package roots
    return sorted(set(names))


def test_every_module_declares_all() -> None:
    missing = [name for name in _all_modules()
               if not hasattr(importlib.import_module(name), "__all__")]
    assert missing == []


def test_exceptions_live_in_exceptions_modules_and_derive_from_botbill_error() -> None:
    misplaced = []
    for name in _all_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == name
                    and not (name.endswith(".exceptions") and issubclass(value, BotbillError))):
                misplaced.append(f"{name}.{value.__name__}")
    assert misplaced == []


@pytest.mark.parametrize(("module", "name"), [
    ("botbill.billing_rules.settings", "InvalidSetting"),
    ("botbill.streams.replay", "BadRecord"),
    ("botbill.streams.topics", "TopicError"),
    ("botbill.streams.handlers", "InvalidMessage"),
])
def test_moved_exceptions_are_still_importable_where_they_were(module: str, name: str) -> None:
    where = importlib.import_module(module)
    assert getattr(where, name).__module__.endswith(".exceptions")
    assert name in where.__all__
