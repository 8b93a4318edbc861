-- Alert sessions (R8): one per delivered alert, never revised.
CREATE TABLE IF NOT EXISTS alert_sessions
(
    account_id    String,
    bot_id        String,
    event_id      String,
    delivered_at  Int64,
    delivered_day Date MATERIALIZED toDate(toDateTime(intDiv(delivered_at, 1000), 'UTC'))
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(delivered_day)
ORDER BY (account_id, bot_id, event_id)
