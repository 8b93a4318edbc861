"""R2, R1, lateness and the billing period: the shared rules of ``billing_rules.admission``
and ``billing_rules.periods``, at their edges."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from botbill.billing_rules.admission import (
    admit,
    alert_late_reason,
    closing_time,
    forget_time,
    late_reason,
)
from botbill.billing_rules.events import AlertDelivered, ConversationTurn
from botbill.billing_rules.periods import billing_day, billing_month
from botbill.billing_rules.sessions import AlertSession, UsageSession, alert_session
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from tests.billing_rules.support import examples

MIN = 60_000
T = 15 * MIN
G = 5 * MIN
T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")


def turn(event_id: str, is_test: bool = False) -> ConversationTurn:
    return ConversationTurn(event_id, "acct-1", "bot-a", T0, "c1", "u", "web", "USER", is_test)


def test_test_traffic_is_dropped_before_its_id_is_looked_at() -> None:
    assert admit(turn("x", is_test=True), {"x"}) == "test"
    assert admit(turn("x"), {"x"}) == "duplicate"
    assert admit(turn("x"), set()) == "new"


def test_an_event_within_t_of_a_closed_visit_is_late() -> None:
    reason = late_reason(T0 + T, watermark=T0 + T, timeout_ms=T, grace_ms=G, closed_end=T0)
    assert reason is not None and "already closed" in reason
    assert late_reason(T0 + T + 1, watermark=T0 + T + 1, timeout_ms=T, grace_ms=G,
                       closed_end=T0) is None


def test_an_event_is_late_once_event_time_passes_its_own_closing_time() -> None:
    at = T0
    assert late_reason(at, watermark=closing_time(at, T, G), timeout_ms=T, grace_ms=G,
                       closed_end=None) is None
    reason = late_reason(at, watermark=closing_time(at, T, G) + 1, timeout_ms=T, grace_ms=G,
                         closed_end=None)
    assert reason is not None and "2026-11-01T10:00:00.000Z" in reason


@examples(200)
@given(st.integers(0, 3 * T), st.integers(1, 10 * T), st.integers(5 * MIN, 60 * MIN),
       st.integers(0, 60 * MIN))
def test_forgetting_a_closed_visit_never_lets_an_event_join_it(
        behind: int, after: int, timeout: int, grace: int) -> None:
    """Once event time passes forget_time, any event that could touch the closed visit
    (``t <= closed_end + T``) is late by its own time, without knowing the visit."""
    closed_end = T0
    at = closed_end + timeout - behind
    watermark = forget_time(closed_end, timeout, grace) + after
    assert late_reason(at, watermark=watermark, timeout_ms=timeout, grace_ms=grace,
                       closed_end=None) is not None


def test_alert_lateness_is_the_dedup_window() -> None:
    assert alert_late_reason(T0, watermark=T0 + 60 * MIN, window_ms=60 * MIN) is None
    reason = alert_late_reason(T0, watermark=T0 + 60 * MIN + 1, window_ms=60 * MIN)
    assert reason is not None and "de-duplication window" in reason


def test_an_alert_is_one_alert_session_at_its_time() -> None:
    event = AlertDelivered("a1", "acct-1", "bot-b", T0, "report", "u", "email")
    assert alert_session(event) == AlertSession("acct-1", "bot-b", "a1", T0)


def test_a_usage_session_is_billed_on_the_day_and_month_it_starts() -> None:
    start = parse_rfc3339_ms("2026-10-31T23:50:00.000Z")
    second = parse_rfc3339_ms("2026-11-01T00:05:00.000Z")
    end = parse_rfc3339_ms("2026-11-01T00:20:00.000Z")
    first_session = UsageSession("a", "b", "c", "web", "u", start, end, 1, start, second)
    second_session = UsageSession("a", "b", "c", "web", "u", start, end, 2, second, end)
    assert (billing_day(first_session), billing_month(first_session)) == (
        date(2026, 10, 31), date(2026, 10, 1))
    assert (billing_day(second_session), billing_month(second_session)) == (
        date(2026, 11, 1), date(2026, 11, 1))


def test_an_alert_is_billed_on_its_delivery_day_to_the_millisecond() -> None:
    last = parse_rfc3339_ms("2026-11-30T23:59:59.999Z")
    assert billing_day(AlertSession("a", "b", "e", last)) == date(2026, 11, 30)
    assert billing_month(AlertSession("a", "b", "e", last + 1)) == date(2026, 12, 1)
