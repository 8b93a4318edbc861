"""RFC 3339 <-> epoch ms and durations (``billing_rules.timeutil``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botbill.billing_rules.timeutil import (
    SESSION_MS,
    format_ms,
    parse_duration_ms,
    parse_rfc3339_ms,
)
from tests.billing_rules.oracle import fmt
from tests.billing_rules.support import examples

# 1970 .. 9999, ms precision
EPOCH_MS = st.integers(0, 253_402_300_799_999)


def test_known_values() -> None:
    assert parse_rfc3339_ms("1970-01-01T00:00:00.000Z") == 0
    assert parse_rfc3339_ms("2026-11-01T10:00:00.000Z") == 1_793_527_200_000
    assert parse_rfc3339_ms("2026-10-31T23:59:59.999Z") == 1_793_491_199_999
    assert format_ms(1_793_491_200_000) == "2026-11-01T00:00:00.000Z"
    assert SESSION_MS == 900_000


@examples(300)
@given(EPOCH_MS)
def test_format_then_parse_is_identity(epoch_ms: int) -> None:
    text = format_ms(epoch_ms)
    assert text == fmt(epoch_ms)
    assert parse_rfc3339_ms(text) == epoch_ms


@examples(300)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31),
                    timezones=st.just(UTC)))
def test_parse_agrees_with_datetime(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_rfc3339_ms(text) == expected


def test_explicit_offsets_are_converted_to_utc() -> None:
    assert parse_rfc3339_ms("2026-11-01T11:00:00.000+01:00") == parse_rfc3339_ms(
        "2026-11-01T10:00:00.000Z")
    assert parse_rfc3339_ms("2026-11-01T10:00:00Z") == 1_793_527_200_000


@pytest.mark.parametrize("text", [
    "", "2026-11-01", "2026-11-01T10:00:00.000", "2026-11-01 10:00:00.000Z",
    "2026-13-01T10:00:00.000Z", "2026-02-30T10:00:00.000Z", "2026-11-01T24:00:00.000Z",
    "2026-11-01T10:60:00.000Z", "2026-11-01T10:00:60.000Z", "2026-11-01T10:00:00.00xZ",
    "2026-11-01T10-00-00.000Z", "yesterday", "1793527200000",
])
def test_malformed_times_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|UTC offset"):
        parse_rfc3339_ms(text)


@pytest.mark.parametrize("text", [
    "2026-11-01T1\u0663:00:00.000Z",  # ARABIC-INDIC DIGIT THREE: str.isdigit() is true
    "2026-W44-7T10:00:00.000Z",  # ISO 8601 week date
    "20261101T100000Z",  # ISO 8601 basic format
])
def test_non_rfc3339_forms_are_rejected(text: str) -> None:
    """BUG (minor): the docstring promises ValueError on anything but RFC 3339; the fast path
    accepts non-ASCII digits and the fallback accepts any ISO 8601 form ``fromisoformat``
    knows."""
    with pytest.raises(ValueError):
        parse_rfc3339_ms(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", 900_000), ("90s", 90_000), ("14d", 14 * 86_400_000), ("250ms", 250),
    ("2h", 7_200_000), ("1000", 1000), (" 5m ", 300_000),
])
def test_durations(text: str, expected: int) -> None:
    assert parse_duration_ms(text) == expected


@pytest.mark.parametrize("text", ["", "m", "-5m", "1.5h", "15 m", "15min", "1w"])
def test_bad_durations_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms(text)
