//! `permissions`: who an actor is, what they may do, and who applied a label.
//!
//! The pure core is [`Access`] (a collaborator's level on the repository),
//! [`Action`] (what ci-medic lets people make it do) and [`may`], the one
//! rule between them; [`last_labeler`] reads who applied a label from an
//! issue's events. [`Permissions`] asks GitHub, and remembers each login's
//! access for the rest of the run, so handlers that ask about one person
//! cost one request between them.
//!
//! The action's own identity is [`Identity`]: heal trusts what ci-medic
//! itself did (it filed and labelled the issue), while the kill switch of
//! autorevert is for people and needs their access, whoever they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::github::types::{IssueEvent, PermissionInfo};
use crate::github::{Client, GithubError, Identity};

/// A login's access to the repository, lowest first, as
/// `GET /repos/{o}/{r}/collaborators/{user}/permission` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Access {
    /// Every level, lowest first.
    pub const ALL: [Access; 6] = [
        Access::None,
        Access::Read,
        Access::Triage,
        Access::Write,
        Access::Maintain,
        Access::Admin,
    ];

    /// Read `permission`, or the more precise `role_name` when it is a
    /// level; anything else (a custom role's name, a value GitHub adds
    /// later) counts as no access.
    pub fn from_info(info: &PermissionInfo) -> Access {
        info.role_name
            .as_deref()
            .and_then(Access::parse)
            .or_else(|| Access::parse(&info.permission))
            .unwrap_or(Access::None)
    }

    /// `admin`, `maintain`, `write`, `triage`, `read` or `none`.
    pub fn parse(text: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.name() == text)
    }

    /// The level's name as GitHub spells it.
    pub fn name(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Triage => "triage",
            Access::Write => "write",
            Access::Maintain => "maintain",
            Access::Admin => "admin",
        }
    }

    /// `admin`, `maintain` and `write` count as write access.
    pub fn can_write(self) -> bool {
        self >= Access::Write
    }
}

/// What someone can make ci-medic do. A new command (merge, a restricted
/// label, ciflow) adds its action here, with the access it needs in [`may`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Wake heal on an issue: re-label it, reopen it.
    TriggerHeal,
    /// Vouch for an issue's analysis by applying the `auto-heal` label.
    VouchByLabel,
    /// Stop autorevert by applying its kill-switch label to an open issue.
    KillAutorevert,
    /// `label` with labels anyone who triages may add.
    AddLabel,
    /// `label` with a label of `commands.label.restricted` (`ciflow/*`).
    AddRestrictedLabel,
    /// `retest` on someone else's pull request (authors may retest their own).
    Retest,
    /// `merge`, `merge -f`, `merge -i`.
    Merge,
    /// `rebase` (authors with a commit on the default branch may rebase their own).
    Rebase,
    /// `revert` a merged pull request.
    Revert,
    /// `cherry-pick` a merged pull request onto a release branch.
    CherryPick,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 10] = [
        Action::TriggerHeal,
        Action::VouchByLabel,
        Action::KillAutorevert,
        Action::AddLabel,
        Action::AddRestrictedLabel,
        Action::Retest,
        Action::Merge,
        Action::Rebase,
        Action::Revert,
        Action::CherryPick,
    ];

    /// The least access that allows the action.
    pub fn needs(self) -> Access {
        match self {
            Action::TriggerHeal | Action::VouchByLabel | Action::KillAutorevert => Access::Write,
            // GitHub's own rule for labelling: triage and up.
            Action::AddLabel => Access::Triage,
            Action::AddRestrictedLabel
            | Action::Retest
            | Action::Merge
            | Action::Rebase
            | Action::Revert
            | Action::CherryPick => Access::Write,
        }
    }

    /// Whether the action's own identity may take it without a lookup.
    /// Heal acts on what ci-medic itself did; the kill switch is a person's,
    /// so even the action's login (a machine user's token) needs access.
    pub fn ours_may(self) -> bool {
        match self {
            Action::TriggerHeal | Action::VouchByLabel => true,
            Action::KillAutorevert => false,
            // Commands the action's own identity writes are never acted on.
            Action::AddLabel
            | Action::AddRestrictedLabel
            | Action::Retest
            | Action::Merge
            | Action::Rebase
            | Action::Revert
            | Action::CherryPick => false,
        }
    }
}

/// Whether someone with `access` may take `action`.
pub fn may(access: Access, action: Action) -> bool {
    access >= action.needs()
}

/// The actor of the latest `labeled` event for `label`: who applied it
/// last. `None` when no event (or no actor, a deleted account) shows it.
pub fn last_labeler<'a>(events: &'a [IssueEvent], label: &str) -> Option<&'a str> {
    events
        .iter()
        .rev()
        .find(|e| e.event == "labeled" && e.label.as_ref().is_some_and(|l| l.name == label))
        .and_then(|e| e.actor.as_ref())
        .map(|a| a.login.as_str())
}

/// What the service remembers for one run: each login's access, looked up
/// at most once (logins ignore case).
#[derive(Default)]
pub struct Cache {
    access: Mutex<HashMap<String, Arc<OnceCell<Access>>>>,
}

impl Cache {
    fn slot(&self, login: &str) -> Arc<OnceCell<Access>> {
        let mut map = match self.access.lock() {
            Ok(m) => m,
            // A panic elsewhere cannot leave a half-written entry behind.
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(login.to_ascii_lowercase()).or_default().clone()
    }
}

/// The permissions service over the API client, for one run of ci-medic.
pub struct Permissions<'a> {
    client: &'a Client,
    cache: &'a Cache,
}

impl<'a> Permissions<'a> {
    /// The service asking through `client` (whose identity is the action's)
    /// and remembering in `cache`.
    pub fn new(client: &'a Client, cache: &'a Cache) -> Permissions<'a> {
        Permissions { client, cache }
    }

    /// The logins the action writes as.
    pub fn identity(&self) -> &Identity {
        self.client.identity()
    }

    /// Whether `login` is one the action writes as.
    pub fn is_ours(&self, login: &str) -> bool {
        self.identity().is_ours(login)
    }

    /// `login`'s access to the repository (none when not a collaborator),
    /// asked once per run. A failed lookup is not remembered.
    pub async fn access(&self, login: &str) -> Result<Access, GithubError> {
        let slot = self.cache.slot(login);
        slot.get_or_try_init(|| self.client.permission(login))
            .await
            .copied()
    }

    /// Whether `login` may take `action`: the action's own identity where
    /// the action allows it, anyone else by their access.
    pub async fn may(&self, login: &str, action: Action) -> Result<bool, GithubError> {
        if action.ours_may() && self.is_ours(login) {
            return Ok(true);
        }
        Ok(may(self.access(login).await?, action))
    }

    /// Who applied `label` to issue (or pull request) `number` last.
    pub async fn labeler(&self, number: u64, label: &str) -> Result<Option<String>, GithubError> {
        let events = self.client.issue_events(number).await?;
        Ok(last_labeler(&events, label).map(str::to_string))
    }

    /// Whether `label` on issue `number` was applied last by someone who may
    /// take `action`: who applied it (`None` when no event shows it), and
    /// the answer (`false` without a labeler).
    pub async fn labeled_by_one_who_may(
        &self,
        number: u64,
        label: &str,
        action: Action,
    ) -> Result<(Option<String>, bool), GithubError> {
        match self.labeler(number, label).await? {
            Some(who) => {
                let allowed = self.may(&who, action).await?;
                Ok((Some(who), allowed))
            }
            None => Ok((None, false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::ACTIONS_BOT;
    use crate::github::types::{LabelInfo, UserInfo};

    fn ev(event: &str, label: &str, who: Option<&str>) -> IssueEvent {
        IssueEvent {
            event: event.into(),
            actor: who.map(|w| UserInfo {
                login: w.into(),
                kind: None,
            }),
            label: Some(LabelInfo { name: label.into() }),
            created_at: None,
        }
    }

    #[test]
    fn write_maintain_and_admin_may_everything_triage_only_labels_the_rest_nothing() {
        for access in Access::ALL {
            let writer = matches!(access, Access::Write | Access::Maintain | Access::Admin);
            assert_eq!(access.can_write(), writer, "{access:?}");
            for action in Action::ALL {
                let allowed = writer || (access == Access::Triage && action == Action::AddLabel);
                assert_eq!(may(access, action), allowed, "{access:?} {action:?}");
            }
        }
    }

    #[test]
    fn the_actions_own_identity_vouches_for_heal_not_for_the_kill_switch() {
        assert!(Action::TriggerHeal.ours_may());
        assert!(Action::VouchByLabel.ours_may());
        assert!(!Action::KillAutorevert.ours_may());
    }

    #[test]
    fn levels_are_read_as_plain_text_preferring_the_role_name() {
        let info = |permission: &str, role: Option<&str>| PermissionInfo {
            permission: permission.into(),
            role_name: role.map(str::to_string),
        };
        for access in Access::ALL {
            assert_eq!(Access::parse(access.name()), Some(access));
            assert_eq!(Access::from_info(&info(access.name(), None)), access);
        }
        // `permission` says write for maintainers; the role is precise.
        assert_eq!(
            Access::from_info(&info("write", Some("maintain"))),
            Access::Maintain
        );
        // A custom role's name falls back to `permission`.
        assert_eq!(
            Access::from_info(&info("write", Some("release-manager"))),
            Access::Write
        );
        // Unknown values are no access, never a guess.
        assert_eq!(Access::from_info(&info("owner", None)), Access::None);
        assert_eq!(Access::parse("Admin"), None);
        assert_eq!(Access::parse(""), None);
    }

    #[test]
    fn the_latest_labeled_event_names_the_labeler() {
        let events = vec![
            ev("labeled", "auto-heal", Some("octocat")),
            ev("unlabeled", "auto-heal", Some("octocat")),
            ev("labeled", "auto-heal", Some("mallory")),
            ev("labeled", "bug", Some("octocat")),
            ev("unlabeled", "auto-heal", Some("octocat")),
        ];
        assert_eq!(last_labeler(&events, "auto-heal"), Some("mallory"));
        assert_eq!(last_labeler(&events, "bug"), Some("octocat"));
        assert_eq!(last_labeler(&events, "nope"), None);
    }

    #[test]
    fn no_labeled_event_means_no_labeler() {
        assert_eq!(last_labeler(&[], "auto-heal"), None);
        let events = vec![
            ev("unlabeled", "auto-heal", Some("octocat")),
            ev("labeled", "bug", Some("octocat")),
        ];
        assert_eq!(last_labeler(&events, "auto-heal"), None);
        // The latest labelling by a deleted account shows no one, and an
        // earlier labeller does not stand in for it.
        let ghost = vec![
            ev("labeled", "auto-heal", Some("octocat")),
            ev("labeled", "auto-heal", None),
        ];
        assert_eq!(last_labeler(&ghost, "auto-heal"), None);
        // Label names are exact.
        let events = vec![ev("labeled", "Auto-Heal", Some("octocat"))];
        assert_eq!(last_labeler(&events, "auto-heal"), None);
    }

    #[test]
    fn a_bot_labeler_is_named_like_anyone_and_known_as_ours_by_the_identity() {
        let events = vec![
            ev("labeled", "auto-heal", Some("octocat")),
            ev("labeled", "auto-heal", Some(ACTIONS_BOT)),
        ];
        let who = last_labeler(&events, "auto-heal");
        assert_eq!(who, Some(ACTIONS_BOT));
        let identity = Identity::new(Some("ci-medic-app[bot]".to_string()));
        assert!(who.is_some_and(|w| identity.is_ours(w)));
        let other_bot = vec![ev("labeled", "auto-heal", Some("dependabot[bot]"))];
        let who = last_labeler(&other_bot, "auto-heal");
        assert_eq!(who, Some("dependabot[bot]"));
        assert!(!who.is_some_and(|w| identity.is_ours(w)));
    }

    #[test]
    fn the_cache_keys_logins_without_case() {
        let cache = Cache::default();
        let a = cache.slot("OctoCat");
        let b = cache.slot("octocat");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &cache.slot("mallory")));
    }
}
