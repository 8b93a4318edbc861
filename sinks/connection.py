"""Where ClickHouse is: the URL (``BOTBILL_CLICKHOUSE_URL``) and clients made from it.

Every botbill table lives in the database named by the URL path, and statements use
unqualified names, so a client is always bound to that database.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from clickhouse_driver import Client

from ._driver import translated
from .exceptions import SinkError

__all__ = ["DEFAULT_URL", "URL_ENV", "connect", "database_name", "resolve_url"]

URL_ENV = "BOTBILL_CLICKHOUSE_URL"
DEFAULT_URL = "clickhouse://default@127.0.0.1:9000/botbill"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_url(url: str | None = None) -> str:
    """The given URL, else ``$BOTBILL_CLICKHOUSE_URL``, else :data:`DEFAULT_URL`."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def database_name(url: str) -> str:
    """The database in the URL path; a plain identifier, since DDL has to spell it."""
    name = urlsplit(url).path.strip("/") or "default"
    if not _IDENTIFIER.fullmatch(name):
        raise SinkError(f"database name {name!r} in {URL_ENV} must be a plain identifier")
    return name


def connect(url: str | None = None, *, create_database: bool = False) -> Client:
    """A client bound to the URL's database, created first when ``create_database``.

    The server refuses to bind a connection to a missing database, hence the detour through
    ``default`` to create it. Otherwise the client connects lazily, on first use.
    """
    url = resolve_url(url)
    database = database_name(url)
    if create_database:
        admin = Client.from_url(urlunsplit(urlsplit(url)._replace(path="/default")))
        try:
            with translated():
                admin.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        finally:
            admin.disconnect()
    return Client.from_url(url)
