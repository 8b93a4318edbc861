"""RFC 3339 <-> integer epoch milliseconds, UTC only (BILLING_RULES §1).

Pure functions: time is data here, never read from a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["MINUTE_MS", "SESSION_MS", "format_ms", "parse_duration_ms", "parse_rfc3339_ms"]

MINUTE_MS = 60_000
SESSION_MS = 15 * MINUTE_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_day_cache: dict[str, int] = {}


def parse_rfc3339_ms(text: str) -> int:
    """``2026-11-01T10:00:00.000Z`` -> epoch ms. Raises ``ValueError`` on anything else.

    The fast path slices the canonical form (cached per day); other RFC 3339 forms with an
    explicit UTC offset go through ``datetime.fromisoformat``.
    """
    if len(text) == 24 and text[23] == "Z" and text[10] == "T" and text[19] == ".":
        day = text[:10]
        base = _day_cache.get(day)  # the slow path validates the day the first time
        if base is None:
            base = _parse_slow(day + "T00:00:00Z")
            if len(_day_cache) > 4096:
                _day_cache.clear()
            _day_cache[day] = base
        h, m, s, ms = text[11:13], text[14:16], text[17:19], text[20:23]
        digits = h + m + s + ms
        if digits.isascii() and digits.isdigit() and text[13] == ":" and text[16] == ":" \
                and text[4] == "-" and text[7] == "-":
            hi, mi, si = int(h), int(m), int(s)
            if hi < 24 and mi < 60 and si < 60:
                return base + ((hi * 60 + mi) * 60 + si) * 1000 + int(ms)
    return _parse_slow(text)


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


def format_ms(epoch_ms: int) -> str:
    """epoch ms -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


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
