"""The stream processors and the commands around them (worker, replay, reconcile, produce,
demo, topics). Kept light: importing the package loads neither Faust nor Kafka; the
modules (``streams.app``, ``streams.replay``, ...) are imported where they are used.
"""

from __future__ import annotations

from .exceptions import BadRecord, DeliveryFailed, InvalidMessage, StreamError, TopicError
from .settings import WorkerSettings

__all__ = [
    "BadRecord",
    "DeliveryFailed",
    "InvalidMessage",
    "StreamError",
    "TopicError",
    "WorkerSettings",
]
