"""What only a real server shows: the CLI end to end, outages, and the retry loop."""

from __future__ import annotations

import json
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from botbill.billing_rules.sessions import SessionChange, to_row
from botbill.sinks import (
    ClickHouseStore,
    SinkBatch,
    SinkUnavailable,
    billed_sessions,
    cli,
    connect,
    export,
    migrate,
    write_with_retry,
)

pytestmark = pytest.mark.integration


def _closed_port_url(url: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return urlunsplit(urlsplit(url)._replace(netloc=f"default@127.0.0.1:{port}"))


@pytest.fixture
def server(clickhouse_backend):
    return clickhouse_backend


@pytest.fixture
def fresh_url(clickhouse_url):
    """A database name on the test server that does not exist yet; dropped afterwards."""
    url = urlunsplit(urlsplit(clickhouse_url)._replace(path=f"/botbill_t{uuid.uuid4().hex[:10]}"))
    yield url
    admin = connect(clickhouse_url)
    admin.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.strip('/')}")
    admin.disconnect()


def test_db_migrate_creates_the_database_then_is_up_to_date(fresh_url, capsys):
    assert cli.main(["migrate", "--url", fresh_url]) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0] == "applied 0001_raw_events" and len(first) >= 7
    assert cli.main(["migrate", "--url", fresh_url]) == 0
    assert capsys.readouterr().out == "up to date\n"
    client = connect(fresh_url)
    assert migrate(client) == []
    client.disconnect()


def test_db_migrate_reports_an_unreachable_server(clickhouse_url, capsys):
    assert cli.main(["migrate", "--url", _closed_port_url(clickhouse_url)]) == 1
    assert "Connection refused" in capsys.readouterr().err


def test_sessions_export_writes_replay_rows(server, records, tmp_path, capsys):
    sessions = [records.usage(1), records.usage(2)]
    server.write(SinkBatch(usage_changes=[SessionChange(s, 1, False) for s in sessions],
                            alert_sessions=[records.alert("a1", records.t0)]))
    output = tmp_path / "export.jsonl"
    argv = ["export", "--account", records.account, "--from", "2026-11-01", "--to",
            "2026-11-01", "--output", str(output), "--url", server.url]
    assert export.main(argv) == 0
    expected = list(billed_sessions(server.client, account=records.account))
    assert len(expected) == 3
    with open(tmp_path / "expected.jsonl", "wb") as out:
        export.write_rows(expected, out)
    assert output.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()
    assert "3 sessions" in capsys.readouterr().err
    assert export.main([*argv[:-4], "--url", server.url]) == 0  # to stdout
    printed = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in printed] == [to_row(s) for s in expected]


def test_an_unreachable_server_raises_sink_unavailable(clickhouse_url, records):
    url = _closed_port_url(clickhouse_url)
    batch = SinkBatch(usage_changes=[SessionChange(records.usage(1), 1, False)])
    with ClickHouseStore(url) as store, pytest.raises(SinkUnavailable) as caught:
        store.write_batch(batch)
    assert caught.value.table == "usage_sessions" and caught.value.code is None
    with pytest.raises(SinkUnavailable):
        list(billed_sessions(connect(url)))
    with pytest.raises(SinkUnavailable):
        connect(url, create_database=True)


def test_a_missing_table_is_retryable_and_names_the_server_error(clickhouse_url, records):
    empty = urlunsplit(urlsplit(clickhouse_url)._replace(path="/default"))
    with ClickHouseStore(empty) as store, pytest.raises(SinkUnavailable) as caught:
        store.write_batch(SinkBatch(alert_sessions=[records.alert("a1", records.t0)]))
    assert caught.value.code == 60 and "alert_sessions" in str(caught.value)


def test_write_with_retry_waits_out_an_outage(server, records):
    """The first attempts go to a closed port (ClickHouse down); after two retries the
    operator 'fixes' it: the batch is written once, nothing dropped, nothing doubled."""
    batch = SinkBatch(usage_changes=[SessionChange(records.usage(1), 1, False)])

    class Repointed:
        def __init__(self) -> None:
            self.store = ClickHouseStore(_closed_port_url(server.url))

        def write_batch(self, batch: SinkBatch) -> None:
            self.store.write_batch(batch)

    target = Repointed()
    retries: list[tuple[int, float]] = []

    def on_retry(attempt: int, delay: float, error: SinkUnavailable) -> None:
        retries.append((attempt, delay))
        if attempt == 2:
            target.store = ClickHouseStore(server.url)

    attempts = write_with_retry(target, batch, initial_delay=0.01, on_retry=on_retry)
    target.store.close()
    assert attempts == 3 and retries == [(1, 0.01), (2, 0.02)]
    assert list(billed_sessions(server.client, account=records.account)) == [records.usage(1)]
