"""Avro schemas of botbill's Kafka topics and files, and the one codec that reads and writes
them. See ``README.md`` for the wire formats and how to evolve a schema."""

from __future__ import annotations

from ._catalog import (
    ACCOUNT_EVENT_SCHEMAS,
    account_event_schema_name,
    event_schema_name,
    schema_event_type,
)
from .codec import AvroCodec
from .container import iter_container_records, write_container
from .exceptions import SchemaError, SchemaRegistryUnavailable

__all__ = [
    "ACCOUNT_EVENT_SCHEMAS",
    "AvroCodec",
    "SchemaError",
    "SchemaRegistryUnavailable",
    "account_event_schema_name",
    "event_schema_name",
    "iter_container_records",
    "schema_event_type",
    "write_container",
]
