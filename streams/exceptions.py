"""Errors of the stream adapters (Kafka side, input files), translated at the boundary.

BotbillError (billing_rules.exceptions)
 +-- StreamError          something between botbill and Kafka went wrong
 |    +-- DeliveryFailed  Kafka did not accept some messages
 +-- TopicError           topics could not be created or do not match the configuration
 +-- InvalidMessage       an input message that cannot be decoded or validated
 +-- BadRecord            a record of a replay input that cannot be billed (``file:line``)
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["BadRecord", "DeliveryFailed", "InvalidMessage", "StreamError", "TopicError"]


class StreamError(BotbillError):
    """Something between botbill and Kafka went wrong."""


class DeliveryFailed(StreamError):
    """Kafka did not accept some messages; ``failures`` holds ``(event_id, reason)``.

    Operator: check that the broker runs (``botbill stack status``) and that the topics
    exist (``botbill topics create``), then send the file again: it is idempotent.
    """

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        shown = "; ".join(f"{event_id}: {reason}" for event_id, reason in failures[:5])
        super().__init__(f"{len(failures)} message(s) not delivered ({shown})")


class TopicError(BotbillError):
    """Topics could not be created or do not match the configuration; the message says why."""


class InvalidMessage(BotbillError):
    """A message on an input topic that cannot be decoded or validated."""


class BadRecord(BotbillError):
    """A record of an input file that cannot be billed; names ``file:line`` and the reason."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")
