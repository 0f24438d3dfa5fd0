//! The `crcr` section of `.github/ci-medic.yml`.

use serde::{Deserialize, Serialize};

use super::oidc::GITHUB_ISSUER;

/// Where the allowlist is read from (the default branch).
pub const DEFAULT_ALLOWLIST: &str = ".github/crcr-allowlist.yml";
/// The audience a downstream job asks its OIDC token for.
pub const DEFAULT_AUDIENCE: &str = "ci-medic-crcr";
/// Results one downstream repository may report per hour. A busy backend
/// runs a few dozen jobs on each of a few dozen pushes an hour; ten a minute
/// is far above that and far below what would flood ClickHouse or the PRs.
pub const DEFAULT_MAX_RESULTS_PER_HOUR: u32 = 600;

/// What the merge gate does when it cannot tell the L4 repositories (the
/// allowlist cannot be read or parsed, or an API call failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Merge as if no downstream repository blocked (as upstream does), and
    /// say so in the reply.
    #[default]
    Open,
    /// Refuse the merge, and say why.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CrcrConfig {
    pub enabled: bool,
    /// The allowlist file, read from the default branch.
    pub allowlist: String,
    /// The OIDC issuer whose tokens prove a result's origin.
    pub oidc_issuer: String,
    /// The audience those tokens must be for.
    pub audience: String,
    /// The merge gate on an allowlist or API error: `open` or `closed`.
    pub on_error: OnError,
    /// Results accepted from one downstream repository per hour; more are
    /// refused.
    pub max_results_per_hour: u32,
}

impl Default for CrcrConfig {
    fn default() -> Self {
        CrcrConfig {
            enabled: true,
            allowlist: DEFAULT_ALLOWLIST.into(),
            oidc_issuer: GITHUB_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            on_error: OnError::Open,
            max_results_per_hour: DEFAULT_MAX_RESULTS_PER_HOUR,
        }
    }
}

impl CrcrConfig {
    /// The section, when present and enabled.
    pub fn of(config: &crate::config::Config) -> Option<&CrcrConfig> {
        config.crcr.as_ref().filter(|c| c.enabled)
    }
}
