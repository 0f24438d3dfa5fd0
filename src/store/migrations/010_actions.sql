-- What ci-medic did: one row per re-run, heal, revert and autorevert
-- restart or revert that landed, written by a plan's store step that runs
-- only once the write landed (so --dry-run writes none). `delivery` names
-- the event that caused it: a redelivered event finds its rows and writes
-- none again, and two runs racing on one event are one row when read with
-- FINAL (the sort key).
CREATE TABLE IF NOT EXISTS actions
(
    ts DateTime64(3, 'UTC'),
    repository_full_name LowCardinality(String),
    kind LowCardinality(String),
    target String,
    sha String,
    run_id Int64,
    delivery String,
    step String
)
ENGINE = ReplacingMergeTree
ORDER BY (repository_full_name, kind, delivery, target);
