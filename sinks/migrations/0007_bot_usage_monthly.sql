-- Finance: billed sessions per bot and UTC month (month = its first day), from the daily
-- view. The inner renames keep each sum's alias apart from the column it sums (ClickHouse
-- aliases are visible across the whole query).
CREATE VIEW IF NOT EXISTS bot_usage_monthly AS
SELECT
    account_id,
    bot_id,
    month,
    sum(day_usage) AS usage_sessions,
    sum(day_alerts) AS alert_sessions
FROM
(
    SELECT account_id, bot_id, toStartOfMonth(day) AS month,
           usage_sessions AS day_usage, alert_sessions AS day_alerts
    FROM bot_usage_daily
)
GROUP BY account_id, bot_id, month
