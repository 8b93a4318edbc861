"""Write a batch until it is stored: the sink never drops a batch.

Plain threads and ``time.sleep``, no asyncio: the Faust worker runs it in an executor, and
scripts call it directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .exceptions import SinkUnavailable
from .store import SessionStore, SinkBatch

__all__ = ["write_with_retry"]

RetryCallback = Callable[[int, float, SinkUnavailable], object]


def write_with_retry(store: SessionStore, batch: SinkBatch, *, initial_delay: float = 0.5,
                     max_delay: float = 30.0, on_retry: RetryCallback | None = None,
                     stop: threading.Event | None = None,
                     sleep: Callable[[float], object] | None = None) -> int:
    """Write ``batch``, retrying :class:`SinkUnavailable` with exponential backoff (from
    ``initial_delay`` doubling up to ``max_delay`` seconds) until it succeeds; returns the
    number of attempts.

    ``on_retry(attempt, delay, error)`` is called before each wait (log it, count it).
    Setting ``stop`` ends the waiting: the last :class:`SinkUnavailable` is raised, so the
    caller cannot mistake an unwritten batch for a written one. Any other error is raised
    at once: retrying a bug would only hide it.
    """
    if sleep is None:
        sleep = stop.wait if stop is not None else time.sleep
    attempt = 1
    while True:
        try:
            store.write_batch(batch)
            return attempt
        except SinkUnavailable as error:
            if stop is not None and stop.is_set():
                raise
            delay = min(max_delay, initial_delay * 2 ** min(attempt - 1, 32))
            if on_retry is not None:
                on_retry(attempt, delay, error)
            sleep(delay)
            if stop is not None and stop.is_set():
                raise
        attempt += 1
