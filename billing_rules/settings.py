"""The settings the rules depend on, read one way by every command.

``T`` is the per-bot inactivity timeout (BILLING_RULES: default 15 min, 5 min .. 14 days);
``grace`` is how long the stream keeps a visit open after ``T`` (BILLING_RULES §4);
``max_disorder`` is replay's grace: how far behind event time an input record may be.

:meth:`BillingSettings.from_env` reads them from a mapping of environment variables, with
command-line overrides on top, so that ``worker``, ``replay``, ``reconcile`` and ``demo``
cannot read them differently (``reconcile`` once billed bots with their own ``T`` at the
default one). Pure: the environment comes in as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .exceptions import InvalidSetting
from .timeutil import MAX_EVENT_MS, MIN_EVENT_MS, MINUTE_MS, parse_duration_ms

__all__ = [
    "DEFAULT_GRACE_MS",
    "DEFAULT_MAX_DISORDER_MS",
    "DEFAULT_TIMEOUT_MS",
    "ENV_BOT_TIMEOUTS",
    "ENV_GRACE",
    "ENV_MAX_DISORDER",
    "ENV_TIMEOUT",
    "MAX_TIMEOUT_MS",
    "MIN_TIMEOUT_MS",
    "BillingSettings",
    "InvalidSetting",
    "TimeoutPolicy",
    "parse_bot_timeouts",
]

DEFAULT_TIMEOUT_MS = 15 * MINUTE_MS
MIN_TIMEOUT_MS = 5 * MINUTE_MS
MAX_TIMEOUT_MS = 14 * 24 * 60 * MINUTE_MS
DEFAULT_GRACE_MS = 5 * MINUTE_MS
# Replay's default: the whole range an event time may take (timeutil), so no input order
# can make replay refuse an event as late; a smaller --max-disorder bounds its memory.
DEFAULT_MAX_DISORDER_MS = MAX_EVENT_MS - MIN_EVENT_MS

ENV_TIMEOUT = "BOTBILL_TIMEOUT"
ENV_BOT_TIMEOUTS = "BOTBILL_BOT_TIMEOUTS"
ENV_GRACE = "BOTBILL_GRACE"
ENV_MAX_DISORDER = "BOTBILL_MAX_DISORDER"


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


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """The timeout policy, the stream's grace and replay's allowed disorder."""

    policy: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    grace_ms: int = DEFAULT_GRACE_MS
    max_disorder_ms: int = DEFAULT_MAX_DISORDER_MS

    def __post_init__(self) -> None:
        for name, value in (("grace", self.grace_ms), ("max disorder", self.max_disorder_ms)):
            if value < 0:
                raise InvalidSetting(f"{name} must not be negative, got {value} ms")

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, timeout: str | None = None,
                 bot_timeouts: Iterable[str] = (), grace: str | None = None,
                 max_disorder: str | None = None) -> BillingSettings:
        """Settings from ``BOTBILL_TIMEOUT``, ``BOTBILL_BOT_TIMEOUTS`` (``bot-a=30m,...``),
        ``BOTBILL_GRACE`` and ``BOTBILL_MAX_DISORDER``; the keyword arguments (command-line
        options) win over the environment, and ``bot_timeouts`` (``BOT=DURATION`` each)
        add to or replace the environment's per-bot values. A bad value raises
        :class:`InvalidSetting` naming the variable or option."""
        default = _duration(ENV_TIMEOUT, env, timeout, "--timeout", DEFAULT_TIMEOUT_MS)
        per_bot = parse_bot_timeouts(
            (p for p in env.get(ENV_BOT_TIMEOUTS, "").split(",") if p.strip()), ENV_BOT_TIMEOUTS)
        per_bot.update(parse_bot_timeouts(bot_timeouts, "--bot-timeout"))
        try:
            policy = TimeoutPolicy(default, per_bot)
        except InvalidSetting as error:
            raise InvalidSetting(
                f"{ENV_TIMEOUT}/{ENV_BOT_TIMEOUTS} (or --timeout/--bot-timeout): {error}") from None
        return cls(policy,
                   _duration(ENV_GRACE, env, grace, "--grace", DEFAULT_GRACE_MS),
                   _duration(ENV_MAX_DISORDER, env, max_disorder, "--max-disorder",
                             DEFAULT_MAX_DISORDER_MS))


def _duration(variable: str, env: Mapping[str, str], option_value: str | None, option: str,
              default: int) -> int:
    name, text = (option, option_value) if option_value is not None else (variable,
                                                                          env.get(variable))
    if text is None:
        return default
    try:
        return parse_duration_ms(text)
    except ValueError as error:
        raise InvalidSetting(f"{name}: {error}") from None


def parse_bot_timeouts(pairs: Iterable[str], source: str) -> dict[str, int]:
    """``BOT=DURATION`` pairs -> ``{bot: ms}``; errors name ``source``."""
    timeouts: dict[str, int] = {}
    for pair in pairs:
        bot_id, sep, duration = pair.partition("=")
        if not sep or not bot_id.strip():
            raise InvalidSetting(f"{source} takes bot=duration pairs, got {pair.strip()!r}")
        try:
            timeouts[bot_id.strip()] = parse_duration_ms(duration)
        except ValueError as error:
            raise InvalidSetting(f"{source}: {error}") from None
    return timeouts
