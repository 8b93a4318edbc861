"""Per-bot inactivity timeout ``T`` (BILLING_RULES: default 15 min, 5 min .. 14 days)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .exceptions import BotbillError
from .timeutil import MINUTE_MS

__all__ = [
    "DEFAULT_GRACE_MS",
    "DEFAULT_TIMEOUT_MS",
    "MAX_TIMEOUT_MS",
    "MIN_TIMEOUT_MS",
    "InvalidSetting",
    "TimeoutPolicy",
]

DEFAULT_TIMEOUT_MS = 15 * MINUTE_MS
MIN_TIMEOUT_MS = 5 * MINUTE_MS
MAX_TIMEOUT_MS = 14 * 24 * 60 * MINUTE_MS
DEFAULT_GRACE_MS = 5 * MINUTE_MS


class InvalidSetting(BotbillError):
    """A configuration value is outside what the rules allow."""


def _check_timeout(name: str, value: int) -> int:
    if not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
        raise InvalidSetting(
            f"inactivity timeout for {name} must be between 5 min and 14 days, got {value} ms")
    return value


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Which inactivity timeout applies to which bot."""

    default_ms: int = DEFAULT_TIMEOUT_MS
    per_bot: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_timeout("the default", self.default_ms)
        for bot_id, value in self.per_bot.items():
            _check_timeout(f"bot {bot_id!r}", value)

    def timeout_ms(self, bot_id: str) -> int:
        return self.per_bot.get(bot_id, self.default_ms)
