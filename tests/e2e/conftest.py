"""The ``pipeline`` fixture: one isolated, running pipeline per test module.

A module changes the worker's settings by overriding ``pipeline_env`` (module scope), e.g.
``{"BOTBILL_PARTITIONS": "1"}``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from botbill.deploy.stack import Endpoints
from tests.e2e.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline_env() -> dict[str, str]:
    """Extra ``BOTBILL_*`` settings of the module's pipeline (none by default)."""
    return {}


@pytest.fixture(scope="module")
def pipeline(stack: Endpoints, pipeline_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Topics, database and worker of this module, started; torn down afterwards."""
    running = Pipeline(tmp_path_factory.mktemp("botbill-home"),
                       kafka_bootstrap=stack.kafka_bootstrap,
                       clickhouse_host=stack.clickhouse_host,
                       clickhouse_port=stack.clickhouse_port, env=pipeline_env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
