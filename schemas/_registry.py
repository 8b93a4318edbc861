"""Confluent Schema Registry access for the codec: schema ids for writing, schemas for reading.

Imported only when a registry URL is configured. Every answer is cached for the life of the
codec (ids are immutable in a registry), so a steady stream makes no registry calls at all.
"""

from __future__ import annotations

import threading

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

from ._catalog import SchemaVersion, version_from_json
from .exceptions import SchemaError, SchemaRegistryUnavailable

__all__ = ["Registry"]

# A mock:// registry lives inside its client object; one client per URL lets every codec of
# the process that names the same URL share it, as producers and consumers share a real one.
_MOCK_CLIENTS: dict[str, SchemaRegistryClient] = {}
_MOCK_LOCK = threading.Lock()


def _client(url: str) -> SchemaRegistryClient:
    if not url.startswith("mock://"):
        return SchemaRegistryClient({"url": url})
    with _MOCK_LOCK:
        if url not in _MOCK_CLIENTS:
            _MOCK_CLIENTS[url] = SchemaRegistryClient.new_client({"url": url})
        return _MOCK_CLIENTS[url]


class Registry:
    """Subjects are ``<topic>-value`` (TopicNameStrategy), or the schema name without a topic."""

    def __init__(self, url: str) -> None:
        self._client = _client(url)
        self._ids: dict[tuple[str, bytes], int] = {}
        self._versions: dict[int, SchemaVersion] = {}

    def schema_id(self, version: SchemaVersion, topic: str | None) -> int:
        """The id of ``version`` under the topic's subject, registering the schema on first
        use (a real registry checks its compatibility with the subject's versions then)."""
        subject = f"{topic}-value" if topic else version.name
        key = (subject, version.fingerprint)
        schema_id = self._ids.get(key)
        if schema_id is None:
            try:
                schema_id = self._client.register_schema(subject, Schema(version.text, "AVRO"))
            except Exception as error:
                raise _translate(error, version.name,
                                 f"cannot register under {subject!r}") from error
            self._ids[key] = schema_id
        return schema_id

    def version(self, schema_id: int) -> SchemaVersion:
        """The writer schema of ``schema_id``."""
        version = self._versions.get(schema_id)
        if version is None:
            try:
                schema = self._client.get_schema(schema_id)
            except Exception as error:
                raise _translate(error, "", f"schema id {schema_id}") from error
            if schema.schema_type not in (None, "AVRO"):
                raise SchemaError("", "", f"schema id {schema_id} is {schema.schema_type}, "
                                  "not Avro")
            version = self._versions[schema_id] = version_from_json(schema.schema_str)
        return version


def _translate(error: Exception, schema: str, what: str) -> Exception:
    """4xx (unknown id, incompatible schema) is the message's or deployment's fault; anything
    else (network, 5xx, timeouts, throttling) may pass, so the caller should retry."""
    if isinstance(error, SchemaRegistryError):
        status = error.http_status_code
        if 400 <= status < 500 and status not in (401, 403, 408, 429):
            return SchemaError(schema, "", f"{what}: {error.error_message} (HTTP {status})")
    return SchemaRegistryUnavailable(f"schema registry: {what}: {error}")
