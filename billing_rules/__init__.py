"""The rules of botbill, pure: events in, billed sessions out (stdlib only, no I/O, no clock).

What the other packages use is re-exported here; the modules say why each rule is as it
is (``README.md`` beside this file, and ``docs/rules.md``, explain the model):

* ``events``: the input events and their validation; ``timeutil``: times as epoch ms;
* ``visits``: R3-R7 for one conversation; ``sessions``: what is billed (R6-R8);
* ``admission``: R2, R1 and lateness, shared by the stream and ``replay``;
* ``periods``: the billing day and month of a session;
* ``incremental``: the stream's per-conversation state machine; ``batch``: ``replay``'s
  bounded-memory biller; ``reconcile``: stored sessions against the rules;
* ``settings``: the timeout policy, grace and disorder; ``exceptions``: the error tree.
"""

from __future__ import annotations

from .admission import Admission, admit, alert_late_reason, closing_time, forget_time, late_reason
from .batch import BatchBiller, BatchCounters, Billed
from .events import (
    AgentHandoff,
    AlertDelivered,
    ConversationEvent,
    ConversationKey,
    ConversationTurn,
    Event,
    event_from_mapping,
    event_to_mapping,
)
from .exceptions import BotbillError, InvalidEvent, InvalidSetting, LateEvent
from .incremental import ConversationState, Step, advance, apply_event
from .periods import billing_day, billing_month
from .reconcile import Difference, compare, corrections
from .sessions import (
    AlertSession,
    SessionChange,
    UsageSession,
    alert_session,
    row_sort_key,
    to_row,
)
from .settings import BillingSettings, TimeoutPolicy
from .timeutil import SESSION_MS, format_ms, parse_duration_ms, parse_rfc3339_ms
from .visits import Visit, bill_conversation, split_visits

__all__ = [
    "SESSION_MS",
    "Admission",
    "AgentHandoff",
    "AlertDelivered",
    "AlertSession",
    "BatchBiller",
    "BatchCounters",
    "Billed",
    "BillingSettings",
    "BotbillError",
    "ConversationEvent",
    "ConversationKey",
    "ConversationState",
    "ConversationTurn",
    "Difference",
    "Event",
    "InvalidEvent",
    "InvalidSetting",
    "LateEvent",
    "SessionChange",
    "Step",
    "TimeoutPolicy",
    "UsageSession",
    "Visit",
    "admit",
    "advance",
    "alert_late_reason",
    "alert_session",
    "apply_event",
    "bill_conversation",
    "billing_day",
    "billing_month",
    "closing_time",
    "compare",
    "corrections",
    "event_from_mapping",
    "event_to_mapping",
    "forget_time",
    "format_ms",
    "late_reason",
    "parse_duration_ms",
    "parse_rfc3339_ms",
    "row_sort_key",
    "split_visits",
    "to_row",
]
