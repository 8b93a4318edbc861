-- The daily view is recreated by 0023 to leave out superseded sessions (usage_snapshots);
-- bot_usage_monthly reads it by name and needs no change.
DROP TABLE IF EXISTS bot_usage_daily
