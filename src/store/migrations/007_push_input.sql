-- The door the `clickhouse` crate writes pushes through: `commits` with an
-- unnamed tuple, for the reason given in 006_workflow_job_input.sql.
-- Keep the column list in step with 004_push.sql.
CREATE TABLE IF NOT EXISTS push_input
(
    repository_full_name LowCardinality(String),
    ref String,
    after String,
    pushed_at DateTime64(3, 'UTC'),
    commits Array(Tuple(String, DateTime64(3, 'UTC'), String, String))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS push_input_mv TO push
AS SELECT * FROM push_input;
