-- Finance: billed sessions per bot and UTC day (a usage session counts on the day its
-- billing_session_start falls, R7; an alert on its delivery day). A plain view, read with
-- FINAL at query time: a materialized view would sum every revision and every void. A usage
-- session counts unless voided or superseded by its conversation's newest snapshot (the
-- rule of sinks/queries.py, see 0021_usage_snapshots.sql).
CREATE VIEW IF NOT EXISTS bot_usage_daily AS
SELECT
    account_id,
    bot_id,
    day,
    sum(is_usage) AS usage_sessions,
    sum(is_alert) AS alert_sessions
FROM
(
    SELECT account_id, bot_id, billing_day AS day,
           toUInt64(1) AS is_usage, toUInt64(0) AS is_alert
    FROM
    (
        SELECT account_id, bot_id, conversation_id, conversation_session_start, revision,
               billing_day
        FROM usage_sessions FINAL
        WHERE voided = 0
    ) AS usage
    ANY LEFT JOIN
    (
        SELECT account_id, bot_id, conversation_id, revision AS snapshot_revision,
               closed_end AS snapshot_closed_end
        FROM usage_snapshots FINAL
    ) AS snapshot USING (account_id, bot_id, conversation_id)
    WHERE revision >= snapshot_revision OR conversation_session_start <= snapshot_closed_end
    UNION ALL
    SELECT account_id, bot_id, billing_day AS day,
           toUInt64(0) AS is_usage, toUInt64(1) AS is_alert
    FROM alert_sessions FINAL
)
GROUP BY account_id, bot_id, day
