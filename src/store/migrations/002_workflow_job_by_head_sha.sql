-- Jobs by commit: lookups by head_sha read this small index, then fetch the
-- full rows from workflow_job by (id, run_id), instead of scanning the table,
-- which is ordered by job id. It only sees inserts made after it exists,
-- which is why it is created right after workflow_job.
CREATE MATERIALIZED VIEW IF NOT EXISTS workflow_job_by_head_sha
ENGINE = ReplacingMergeTree
ORDER BY (repository_full_name, head_sha, id, run_id)
AS SELECT repository_full_name, head_sha, id, run_id
FROM workflow_job;
