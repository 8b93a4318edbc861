-- Usage sessions (R6, R7) as the stream emits them: each change is a new row with a higher
-- revision; the highest revision per session identity is the truth, voided or not.
-- Partitioned by the month of conversation_session_start, which is part of the identity:
-- every revision of a session lands in the same partition, where background merges and
-- OPTIMIZE fold them, and FINAL finds them even when told not to merge across partitions.
-- billing_session_start may move across a month edge between revisions: never the partition.
CREATE TABLE IF NOT EXISTS usage_sessions
(
    account_id                 String,
    bot_id                     String,
    conversation_id            String,
    channel                    String,
    user_id                    String,
    conversation_session_start Int64,
    conversation_session_end   Int64,
    session_index              UInt32,
    billing_session_start      Int64,
    billing_session_end        Int64,
    revision                   UInt64,
    voided                     UInt8,
    billing_day                Date MATERIALIZED
        toDate(toDateTime(intDiv(billing_session_start, 1000), 'UTC'))
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(toDateTime(intDiv(conversation_session_start, 1000), 'UTC'))
ORDER BY (account_id, bot_id, conversation_id, conversation_session_start, session_index)
