"""Per-bot inactivity timeouts (``billing_rules.settings``): 5 min .. 14 days."""

from __future__ import annotations

import pytest

from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.settings import (
    DEFAULT_GRACE_MS,
    DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
    InvalidSetting,
    TimeoutPolicy,
)

MIN = 60_000


def test_defaults_follow_the_contract() -> None:
    assert (DEFAULT_TIMEOUT_MS, DEFAULT_GRACE_MS) == (15 * MIN, 5 * MIN)
    assert (MIN_TIMEOUT_MS, MAX_TIMEOUT_MS) == (5 * MIN, 14 * 24 * 60 * MIN)
    assert TimeoutPolicy().timeout_ms("any-bot") == 15 * MIN


def test_per_bot_overrides_the_default() -> None:
    policy = TimeoutPolicy(10 * MIN, {"bot-slow": 3 * 60 * MIN})
    assert policy.timeout_ms("bot-slow") == 3 * 60 * MIN
    assert policy.timeout_ms("bot-a") == 10 * MIN


@pytest.mark.parametrize("value", [MIN_TIMEOUT_MS, MAX_TIMEOUT_MS])
def test_bounds_are_allowed(value: int) -> None:
    assert TimeoutPolicy(value, {"b": value}).timeout_ms("b") == value


@pytest.mark.parametrize("value", [0, MIN_TIMEOUT_MS - 1, MAX_TIMEOUT_MS + 1])
def test_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(InvalidSetting, match="between 5 min and 14 days"):
        TimeoutPolicy(value)
    with pytest.raises(InvalidSetting, match="'bot-x'"):
        TimeoutPolicy(per_bot={"bot-x": value})
    assert issubclass(InvalidSetting, BotbillError)
