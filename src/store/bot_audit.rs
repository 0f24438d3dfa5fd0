//! `bot_audit`: one row per merge or revert the comment commands carried
//! out, and per merge that failed, written through a plan's store step
//! that runs only once the merge or revert landed, or failed (so
//! `--dry-run` writes none).

use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::rows::millis;

/// One merge or revert: a row of `bot_audit`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct BotAuditRow {
    #[serde(with = "millis")]
    pub ts: DateTime<Utc>,
    pub repository_full_name: String,
    pub pr_number: u64,
    /// `merge` or `revert`.
    pub action: String,
    /// The head merged (for `merge -r -f`, the head the update made; the
    /// head seen before it when the update or merge failed), or the merge
    /// commit reverted.
    pub sha: String,
    /// Who gave the command.
    pub actor: String,
    /// `-f`'s reason, or the revert's message; empty otherwise.
    pub reason: String,
    /// The revert's classification; empty for a merge.
    pub classification: String,
    /// `force`, `ignore-current`, `rebase`, `direct`...
    pub flags: Vec<String>,
    /// `merged`, `revert-pull-request` or `reverted`; `failed` for a merge
    /// GitHub refused, whose head moved, or that ci-medic gave up on after
    /// waiting (`reason` then says why).
    pub result: String,
}
