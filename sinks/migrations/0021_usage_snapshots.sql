-- One row per conversation: its newest usage snapshot. Every time the sessionizer applies
-- an event it sends *all* the live sessions of the conversation's open visits at the new
-- revision, then this marker. Sessions of the conversation that start after `closed_end`
-- (the end of its latest closed visit; -1: none) and carry an older revision than the
-- newest marker are superseded: a history lost in a crash (state and output out of step,
-- events re-read in another order) can leave sessions the recovered state never knew, and
-- the next snapshot outranks them instead of leaving them billed.
CREATE TABLE IF NOT EXISTS usage_snapshots
(
    account_id      String,
    bot_id          String,
    conversation_id String,
    revision        UInt64,
    closed_end      Int64
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (account_id, bot_id, conversation_id)
