"""RFC 3339 <-> integer epoch milliseconds, UTC only (BILLING_RULES §1).

Pure functions: time is data here, never read from a clock.

Both directions run once or more per event in ``replay``, so each has a fast path for the
canonical form ``YYYY-MM-DDTHH:MM:SS.mmmZ`` that does the calendar work once per minute
(parsing) or per day (formatting) and caches it; anything else takes the general path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "DAY_MS",
    "MAX_EVENT_MS",
    "MINUTE_MS",
    "MIN_EVENT_MS",
    "SESSION_MS",
    "format_ms",
    "in_event_range",
    "parse_duration_ms",
    "parse_rfc3339_ms",
]

MINUTE_MS = 60_000
SESSION_MS = 15 * MINUTE_MS
DAY_MS = 24 * 60 * MINUTE_MS
# The instants an input event may carry: years 2000 to 2200, UTC. Anything outside is a
# producer's bug (a zero, seconds for milliseconds, a sign flipped), refused as invalid
# rather than billed in year -3000 or overflowing the calendar further down.
MIN_EVENT_MS = 946_684_800_000  # 2000-01-01T00:00:00.000Z
MAX_EVENT_MS = 7_289_654_399_999  # 2200-12-31T23:59:59.999Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CACHE_SIZE = 4096  # entries per cache; a full cache is emptied and refilled
_minute_cache: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> epoch ms of that minute
_day_cache: dict[str, int] = {}  # "YYYY-MM-DD" -> epoch ms of its midnight
_day_text_cache: dict[int, str] = {}  # days since the epoch -> "YYYY-MM-DDT"


def parse_rfc3339_ms(text: str) -> int:
    """``2026-11-01T10:00:00.000Z`` -> epoch ms. Raises ``ValueError`` on anything else.

    The fast path slices the canonical form, with its minute (date, hour, minute) looked up
    in a cache that only ever holds validated minutes; other RFC 3339 forms with an
    explicit UTC offset go through ``datetime.fromisoformat``.
    """
    if len(text) == 24 and text[23] == "Z" and text[16] == ":" and text[19] == ".":
        base = _minute_cache.get(text[:16])
        if base is None:
            base = _cache_minute(text[:16])
        if base is not None:
            seconds_ms = text[17:19] + text[20:23]  # "SSmmm", so int() gives ms in the minute
            if seconds_ms.isdigit() and seconds_ms.isascii():
                value = int(seconds_ms)
                if value < MINUTE_MS:
                    return base + value
    return _parse_slow(text)


def _cache_minute(minute: str) -> int | None:
    """Epoch ms of a canonical ``YYYY-MM-DDTHH:MM`` (cached), or ``None`` if it is not one."""
    hours_minutes = minute[11:13] + minute[14:16]
    if not (minute[4] == "-" and minute[7] == "-" and minute[10] == "T" and minute[13] == ":"
            and hours_minutes.isdigit() and hours_minutes.isascii()):
        return None
    hour, minutes = int(hours_minutes[:2]), int(hours_minutes[2:])
    if hour > 23 or minutes > 59:
        return None
    day = _day_cache.get(minute[:10])
    if day is None:
        try:  # validates the date the general way
            day = _parse_slow(minute[:10] + "T00:00:00Z")
        except ValueError:
            return None
        if len(_day_cache) >= _CACHE_SIZE:
            _day_cache.clear()
        _day_cache[minute[:10]] = day
    if len(_minute_cache) >= _CACHE_SIZE:
        _minute_cache.clear()
    base = _minute_cache[minute] = day + (hour * 60 + minutes) * MINUTE_MS
    return base


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _parse_slow(text: str) -> int:
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    text = text.upper()
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # fromisoformat takes microseconds at most
        text = text.replace(fraction.group(0), fraction.group(0)[:7])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {text!r}")
    return (parsed - _EPOCH) // _MS


def in_event_range(epoch_ms: int) -> bool:
    """Whether an event may carry this ``occurred_at`` (:data:`MIN_EVENT_MS` ..
    :data:`MAX_EVENT_MS`)."""
    return MIN_EVENT_MS <= epoch_ms <= MAX_EVENT_MS


def format_ms(epoch_ms: int) -> str:
    """epoch ms -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the date part is cached per day)."""
    day, ms_of_day = divmod(epoch_ms, DAY_MS)
    date = _day_text_cache.get(day)
    if date is None:
        date = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        if len(_day_text_cache) >= _CACHE_SIZE:
            _day_text_cache.clear()
        _day_text_cache[day] = date
    seconds, ms = divmod(ms_of_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{date}{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"


_UNITS_MS = {"ms": 1, "s": 1000, "m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": 24 * 60 * MINUTE_MS}


def parse_duration_ms(text: str) -> int:
    """``"15m"``, ``"90s"``, ``"14d"``, ``"250ms"`` or a bare number of ms -> ms."""
    text = text.strip()
    for unit in ("ms", "s", "m", "h", "d"):
        number = text[: -len(unit)]
        if text.endswith(unit) and number.isdigit():
            return int(number) * _UNITS_MS[unit]
    if text.isdigit():
        return int(text)
    raise ValueError(f"not a duration (use e.g. 15m, 90s, 14d): {text!r}")
