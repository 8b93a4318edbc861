"""The jobs' tests use the sink tests' backends: chdb always, the real server when marked
``integration``."""

from tests.sinks.conftest import (
    backend,
    chdb_backend,
    chdb_client,
    clickhouse_backend,
    clickhouse_url,
    records,
)

__all__ = ["backend", "chdb_backend", "chdb_client", "clickhouse_backend", "clickhouse_url",
           "records"]
