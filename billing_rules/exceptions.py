"""The project's error tree.

BotbillError                      root: catch this to catch anything botbill raises on purpose
 +-- InvalidEvent                 an input record breaks the contract (names record and reason)
 +-- LateEvent                    an event arrived for a visit that is already closed
 +-- InvalidSetting               a configuration value outside what the rules allow

Other packages define their own subclasses in their ``exceptions.py`` (``schemas``,
``sinks``, ``streams``) and translate library errors into them at the boundary.
"""

from __future__ import annotations

__all__ = ["BotbillError", "InvalidEvent", "InvalidSetting", "LateEvent"]


class BotbillError(Exception):
    """Root of every error botbill raises on purpose."""


class InvalidEvent(BotbillError):
    """An input record breaks BILLING_RULES §1.

    ``record`` names the record (event id, or ``file:line`` when the adapter knows it);
    ``reason`` says what is wrong, in words an operator can act on.
    """

    def __init__(self, reason: str, record: str = "") -> None:
        self.reason = reason
        self.record = record
        super().__init__(f"{record}: {reason}" if record else reason)


class LateEvent(BotbillError):
    """An event that belongs to, or precedes, a visit the stream has already closed."""

    def __init__(self, reason: str, event_id: str) -> None:
        self.reason = reason
        self.event_id = event_id
        super().__init__(f"event {event_id!r} is late: {reason}")


class InvalidSetting(BotbillError):
    """A configuration value is outside what the rules allow (names the setting)."""
