//! The `drci` section of `.github/ci-medic.yml`: the live Dr. CI handler's
//! settings, and the classification settings a snapshot carries.

use serde::{Deserialize, Serialize};

use super::snapshot::{DEFAULT_SHARD_PATTERN, DrciConfig};

/// The default name of the check run.
pub const DEFAULT_CHECK_NAME: &str = "Dr. CI";

/// The label of the open issues that mark jobs unstable (`UNSTABLE <job>`)
/// or disabled (`DISABLED <job>`). Only people who may triage can
/// label an issue, so a title alone (anyone can open an issue) counts for
/// nothing.
pub const DEFAULT_UNSTABLE_LABEL: &str = "unstable";

/// `drci:` in the config. The section's presence turns Dr. CI on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DrciSection {
    /// `false` turns Dr. CI off while keeping the section.
    pub enabled: bool,
    /// The check run on the head SHA (empty: none).
    pub check_name: String,
    /// Whether an UNCLASSIFIED failure (the merge base never ran the job)
    /// fails the check run, as a NEW one does.
    pub fail_on_unclassified: bool,
    /// The handles that start a comment command (`@ci-medic drci`); empty
    /// means the `commands` section's handles, else `@ci-medic`.
    pub handles: Vec<String>,
    /// The label of `UNSTABLE …` and `DISABLED …` issues (empty: none read).
    pub unstable_label: String,
    /// Read retry's flaky memory (the `retry.history` source) for the
    /// workflows with failed jobs.
    pub flaky_memory: bool,
    /// Job-name regexes of unstable jobs.
    pub unstable: Vec<String>,
    /// Job-name regexes of lint-like jobs (always NEW when failing).
    pub lint: Vec<String>,
    /// Regex whose matches are removed from job names to compare shards.
    pub shard_pattern: String,
    /// How far back failures elsewhere count as evidence of flakiness.
    pub flaky_window_days: u32,
    /// On `schedule`: open pull requests (most recently updated first)
    /// whose comment is looked at for a stale "pending", at most (0: no
    /// sweep).
    pub sweep_max_pulls: usize,
}

/// Default [`DrciSection::sweep_max_pulls`].
pub const DEFAULT_SWEEP_MAX_PULLS: usize = 20;

impl Default for DrciSection {
    fn default() -> Self {
        let c = DrciConfig::default();
        DrciSection {
            enabled: true,
            check_name: DEFAULT_CHECK_NAME.into(),
            fail_on_unclassified: true,
            handles: Vec::new(),
            unstable_label: DEFAULT_UNSTABLE_LABEL.into(),
            flaky_memory: true,
            unstable: c.unstable,
            lint: c.lint,
            shard_pattern: DEFAULT_SHARD_PATTERN.into(),
            flaky_window_days: c.flaky_window_days,
            sweep_max_pulls: DEFAULT_SWEEP_MAX_PULLS,
        }
    }
}

impl DrciSection {
    /// The classification settings, as a snapshot carries them.
    pub fn classification(&self) -> DrciConfig {
        DrciConfig {
            unstable: self.unstable.clone(),
            lint: self.lint.clone(),
            shard_pattern: self.shard_pattern.clone(),
            flaky_window_days: self.flaky_window_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commented `drci:` block of `examples/ci-medic.yml`, uncommented,
    /// is the defaults it claims to be.
    #[test]
    fn the_documented_example_spells_out_the_defaults() {
        let example = include_str!("../../examples/ci-medic.yml");
        let block: Vec<&str> = example
            .lines()
            .skip_while(|l| *l != "# drci:")
            .take_while(|l| l.starts_with('#') && !l.starts_with("# ---"))
            .map(|l| l.strip_prefix("# ").unwrap_or(""))
            .collect();
        assert!(block.len() > 5, "the example has a drci block");
        let config = crate::config::Config::parse("example", &block.join("\n")).unwrap();
        assert_eq!(config.drci, Some(DrciSection::default()));
        assert_eq!(
            DrciSection::default().classification().shard_pattern,
            DEFAULT_SHARD_PATTERN
        );
    }
}
