"""clickhouse-driver's errors -> ours, at the one place they cross into botbill."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clickhouse_driver import errors as driver_errors

from .exceptions import SinkError, SinkUnavailable

__all__ = ["translated"]

# Transport failures and anything the server answered with: worth retrying. Other driver
# errors (types, encodings) are raised before anything reaches the server: bugs.
_UNAVAILABLE = (driver_errors.NetworkError, driver_errors.SocketTimeoutError,
                driver_errors.ServerException, driver_errors.UnexpectedPacketFromServerError,
                driver_errors.UnknownPacketFromServerError, EOFError, OSError)


@contextmanager
def translated(table: str = "") -> Iterator[None]:
    """Re-raise driver errors from the block as :class:`SinkUnavailable` / :class:`SinkError`
    naming ``table``."""
    try:
        yield
    except _UNAVAILABLE as error:
        code = error.code if isinstance(error, driver_errors.ServerException) else None
        text = " ".join(str(error).split("Stack trace:")[0].split()) or type(error).__name__
        raise SinkUnavailable(text, table=table, code=code) from error
    except driver_errors.Error as error:
        raise SinkError(f"{table}: {error}" if table else str(error)) from error
