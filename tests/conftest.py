"""Shared fixtures. ``stack``: the real Kafka + ClickHouse (started on demand, never mocked).

Hypothesis runs derandomized by default (the same examples on every run, so CI cannot pass
by luck); ``HYPOTHESIS_PROFILE=deep`` (``make test-deep``) explores many more, at random.
Failures found that way are pinned in the tests with ``@example``.
"""

import os

from hypothesis import HealthCheck, settings

from tests.integration_fixtures import stack

settings.register_profile("ci", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

__all__ = ["stack"]
