"""The admin API's errors.

BotbillError (billing_rules.exceptions)
 +-- ApiError                 the API cannot do what was asked (configuration, documents)
      +-- EventsUnavailable   the account events could not be appended to Kafka: retry
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["ApiError", "EventsUnavailable"]


class ApiError(BotbillError):
    """Something the admin API cannot do as asked; the message says what."""


class EventsUnavailable(ApiError):
    """Kafka did not acknowledge the account events (answered 503: the client retries,
    with the same ``Idempotency-Key``, so nothing is applied twice)."""
