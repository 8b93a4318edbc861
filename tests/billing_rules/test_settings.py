"""The rules' settings (``billing_rules.settings``): per-bot inactivity timeouts (5 min ..
14 days), grace and disorder, read once for every command."""

from __future__ import annotations

from typing import Any

import pytest

from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.settings import (
    DEFAULT_GRACE_MS,
    DEFAULT_MAX_DISORDER_MS,
    DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
    BillingSettings,
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


# -- BillingSettings: one reading of T, per-bot T, grace and disorder for every command --------

def test_billing_settings_default_without_any_environment() -> None:
    settings = BillingSettings.from_env({})
    assert settings == BillingSettings()
    assert (settings.policy.default_ms, settings.grace_ms, settings.max_disorder_ms) == (
        DEFAULT_TIMEOUT_MS, DEFAULT_GRACE_MS, DEFAULT_MAX_DISORDER_MS)


def test_billing_settings_from_the_environment() -> None:
    settings = BillingSettings.from_env({
        "BOTBILL_TIMEOUT": "20m", "BOTBILL_BOT_TIMEOUTS": " bot-a=30m, bot-b = 2h ,,",
        "BOTBILL_GRACE": "90s", "BOTBILL_MAX_DISORDER": "2d"})
    assert settings.policy == TimeoutPolicy(20 * MIN, {"bot-a": 30 * MIN, "bot-b": 120 * MIN})
    assert (settings.grace_ms, settings.max_disorder_ms) == (90_000, 2 * 24 * 60 * MIN)


def test_options_win_over_the_environment_and_add_per_bot_values() -> None:
    env = {"BOTBILL_TIMEOUT": "20m", "BOTBILL_BOT_TIMEOUTS": "bot-a=30m,bot-b=2h",
           "BOTBILL_MAX_DISORDER": "2d"}
    settings = BillingSettings.from_env(env, timeout="10m", bot_timeouts=["bot-b=1h",
                                                                         "bot-c=6h"],
                                        max_disorder="5m")
    assert settings.policy == TimeoutPolicy(10 * MIN, {"bot-a": 30 * MIN, "bot-b": 60 * MIN,
                                                       "bot-c": 360 * MIN})
    assert settings.max_disorder_ms == 5 * MIN


@pytest.mark.parametrize(("env", "options", "names"), [
    ({"BOTBILL_TIMEOUT": "fifteen"}, {}, "BOTBILL_TIMEOUT"),
    ({}, {"timeout": "fifteen"}, "--timeout"),
    ({"BOTBILL_TIMEOUT": "1m"}, {}, "BOTBILL_TIMEOUT"),
    ({"BOTBILL_BOT_TIMEOUTS": "bot-a"}, {}, "BOTBILL_BOT_TIMEOUTS"),
    ({}, {"bot_timeouts": ["bot-a"]}, "--bot-timeout"),
    ({}, {"bot_timeouts": ["=5m"]}, "--bot-timeout"),
    ({"BOTBILL_GRACE": "-5m"}, {}, "BOTBILL_GRACE"),
    ({"BOTBILL_MAX_DISORDER": "a week"}, {}, "BOTBILL_MAX_DISORDER"),
    ({}, {"max_disorder": "x"}, "--max-disorder"),
])
def test_a_bad_setting_names_where_it_came_from(env: dict[str, str], options: dict[str, Any],
                                                names: str) -> None:
    with pytest.raises(InvalidSetting, match=names):
        BillingSettings.from_env(env, **options)


def test_negative_grace_or_disorder_is_refused() -> None:
    with pytest.raises(InvalidSetting):
        BillingSettings(grace_ms=-1)
    with pytest.raises(InvalidSetting):
        BillingSettings(max_disorder_ms=-1)
