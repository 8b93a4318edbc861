"""The admin HTTP API and the Billing page (issue 8): ``botbill api``, ``botbill users``.

Built with :func:`create_app` over a ClickHouse URL and an :class:`EventLog` (Kafka in
production, :class:`MemoryEventLog` in unit tests).
"""

from ._auth import hash_token, new_token
from ._events import EventLog, KafkaEventLog, MemoryEventLog
from .app import create_app
from .exceptions import ApiError, EventsUnavailable

__all__ = [
    "ApiError",
    "EventLog",
    "EventsUnavailable",
    "KafkaEventLog",
    "MemoryEventLog",
    "create_app",
    "hash_token",
    "new_token",
]
