-- Every input event as consumed (BILLING_RULES §1), for audit and for reconciliation,
-- which re-runs the rules over a period's events. Fields an event type does not have are
-- '' (agent_id: NULL when absent). Deduplicated like the rules do: an event is identified
-- by its id within its conversation (alerts: conversation_id = '').
CREATE TABLE IF NOT EXISTS raw_events
(
    event_type      String,
    event_id        String,
    account_id      String,
    bot_id          String,
    occurred_at     Int64,
    is_test         UInt8,
    conversation_id String,
    user_id         String,
    channel         String,
    speaker         String,
    handoff_id      String,
    phase           String,
    agent_id        Nullable(String),
    alert_id        String,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    ingested_at     Int64,
    occurred_day    Date MATERIALIZED toDate(toDateTime(intDiv(occurred_at, 1000), 'UTC'))
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_day)
ORDER BY (account_id, bot_id, conversation_id, event_id)
