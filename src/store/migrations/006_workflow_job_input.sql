-- The door the `clickhouse` crate writes jobs through. The crate checks every
-- row against the table's schema, and (as of 0.15) cannot parse named tuple
-- types such as `failure Tuple(rule String, ...)`. This table has the columns
-- of workflow_job with the same tuples unnamed; it stores nothing (Null) and
-- the view below moves each insert into workflow_job, where the tuples get
-- their names back (by position). Other writers may insert into workflow_job
-- directly. Keep the column list in step with 001_workflow_job.sql.
CREATE TABLE IF NOT EXISTS workflow_job_input
(
    id Int64,
    run_id Int64,
    run_attempt Int64,
    repository_full_name LowCardinality(String),
    workflow_name LowCardinality(String),
    workflow_event LowCardinality(String),
    head_sha String,
    head_branch String,
    name String,
    labels Array(String),
    runner_name String,
    status LowCardinality(String),
    conclusion LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    started_at DateTime64(3, 'UTC'),
    completed_at DateTime64(3, 'UTC'),
    steps Array(Tuple(Int64, String, String, String, DateTime64(3, 'UTC'), DateTime64(3, 'UTC'))),
    failure Tuple(String, String, String, Int64, Array(String), String),
    html_url String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS workflow_job_input_mv TO workflow_job
AS SELECT * FROM workflow_job_input;
