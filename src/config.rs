//! `.github/ci-medic.yml`: schema, defaults and validation.
//!
//! An empty file (or none) is a valid config: every key has a default. Unknown
//! keys are errors that name the file, the line and the key, because a typo in
//! a config silently ignored is a bot that silently does the wrong thing.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::history::OnlineSource;

/// Where the config is read from in the target repository.
pub const DEFAULT_PATH: &str = ".github/ci-medic.yml";

/// The labels `analyze` puts on the issues it files and `heal` acts on.
pub const LABEL_AUTO_HEAL: &str = "auto-heal";
pub const LABEL_WORKFLOW_FAILURE: &str = "workflow-failure";
pub const LABEL_NEEDS_MANUAL_FIX: &str = "needs-manual-fix";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    pub analyze: AnalyzeConfig,
    pub retry: RetryConfig,
    pub heal: HealConfig,
    pub autorevert: AutorevertConfig,
    /// Comment commands (`@ci-medic merge`, `label`, `retest`, ...); on
    /// when the section is present.
    pub commands: Option<crate::bot::config::CommandsConfig>,
    /// Where job history lives when a job's `source`/`history` is `clickhouse`.
    pub clickhouse: Option<ClickhouseConfig>,
    /// Dr. CI on pull requests; on when the section is present.
    pub drci: Option<crate::drci::DrciSection>,
    /// Pull-request and issue labels: auto-label and required labels.
    pub labels: crate::automations::labels::LabelsConfig,
    /// Cancel the runs of pull requests closed without merging.
    pub cancel_on_close: Option<crate::automations::cancel::CancelOnCloseConfig>,
    /// `ciflow:`: allowed `ciflow/*` labels become tags at the head.
    pub ciflow: Option<crate::automations::ciflow::CiflowConfig>,
    /// `disabled-jobs:`: `DISABLED`/`UNSTABLE` issues are validated and
    /// silence the jobs they name.
    pub disabled_jobs: Option<crate::automations::disabled::DisabledJobsConfig>,
    /// Downstream (out-of-tree) CI; on when the section is present.
    pub crcr: Option<crate::crcr::config::CrcrConfig>,
    /// `stale-approvals:`: dismiss approvals of pull requests whose author
    /// lacks write access when they are reopened (or get new commits).
    pub stale_approvals: Option<crate::automations::stale::StaleApprovalsConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AnalyzeConfig {
    pub enabled: bool,
    /// Workflow names (or file paths) to watch; empty means all.
    pub workflows: Vec<String>,
    /// Branches whose failures are reported; empty means all.
    pub branches: Vec<String>,
    /// Labels on every issue filed (a `ci-medic:<category>` label is added too).
    pub labels: Vec<String>,
    /// Close the issue when a later run of the same workflow on the same branch passes.
    pub close_on_success: bool,
    /// Lines of context shown around the cause line.
    pub context_lines: usize,
    /// Largest job log downloaded, in bytes; larger logs are cut.
    pub max_log_bytes: u64,
    /// Decompressed bytes read from one run log archive, at most.
    pub max_archive_bytes: u64,
    /// Members of one run log archive, at most.
    pub max_archive_entries: usize,
    /// The repository's own log rules, tried with the built-in ones.
    pub rules: Vec<crate::analyze::RuleSpec>,
}

impl AnalyzeConfig {
    /// What reading one run log archive may cost.
    pub fn archive_limits(&self) -> crate::logs::zip::ArchiveLimits {
        crate::logs::zip::ArchiveLimits {
            max_bytes: self.max_archive_bytes,
            max_entries: self.max_archive_entries,
        }
    }
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        AnalyzeConfig {
            enabled: true,
            workflows: Vec::new(),
            branches: Vec::new(),
            labels: vec![LABEL_AUTO_HEAL.into(), LABEL_WORKFLOW_FAILURE.into()],
            close_on_success: true,
            context_lines: 5,
            max_log_bytes: 256 * 1024 * 1024,
            max_archive_bytes: crate::logs::zip::DEFAULT_MAX_ARCHIVE_BYTES,
            max_archive_entries: crate::logs::zip::DEFAULT_MAX_ARCHIVE_ENTRIES,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RetryConfig {
    pub enabled: bool,
    /// Workflow names (or file paths) whose failures may be re-run; empty means all.
    pub workflows: Vec<String>,
    /// Do nothing when more jobs than this failed: a broad outage is not fixed by re-running.
    pub max_failed_jobs: usize,
    /// Automatic re-runs allowed per job, counted from the job's own run attempt.
    pub max_attempts: u64,
    /// Also re-run jobs that failed with `timeout`.
    pub retry_timeouts: bool,
    /// Job names (regular expressions) that are always re-run once, whatever the cause.
    pub always_retry: Vec<String>,
    /// Step names (regular expressions) whose failures are re-run whatever the cause.
    pub retryable_steps: Vec<String>,
    /// On the default branch, re-run a job known to be flaky even if its category alone would not allow it.
    pub retry_flaky: bool,
    /// How far back to look for a fail-then-pass of the same job on one commit.
    pub flaky_lookback_days: u32,
    /// Where that history is read from.
    pub history: OnlineSource,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            workflows: Vec::new(),
            max_failed_jobs: 5,
            max_attempts: 1,
            retry_timeouts: false,
            always_retry: Vec::new(),
            retryable_steps: Vec::new(),
            retry_flaky: true,
            flaky_lookback_days: 7,
            history: OnlineSource::Github,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct HealConfig {
    pub enabled: bool,
    /// Job-name fragments whose failures may be made non-blocking with `continue-on-error`.
    pub optional_jobs: Vec<String>,
    /// Allow fixes that add third-party actions (always pinned by commit SHA).
    pub allow_third_party_actions: bool,
    /// Dispatch the fixed workflow on the fix branch and report the outcome on the PR.
    pub verify: bool,
    /// Prefix of the branches fixes are pushed to.
    pub branch_prefix: String,
    /// Branches besides the default branch whose `push`, `schedule` and
    /// `workflow_dispatch` runs heal may fix (protected release branches).
    pub trusted_branches: Vec<String>,
}

impl Default for HealConfig {
    fn default() -> Self {
        HealConfig {
            enabled: true,
            optional_jobs: vec!["arm64".into(), "experimental".into(), "nightly".into()],
            allow_third_party_actions: false,
            verify: true,
            branch_prefix: "ci-medic/heal".into(),
            trusted_branches: Vec::new(),
        }
    }
}

/// What `autorevert` may do once it has a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AutorevertMode {
    /// Decide and record, write nothing.
    #[default]
    Log,
    /// Restart workflows to confirm, never revert.
    Restart,
    /// Restart and notify the suspect's PR.
    Notify,
    /// Restart, notify and open revert pull requests.
    Revert,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AutorevertConfig {
    pub enabled: bool,
    /// Trunk workflows to watch (names as in the workflow's `name:`).
    pub workflows: Vec<String>,
    pub lookback_hours: u32,
    pub mode: AutorevertMode,
    pub source: OnlineSource,
    /// Failing commits (suspect included) a pattern needs before any action.
    pub min_failures: usize,
    /// Passing commits below the suspect a pattern needs.
    pub min_successes: usize,
    /// Restarts allowed per (workflow, commit).
    pub max_restarts: u32,
    /// Restarts dispatched in one run at most (the most useful first).
    pub max_restarts_per_tick: u32,
    /// Restarts dispatched in any 24 hours at most.
    pub max_restarts_per_day: u32,
    /// Minutes to wait after a restart before another one of the same pair.
    pub restart_backoff_minutes: u32,
    /// Extra commit-message patterns (regular expressions) that mark a revert.
    pub revert_patterns: Vec<String>,
    /// Issue to notify when the suspect has no pull request.
    pub tracking_issue: Option<u64>,
}

/// The most restarts of one workflow on one commit a config may allow.
pub const MAX_RESTARTS_CAP: u32 = 100;

impl Default for AutorevertConfig {
    fn default() -> Self {
        AutorevertConfig {
            enabled: false,
            workflows: Vec::new(),
            lookback_hours: 48,
            mode: AutorevertMode::Log,
            source: OnlineSource::Github,
            min_failures: 2,
            min_successes: 1,
            max_restarts: 12,
            max_restarts_per_tick: 6,
            max_restarts_per_day: 56,
            restart_backoff_minutes: 30,
            revert_patterns: Vec::new(),
            tracking_issue: None,
        }
    }
}

/// Connection to ClickHouse; the password comes from the `clickhouse-password`
/// input, never from the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ClickhouseConfig {
    pub url: String,
    pub user: String,
    pub database: String,
    /// `run` records the `workflow_run`, `workflow_job` and `push` events
    /// it is given (as `ci-medic ingest` does). Off by default: a
    /// repository that already runs `ingest` in its own workflow would read
    /// every failed job's log twice.
    pub record_events: bool,
}

impl Default for ClickhouseConfig {
    fn default() -> Self {
        ClickhouseConfig {
            url: String::new(),
            user: "default".into(),
            database: "ci_medic".into(),
            record_events: false,
        }
    }
}

/// A config error, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse and validate config text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        // An empty document (or one of only comments) means all defaults.
        if text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "---"
        }) {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            ConfigError {
                file: file.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: clean_serde_message(&e.to_string()),
            }
        })?;
        config.validate(file, text)?;
        Ok(config)
    }

    /// Checks serde cannot make: patterns that must compile, numbers in range.
    fn validate(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            file: file.to_string(),
            line: locate_key(text, key),
            column: None,
            message,
        };
        for (key, patterns) in [
            ("always-retry", &self.retry.always_retry),
            ("retryable-steps", &self.retry.retryable_steps),
            ("revert-patterns", &self.autorevert.revert_patterns),
        ] {
            for p in patterns {
                if let Err(e) = Regex::new(p) {
                    return Err(err(key, format!("`{key}`: invalid pattern {p:?}: {e}")));
                }
            }
        }
        if let Err(e) = self.rules() {
            return Err(err("rules", e.to_string()));
        }
        if let Err(e) = crate::automations::labels::Rules::compile(&self.labels)
            .and_then(|_| crate::automations::labels::required_patterns(&self.labels.required))
        {
            let last = e.key.rsplit('.').next().unwrap_or_default();
            let last = last.split('[').next().unwrap_or_default().to_string();
            return Err(err(&last, e.to_string()));
        }
        if let Some(Err(e)) = self.commands.as_ref().map(|c| c.validate()) {
            return Err(err("commands", e));
        }
        if self.autorevert.min_failures < 2 {
            return Err(err(
                "min-failures",
                "`autorevert.min-failures` must be at least 2: one failing commit is not a pattern"
                    .into(),
            ));
        }
        if self.autorevert.lookback_hours == 0 {
            return Err(err(
                "lookback-hours",
                "`autorevert.lookback-hours` must be at least 1".into(),
            ));
        }
        if self.autorevert.max_restarts > MAX_RESTARTS_CAP {
            return Err(err(
                "max-restarts",
                format!(
                    "`autorevert.max-restarts` must be at most {MAX_RESTARTS_CAP}: each is a whole workflow run, and the rate test counts the passes it would need one by one"
                ),
            ));
        }
        if let Some(ch) = &self.clickhouse
            && !ch.url.starts_with("http://")
            && !ch.url.starts_with("https://")
        {
            return Err(err(
                "url",
                format!("`clickhouse.url` must be an http(s) URL, got {:?}", ch.url),
            ));
        }
        Ok(())
    }

    /// The built-in log rules with the repository's own (`analyze.rules`).
    pub fn rules(&self) -> anyhow::Result<crate::analyze::RuleSet> {
        crate::analyze::RuleSet::with_extra(self.analyze.rules.clone())
            .map_err(|e| anyhow::anyhow!("`analyze.rules`: {e}"))
    }

    /// The compiled job-name patterns of `retry.always-retry`.
    pub fn always_retry(&self) -> Vec<Regex> {
        compile_all(&self.retry.always_retry)
    }

    /// The compiled step-name patterns of `retry.retryable-steps`.
    pub fn retryable_steps(&self) -> Vec<Regex> {
        compile_all(&self.retry.retryable_steps)
    }
}

/// Patterns were checked by `validate`; any that fail here are skipped.
fn compile_all(patterns: &[String]) -> Vec<Regex> {
    patterns.iter().filter_map(|p| Regex::new(p).ok()).collect()
}

/// serde's messages say "field"; users write "keys". Also drop the location
/// suffix the YAML library appends, since we print our own.
fn clean_serde_message(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    msg.replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
}

/// The 1-based line of the first `key:` in the text, for errors serde cannot place.
fn locate_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Does `name` (a workflow's name or its file path) pass a filter list?
/// An empty list lets everything through.
pub fn workflow_selected(filter: &[String], name: &str, path: Option<&str>) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            f == name || path.is_some_and(|p| p == f || p.rsplit('/').next() == Some(f.as_str()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("c.yml", ""), Ok(Config::default()));
        assert_eq!(
            Config::parse("c.yml", "# nothing\n---\n"),
            Ok(Config::default())
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "analyze:\n  enabled: true\nretry:\n  max-failed-jobz: 3\n";
        let e = Config::parse(".github/ci-medic.yml", text).err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(".github/ci-medic.yml:4:"), "{e}");
        assert!(e.contains("max-failed-jobz"), "{e}");
    }

    #[test]
    fn archive_limits_are_read_from_the_analyze_section() {
        let text = "analyze:\n  max-archive-bytes: 1048576\n  max-archive-entries: 500\n";
        let c = Config::parse("c.yml", text).unwrap();
        assert_eq!(
            c.analyze.archive_limits(),
            crate::logs::zip::ArchiveLimits {
                max_bytes: 1 << 20,
                max_entries: 500,
            }
        );
        assert_eq!(
            Config::default().analyze.archive_limits(),
            crate::logs::zip::ArchiveLimits::default()
        );
        // The documented example spells out the defaults.
        let example = include_str!("../examples/ci-medic.yml");
        let c = Config::parse("examples/ci-medic.yml", example).unwrap();
        assert_eq!(
            c.analyze.archive_limits(),
            crate::logs::zip::ArchiveLimits::default()
        );
    }

    #[test]
    fn a_restart_budget_past_the_cap_is_refused_with_its_line() {
        let text = "autorevert:\n  enabled: true\n  max-restarts: 100000\n";
        let e = Config::parse("c.yml", text).err();
        assert_eq!(e.as_ref().and_then(|e| e.line), Some(3), "{e:?}");
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("at most 100"), "{e}");
        let c = Config::parse("c.yml", "autorevert:\n  max-restarts: 100\n").unwrap();
        assert_eq!(c.autorevert.max_restarts, 100);
    }

    #[test]
    fn bad_pattern_is_located() {
        let text = "retry:\n  always-retry:\n    - 'linux ('\n";
        let e = Config::parse("c.yml", text).err();
        assert_eq!(e.as_ref().and_then(|e| e.line), Some(2));
    }

    #[test]
    fn trusted_branches_are_read() {
        let c = Config::parse("c.yml", "heal:\n  trusted-branches: [release/1.x]\n");
        assert_eq!(
            c.map(|c| c.heal.trusted_branches),
            Ok(vec!["release/1.x".to_string()])
        );
        assert!(Config::default().heal.trusted_branches.is_empty());
    }

    #[test]
    fn workflow_filter_matches_name_or_path() {
        let f = vec!["ci.yml".to_string()];
        assert!(workflow_selected(
            &f,
            "CI",
            Some(".github/workflows/ci.yml")
        ));
        assert!(!workflow_selected(
            &f,
            "CI",
            Some(".github/workflows/lint.yml")
        ));
        assert!(workflow_selected(&[], "anything", None));
    }
}
