"""Errors of the stream adapters (Kafka side), translated at the boundary."""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["DeliveryFailed", "StreamError"]


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
