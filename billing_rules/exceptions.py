"""The project's error tree.

BotbillError                      root: catch this to catch anything botbill raises on purpose
 +-- InvalidEvent                 an input record breaks the contract (names record and reason)
 +-- LateEvent                    an event arrived for a visit that is already closed
 +-- InvalidSetting               a configuration value outside what the rules allow
 +-- MovementOutOfOrder           a money movement older than what a bot's book already applied
 +-- InvalidCatalog               a plan catalog (MONEY_RULES §2) that cannot be used

Other packages define their own subclasses in their ``exceptions.py`` (``schemas``,
``sinks``, ``streams``) and translate library errors into them at the boundary.
"""

from __future__ import annotations

__all__ = ["BotbillError", "InvalidCatalog", "InvalidEvent", "InvalidSetting", "LateEvent",
           "MovementOutOfOrder"]


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


class InvalidCatalog(BotbillError):
    """A plan catalog that breaks MONEY_RULES §2; ``reason`` names the plan and field.

    The operator must fix the file given by ``BOTBILL_CATALOG`` / ``--catalog``."""

    def __init__(self, reason: str, source: str = "") -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: invalid plan catalog: {reason}" if source
                         else f"invalid plan catalog: {reason}")


class MovementOutOfOrder(BotbillError):
    """A bot's book takes movements in time order (MONEY_RULES M1); an older one must be
    applied by rebuilding the book from its movements (``money.run_books``)."""


class InvalidSetting(BotbillError):
    """A configuration value is outside what the rules allow (names the setting)."""
