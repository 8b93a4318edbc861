-- Finance: billed sessions per bot and UTC billing day, the day the rules gave each session
-- (billing_rules.periods, written by the sink into billing_day; replaces 0006, which read
-- alerts by a day derived here). A plain view, read with FINAL at query time: a
-- materialized view would sum every revision and every void.
CREATE VIEW IF NOT EXISTS bot_usage_daily AS
SELECT account_id, bot_id, billing_day AS day,
       countIf(is_alert = 0) AS usage_sessions, countIf(is_alert = 1) AS alert_sessions
FROM
(
    SELECT account_id, bot_id, billing_day, 0 AS is_alert FROM usage_sessions FINAL
    WHERE voided = 0
    UNION ALL
    SELECT account_id, bot_id, billing_day, 1 AS is_alert FROM alert_sessions FINAL
)
GROUP BY account_id, bot_id, billing_day
