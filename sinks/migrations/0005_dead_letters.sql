-- Input messages that could not be decoded or validated, byte for byte, with the error
-- (mirrors the DeadLetter Avro record). Identified by their Kafka position: a redelivery
-- collapses onto one row.
CREATE TABLE IF NOT EXISTS dead_letters
(
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    key             Nullable(String),
    value           String,
    error           String,
    failed_at       Int64,
    failed_day      Date MATERIALIZED toDate(toDateTime(intDiv(failed_at, 1000), 'UTC'))
)
ENGINE = ReplacingMergeTree()
ORDER BY (kafka_topic, kafka_partition, kafka_offset)
