"""Avro object container files of input events: the binary alternative to JSON Lines for
``botbill replay`` and for archives.

A file's schema is one of the three input schemas (any version the catalog knows) or a union
of them. Records come out in the JSON Lines shape: a ``type`` field plus the event's fields,
``occurred_at`` in epoch ms, ready for ``billing_rules.events.event_from_mapping``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import IO, Any

import fastavro
from fastavro import parse_schema

from botbill.billing_rules.timeutil import parse_rfc3339_ms

from ._catalog import EVENT_SCHEMAS, catalog, event_schema_name, schema_event_type
from .exceptions import SchemaError, _describe

__all__ = ["iter_container_records", "write_container"]

@functools.cache
def _union() -> Any:
    """The current three input schemas as one union (parsed once)."""
    current = catalog().current
    return parse_schema([current[name].parsed for name in EVENT_SCHEMAS.values()])


def iter_container_records(fileobj: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Yield each event of a container file as a dict with its ``type``, resolved to the
    current schemas (so a v1 ``ConversationTurn`` gets ``is_test=False``).

    Raises :class:`SchemaError` when the file is not an Avro container of input events or a
    block is corrupt.
    """
    try:
        reader = fastavro.reader(fileobj, reader_schema=_union(), return_record_name=True)
    except Exception as error:
        raise SchemaError("", "", f"not an Avro container file: {_describe(error)}") from error
    writer = reader.writer_schema
    names = [_short(branch) for branch in (writer if isinstance(writer, list) else [writer])]
    for name in names:
        schema_event_type(name)  # raises when the file holds something else
    single = None if isinstance(writer, list) else schema_event_type(names[0])
    records = iter(reader)
    while True:
        try:
            item = next(records)
        except StopIteration:
            return
        except Exception as error:
            raise SchemaError(names[0] if single else "", "",
                              f"corrupt container file: {_describe(error)}") from error
        if single is None:
            record_name, record = item
            event_type = schema_event_type(record_name.rsplit(".", 1)[-1])
        else:
            record, event_type = item, single
        yield {"type": event_type, **record}


def write_container(fileobj: IO[bytes], records: Iterable[dict[str, Any]], *,
                    codec: str = "deflate") -> None:
    """Write events given in the JSON Lines shape (``type``, fields, ``occurred_at`` as epoch
    ms or RFC 3339) as one container file with the union schema of the three inputs.

    Raises :class:`SchemaError` naming the schema, field and reason of the first bad record.
    """
    fastavro.writer(fileobj, _union(), (_union_datum(record) for record in records), codec=codec)


def _union_datum(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = event_schema_name(record.get("type"))  # type: ignore[arg-type]
    occurred_at = record.get("occurred_at")
    if isinstance(occurred_at, str):
        try:
            record = {**record, "occurred_at": parse_rfc3339_ms(occurred_at)}
        except ValueError as error:
            raise SchemaError(name, "occurred_at", str(error)) from None
    schemas = catalog()
    problem = schemas.checks[name](record)
    if problem is not None:
        raise SchemaError(name, *problem)
    return schemas.current[name].parsed["name"], record


def _short(schema: Any) -> str:
    name = schema.get("name", "") if isinstance(schema, dict) else str(schema)
    return str(name).rsplit(".", 1)[-1]
