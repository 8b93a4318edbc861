"""The one Avro codec: every Kafka message botbill writes or reads goes through it.

Messages say which schema wrote them, in one of two framings (see ``README.md``):

- with a schema registry: Confluent wire format, ``0x00`` + 4-byte big-endian schema id + body;
- without: Avro single-object encoding, ``0xC3 0x01`` + 8-byte little-endian CRC-64-AVRO
  fingerprint of the writer schema + body.

``decode`` accepts both, whatever the codec writes, and resolves older writer versions to the
current reader schema. Schemas are parsed and validators compiled once; per message the codec
does one dict lookup, one check and one fastavro call.
"""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING, Any, NamedTuple

from fastavro import schemaless_reader, schemaless_writer

from ._catalog import SchemaVersion, catalog
from ._check import Check
from .exceptions import SchemaError, _describe

if TYPE_CHECKING:
    from ._registry import Registry

__all__ = ["AvroCodec"]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class _Writer(NamedTuple):
    version: SchemaVersion
    check: Check
    header: bytes  # single-object header; a registry's header depends on the topic


class _Reader(NamedTuple):
    name: str
    writer: Any
    reader: Any  # None when the writer is the current version: no resolution needed


class AvroCodec:
    """Encode and decode botbill's Avro messages.

    ``registry_url`` switches writing to the Confluent wire format with schemas registered
    under ``<topic>-value`` (or the schema name without a topic); ``mock://...`` is the
    in-process registry of confluent-kafka, shared by all codecs of a process using that URL.
    Thread-safe: the caches only ever grow with values that do not change.
    """

    def __init__(self, registry_url: str | None = None) -> None:
        schemas = catalog()
        self._current = schemas.current
        self._by_fingerprint = schemas.by_fingerprint
        self._writers = {
            name: _Writer(version, schemas.checks[name], SINGLE_OBJECT_MAGIC + version.fingerprint)
            for name, version in schemas.current.items()
        }
        self._readers: dict[tuple[bytes | int, str | None], _Reader] = {}
        self._registry: Registry | None = None
        if registry_url:
            from ._registry import Registry  # confluent-kafka only when a registry is used

            self._registry = Registry(registry_url)

    @property
    def schema_names(self) -> tuple[str, ...]:
        """The names ``encode`` accepts (current schemas)."""
        return tuple(sorted(self._current))

    def encode(self, schema_name: str, record: dict[str, Any], *,
               topic: str | None = None) -> bytes:
        """Validate ``record`` against the current ``schema_name`` and frame it.

        Raises :class:`SchemaError` naming the field and reason, or
        :class:`SchemaRegistryUnavailable` when the registry cannot be reached.
        """
        writer = self._writers.get(schema_name)
        if writer is None:
            raise SchemaError(schema_name, "",
                              f"unknown schema (known: {', '.join(self.schema_names)})")
        problem = writer.check(record)
        if problem is not None:
            raise SchemaError(schema_name, *problem)
        out = BytesIO()
        if self._registry is None:
            out.write(writer.header)
        else:
            out.write(CONFLUENT_MAGIC)
            out.write(self._registry.schema_id(writer.version, topic).to_bytes(4, "big"))
        try:
            schemaless_writer(out, writer.version.parsed, record)
        except Exception as error:  # the check should have caught it; keep the boundary tight
            raise SchemaError(schema_name, "", f"cannot encode: {_describe(error)}") from error
        return out.getvalue()

    def decode(self, data: bytes, schema_name: str | None = None) -> tuple[str, dict[str, Any]]:
        """``(writer schema name, record)``, the record in the current version of its schema
        (or of ``schema_name``, when given, which must be able to read the writer's data).

        Raises :class:`SchemaError` for unknown framing, an unknown fingerprint or schema id,
        and a truncated or corrupt body.
        """
        if data[:2] == SINGLE_OBJECT_MAGIC:
            start, key = 10, data[2:10]
            if len(data) < start:
                raise SchemaError("", "", f"truncated single-object header ({len(data)} bytes)")
        elif data[:1] == CONFLUENT_MAGIC:
            start, key = 5, int.from_bytes(data[1:5], "big")
            if len(data) < start:
                raise SchemaError("", "", f"truncated Confluent header ({len(data)} bytes)")
        else:
            raise SchemaError("", "", f"unknown framing: starts with {data[:2]!r}, expected "
                              "0xC3 0x01 (single-object) or 0x00 (Confluent)")
        reader = self._readers.get((key, schema_name)) or self._reader(key, schema_name)
        body = BytesIO(data)
        body.seek(start)
        try:
            record = schemaless_reader(body, reader.writer, reader.reader)
        except Exception as error:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise SchemaError(reader.name, "", f"undecodable body: {_describe(error)}") from error
        if body.tell() != len(data):
            raise SchemaError(reader.name, "", f"{len(data) - body.tell()} bytes left after the "
                              "record (corrupt or wrong schema)")
        return reader.name, record

    def _reader(self, key: bytes | int, schema_name: str | None) -> _Reader:
        if isinstance(key, int):
            if self._registry is None:
                raise SchemaError("", "", f"Confluent-framed message (schema id {key}) but no "
                                  "schema registry is configured")
            writer = self._registry.version(key)
        else:
            found = self._by_fingerprint.get(key)
            if found is None:
                raise SchemaError("", "", f"unknown writer schema fingerprint {key.hex()}")
            writer = found
        target = self._current.get(schema_name or writer.name)
        if schema_name is not None and target is None:
            raise SchemaError(schema_name, "", "unknown reader schema")
        if target is not None and target.name != writer.name:
            raise SchemaError(target.name, "", f"message was written with {writer.name}")
        resolve = target is not None and target.fingerprint != writer.fingerprint
        reader = _Reader(writer.name, writer.parsed, target.parsed if resolve else None)
        self._readers[(key, schema_name)] = reader
        return reader

