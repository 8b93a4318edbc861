"""Shared fixtures. ``stack``: the real Kafka + ClickHouse (started on demand, never mocked)."""

from tests.integration_fixtures import stack

__all__ = ["stack"]
