//! The `commands` section of `.github/ci-medic.yml`: who the bot answers to
//! and the rules its commands follow. Read from the default branch only, so
//! a pull request never changes the rules that judge it.

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::parse::DEFAULT_HANDLE;

/// The label a pull request carries while a merge waits for its checks.
pub const LABEL_MERGING: &str = "merging";
/// The label put on a pull request ci-medic merged.
pub const LABEL_MERGED: &str = "merged";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CommandsConfig {
    /// Act on comment commands at all.
    pub enabled: bool,
    /// The handles a command starts with (`@ci-medic`, `@pytorchbot`).
    pub handles: Vec<String>,
    pub label: LabelCommandConfig,
    pub merge: MergeCommandConfig,
    pub revert: RevertCommandConfig,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        CommandsConfig {
            enabled: true,
            handles: vec![DEFAULT_HANDLE.to_string()],
            label: LabelCommandConfig::default(),
            merge: MergeCommandConfig::default(),
            revert: RevertCommandConfig::default(),
        }
    }
}

impl CommandsConfig {
    /// The section when it is present and enabled: what turns the command
    /// handlers on.
    pub fn enabled_in(config: &crate::config::Config) -> Option<&CommandsConfig> {
        config.commands.as_ref().filter(|c| c.enabled)
    }

    /// The section's settings (the defaults when it is absent).
    pub fn of(config: &crate::config::Config) -> CommandsConfig {
        config.commands.clone().unwrap_or_default()
    }

    /// The configured handles, normalised (`@` added, blanks dropped); the
    /// default handle when none is left.
    pub fn handles(&self) -> Vec<String> {
        let handles: Vec<String> = self
            .handles
            .iter()
            .filter_map(|h| super::normalize_handle(h))
            .collect();
        if handles.is_empty() {
            vec![DEFAULT_HANDLE.to_string()]
        } else {
            handles
        }
    }

    /// Checks serde cannot make: every restricted-label pattern compiles.
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.label.restricted {
            Glob::new(p)
                .map_err(|e| format!("`commands.label.restricted`: invalid pattern {p:?}: {e}"))?;
        }
        if !matches!(self.merge.method.as_str(), "merge" | "squash" | "rebase") {
            return Err(format!(
                "`commands.merge.method` must be merge, squash or rebase, got {:?}",
                self.merge.method
            ));
        }
        super::merge_rules::validate(&self.merge.rules)
            .map_err(|(i, e)| format!("`commands.merge.rules[{i}]`: {e}"))?;
        if self.merge.deadline_hours == 0 {
            return Err("`commands.merge.deadline-hours` must be at least 1".into());
        }
        Ok(())
    }
}

/// How `revert` lands the revert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevertMode {
    /// A pull request from `ci-medic/revert-N` into the default branch.
    #[default]
    PullRequest,
    /// A commit straight onto the default branch (the token must be allowed
    /// to push there), only if it still points where it was read.
    Direct,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RevertCommandConfig {
    pub mode: RevertMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LabelCommandConfig {
    /// Label patterns (`*` globs) only people with write access may add.
    pub restricted: Vec<String>,
}

impl Default for LabelCommandConfig {
    fn default() -> Self {
        LabelCommandConfig {
            restricted: vec!["ciflow/*".to_string()],
        }
    }
}

impl LabelCommandConfig {
    /// Whether adding `label` needs write access (label names ignore case).
    pub fn is_restricted(&self, label: &str) -> bool {
        let label = label.to_lowercase();
        self.restricted
            .iter()
            .filter_map(|p| Glob::new(&p.to_lowercase()).ok())
            .map(|g| g.compile_matcher())
            .any(|m: GlobMatcher| m.is_match(&label))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MergeCommandConfig {
    /// `squash`, `merge` or `rebase`.
    pub method: String,
    /// Base branches a pull request may be merged into; empty means the
    /// default branch only.
    pub branches: Vec<String>,
    /// How long a merge waits for pending checks before it gives up.
    pub deadline_hours: u64,
    /// Merge rules (first match wins); when empty, a
    /// `.github/merge_rules.yaml` in PyTorch's format is read instead.
    pub rules: Vec<super::merge_rules::MergeRule>,
    /// Failing checks our Dr. CI check run classifies as flaky, broken
    /// trunk or unstable that a merge tolerates, at most (0: none). With
    /// merge rules, only a rule with `ignore-flaky-failures` tolerates any.
    pub ignorable_failures: u32,
}

impl Default for MergeCommandConfig {
    fn default() -> Self {
        MergeCommandConfig {
            method: "squash".to_string(),
            branches: Vec::new(),
            deadline_hours: 6,
            rules: Vec::new(),
            ignorable_failures: 10,
        }
    }
}

impl MergeCommandConfig {
    /// Whether a pull request into `base` may be merged.
    pub fn allows_base(&self, base: &str, default_branch: &str) -> bool {
        if self.branches.is_empty() {
            base == default_branch
        } else {
            self.branches.iter().any(|b| b == base)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_labels_match_globs_without_case() {
        let c = LabelCommandConfig::default();
        assert!(c.is_restricted("ciflow/trunk"));
        assert!(c.is_restricted("CIFlow/Trunk"));
        assert!(!c.is_restricted("ciflow"));
        assert!(!c.is_restricted("bug"));
        assert!(!c.is_restricted("topic: ciflow/x"));
    }

    #[test]
    fn handles_are_normalised_and_never_empty() {
        let c = CommandsConfig {
            handles: vec!["pytorchbot".into(), " ".into(), "@ci-medic".into()],
            ..CommandsConfig::default()
        };
        assert_eq!(c.handles(), ["@pytorchbot", "@ci-medic"]);
        let none = CommandsConfig {
            handles: Vec::new(),
            ..CommandsConfig::default()
        };
        assert_eq!(none.handles(), [DEFAULT_HANDLE]);
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut c = CommandsConfig::default();
        c.label.restricted.push("ci[flow".into());
        assert!(c.validate().is_err());
        let mut c = CommandsConfig::default();
        c.merge.method = "octopus".into();
        assert!(c.validate().is_err());
        assert!(CommandsConfig::default().validate().is_ok());
    }
}
