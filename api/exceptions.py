"""The admin API's errors.

BotbillError (billing_rules.exceptions)
 +-- ApiError                 the API cannot do what was asked (configuration, documents)
      +-- EventsUnavailable   the account events could not be appended to Kafka: retry
      +-- RequestRefused      a business rule refused the request (answered 422)
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["ApiError", "EventsUnavailable", "RequestRefused"]


class ApiError(BotbillError):
    """Something the admin API cannot do as asked; the message says what."""


class EventsUnavailable(ApiError):
    """Kafka did not acknowledge the account events (answered 503: the client retries,
    with the same ``Idempotency-Key``, so nothing is applied twice)."""


class RequestRefused(ApiError):
    """A business rule refused the request: answered 422 naming the field (``where``: in
    the body, or the query string)."""

    def __init__(self, field: str, reason: str, where: str = "body") -> None:
        self.field = field
        self.reason = reason
        self.where = where
        super().__init__(f"{where} field {field!r}: {reason}")
