-- The billing day of an alert session, filled by the writer from the rules
-- (billing_rules.periods: the UTC day of its delivery, R8). Rows written before this version
-- read the delivered_day they were stored with. delivered_day stays: it partitions the table.
ALTER TABLE alert_sessions ADD COLUMN billing_day Date DEFAULT delivered_day
