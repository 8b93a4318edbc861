"""schemathesis over the published OpenAPI, against the served API on the real stack: no
5xx, and every response matches its documented status, content type and schema. Generated
requests run as an admin (billing paths) and as an operator (operator paths).

(schemathesis' pytest plugin does not load under this pytest, so each operation's strategy
is driven by a plain hypothesis ``@given``.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
           response_schema_conformance]


def test_every_operation_conforms(world):
    schema = schemathesis.openapi.from_url(f"{world.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        who = "ops" if "/operator/" in operation.path else "ann"
        _conforms(operation, {"Authorization": f"Bearer {world.tokens[who]}"})


def _conforms(operation, headers):
    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def conforms(case):
        case.call_and_validate(headers=headers, checks=_CHECKS, timeout=30)

    conforms()
