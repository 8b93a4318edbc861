"""Errors of the Avro boundary; fastavro and schema-registry errors are translated into these.

BotbillError                        (billing_rules.exceptions)
 +-- SchemaError                    this record or these bytes do not fit the schema: dead-letter
 +-- SchemaRegistryUnavailable      the registry did not answer: retry, do not dead-letter
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["SchemaError", "SchemaRegistryUnavailable"]


class SchemaError(BotbillError):
    """A record does not match its schema, or bytes cannot be decoded.

    ``schema`` is the schema's short name (``""`` when the bytes do not say), ``field`` the
    offending field path (``""`` for the whole message), ``reason`` what is wrong. The message
    reads ``ConversationTurn.speaker: 'ROBOT' is not one of USER, BOT, AGENT``. The message is
    the caller's fault, so retrying will not help: a consumer dead-letters it.
    """

    def __init__(self, schema: str, field: str, reason: str) -> None:
        self.schema = schema
        self.field = field
        self.reason = reason
        where = ".".join(part for part in (schema, field) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class SchemaRegistryUnavailable(BotbillError):
    """The schema registry failed to answer (network, 5xx, auth).

    Not a :class:`SchemaError` on purpose: the message may be fine, so a consumer must retry
    or stop, never dead-letter it.
    """


def _describe(error: Exception, limit: int = 200) -> str:
    """A library error in one readable line: fastavro puts whole schemas in some messages."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[:limit] + "..."
