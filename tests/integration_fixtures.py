"""Fixtures for integration tests: the real local stack, started on demand and shared.

Import into ``tests/conftest.py``; a test that takes ``stack`` gets running Kafka and
ClickHouse. The stack is never stopped here: other sessions and engineers share it.
"""

from __future__ import annotations

import pytest

from botbill.deploy.stack import Endpoints, up

__all__ = ["stack"]


@pytest.fixture(scope="session")
def stack() -> Endpoints:
    """Endpoints of the running stack (``deploy.stack.up()`` is idempotent and locked)."""
    return up()
