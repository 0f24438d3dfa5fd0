//! The `crcr` section of `.github/ci-medic.yml`.

use serde::{Deserialize, Serialize};

use super::oidc::GITHUB_ISSUER;

/// Where the allowlist is read from (the default branch).
pub const DEFAULT_ALLOWLIST: &str = ".github/crcr-allowlist.yml";
/// The audience a downstream job asks its OIDC token for.
pub const DEFAULT_AUDIENCE: &str = "ci-medic-crcr";

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
}

impl Default for CrcrConfig {
    fn default() -> Self {
        CrcrConfig {
            enabled: true,
            allowlist: DEFAULT_ALLOWLIST.into(),
            oidc_issuer: GITHUB_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        }
    }
}

impl CrcrConfig {
    /// The section, when present and enabled.
    pub fn of(config: &crate::config::Config) -> Option<&CrcrConfig> {
        config.crcr.as_ref().filter(|c| c.enabled)
    }
}
