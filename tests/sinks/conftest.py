"""Backends for the sink tests: an in-process chdb (always) and the real ClickHouse
(``integration``), each with a fresh ``botbill_test_*`` database, plus record factories."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from clickhouse_driver.util.escape import escape_param

from botbill.billing_rules.sessions import AlertSession, UsageSession
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.sinks import ClickHouseStore, SinkBatch, connect, migrate
from botbill.sinks._tables import batch_inserts
from botbill.sinks.connection import DEFAULT_URL, URL_ENV

T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")
MINUTE = 60_000


class ChdbClient:
    """The slice of ``clickhouse_driver.Client`` the sinks use, over a chdb session, so the
    very statements the sinks send run on a current ClickHouse."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute(self, query: str, params: Any = None, settings: Any = None) -> list[tuple]:
        if query.rstrip().upper().endswith("VALUES"):
            query += ", ".join(
                "(" + ", ".join(_literal(value) for value in row) + ")" for row in params)
        elif params:
            query %= {key: escape_param(value, None) for key, value in params.items()}
        result = self.session.query(query, "JSONCompactEachRowWithNamesAndTypes")
        lines = [json.loads(line) for line in result.data().splitlines() if line]
        if len(lines) < 2:
            return []
        return [tuple(_value(kind, value) for kind, value in zip(lines[1], row, strict=True))
                for row in lines[2:]]

    def execute_iter(self, query: str, params: Any = None, settings: Any = None,
                     ) -> Iterator[tuple]:
        return iter(self.execute(query, params, settings))

    def disconnect(self) -> None:
        pass


def _literal(value: Any) -> str:
    if isinstance(value, bytes):
        return f"unhex('{value.hex()}')"
    return str(escape_param(value, None))


def _value(kind: str, value: Any) -> Any:
    base = kind.removeprefix("Nullable(").rstrip(")")
    if value is None:
        return None
    if base.startswith(("Int", "UInt")):
        return int(value)
    if base == "Date":
        return date.fromisoformat(value)
    return value


@dataclass
class Backend:
    """Where a test writes (``write``) and reads (``client``)."""

    name: str
    client: Any
    write: Callable[[SinkBatch], None]
    url: str = ""


@pytest.fixture(scope="module")
def chdb_client() -> Iterator[ChdbClient]:
    from chdb import session as chdb_session

    session = chdb_session.Session()
    database = f"botbill_test_{uuid.uuid4().hex[:12]}"
    session.query(f"CREATE DATABASE {database}")
    session.query(f"USE {database}")
    try:
        yield ChdbClient(session)
    finally:
        session.query(f"DROP DATABASE IF EXISTS {database}")
        session.close()


def _server_url(database: str) -> str:
    base = os.environ.get(URL_ENV) or DEFAULT_URL
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


@pytest.fixture(scope="module")
def clickhouse_url() -> Iterator[str]:
    """A fresh database on the server of ``$BOTBILL_CLICKHOUSE_URL``, dropped afterwards."""
    url = _server_url(f"botbill_test_{uuid.uuid4().hex[:12]}")
    client = connect(url, create_database=True)
    try:
        yield url
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.strip('/')}")
        client.disconnect()


@pytest.fixture(scope="module")
def chdb_backend(chdb_client: ChdbClient) -> Backend:
    """chdb, migrated; writes run the same inserts as :class:`ClickHouseStore`."""
    migrate(chdb_client)

    def write(batch: SinkBatch) -> None:
        for insert in batch_inserts(batch, ingested_at=T0):
            chdb_client.execute(insert.sql, insert.rows)

    return Backend("chdb", chdb_client, write)


@pytest.fixture(scope="module")
def clickhouse_backend(clickhouse_url: str) -> Iterator[Backend]:
    """The real server, migrated, written through :class:`ClickHouseStore`."""
    client = connect(clickhouse_url)
    migrate(client)
    with ClickHouseStore(clickhouse_url) as store:
        yield Backend("clickhouse", client, store.write_batch, clickhouse_url)
    client.disconnect()


@pytest.fixture(scope="module", params=["chdb", pytest.param("clickhouse",
                                                             marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The same tests against chdb and against the real server."""
    fixture: Backend = request.getfixturevalue(f"{request.param}_backend")
    return fixture


@dataclass
class Records:
    """Factories for one test's records, all under an account of that test only (tests
    share a database, never an account)."""

    account: str
    t0: int = T0

    def usage(self, index: int = 1, *, conversation: str = "conv-1", bot: str = "bot-a",
              start: int = T0, end: int | None = None, billing_start: int | None = None,
              ) -> UsageSession:
        """Usage session ``index`` of a visit at ``start``: by default its ``index``-th
        15-minute slice."""
        if billing_start is None:
            billing_start = start + (index - 1) * 15 * MINUTE
        billing_end = billing_start + 15 * MINUTE
        return UsageSession(self.account, bot, conversation, "web", "u-1", start,
                            max(end or 0, billing_end), index, billing_start, billing_end)

    def alert(self, event_id: str, at: int, bot: str = "bot-a") -> AlertSession:
        return AlertSession(self.account, bot, event_id, at)

    def event(self, kind: str, event_id: str, at: int, **fields: Any) -> dict[str, Any]:
        """An event mapping (``event_to_mapping`` form) of type ``kind``."""
        base: dict[str, Any] = {"type": kind, "event_id": event_id, "account_id": self.account,
                                "bot_id": "bot-a", "occurred_at": at, "user_id": "u-1",
                                "channel": "web", "is_test": False}
        if kind == "conversation_turn":
            base |= {"conversation_id": "conv-1", "speaker": "USER"}
        elif kind == "agent_handoff":
            base |= {"conversation_id": "conv-1", "handoff_id": "h-1", "phase": "STARTED",
                     "agent_id": None}
        else:
            base |= {"alert_id": "report-8h"}
        return base | fields


@pytest.fixture
def records() -> Records:
    return Records(f"acct-{uuid.uuid4().hex[:8]}")
