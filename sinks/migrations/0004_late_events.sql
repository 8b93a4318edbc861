-- Valid events the stream refused because their visit was already closed (BILLING_RULES
-- §4): unbilled until reconciliation repairs the period of occurred_day. Mirrors the
-- LateEvent Avro record (conversation_id '' for alerts); payload is the event in the
-- JSON Lines form of §1, ready for `botbill replay`.
CREATE TABLE IF NOT EXISTS late_events
(
    event_type      String,
    event_id        String,
    account_id      String,
    bot_id          String,
    conversation_id String,
    occurred_at     Int64,
    reason          String,
    watermark       Int64,
    payload         String,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    occurred_day    Date MATERIALIZED toDate(toDateTime(intDiv(occurred_at, 1000), 'UTC'))
)
ENGINE = ReplacingMergeTree()
ORDER BY (account_id, bot_id, conversation_id, event_id)
