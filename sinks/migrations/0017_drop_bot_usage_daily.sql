-- bot_usage_daily is re-created by 0018 over the billing_day the rules fill (a view holds
-- no data; bot_usage_monthly reads it by name and is unaffected).
DROP TABLE IF EXISTS bot_usage_daily
