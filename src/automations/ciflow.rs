//! ciflow triggers: allowed `ciflow/*` labels on a pull request become tags
//! `ciflow/<x>/<number>` at its head, so workflows listening for pushes of
//! those tags run. Pure: what to write, from what was gathered.

use serde::{Deserialize, Serialize};

/// `.github/ci-medic.yml` `ciflow:`; the section being present turns the
/// handler on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CiflowConfig {
    /// The allowed labels (`ciflow/trunk`); other `ciflow/` labels get a
    /// comment and no tag.
    pub labels: Vec<String>,
    /// `tag` (the default): push `ciflow/<x>/<number>` tags; `dispatch`:
    /// start `workflows` by `workflow_dispatch` instead, which the workflow
    /// token can do (its tag pushes start no workflow).
    pub mode: Mode,
    /// `dispatch` mode: the workflows (file names or ids) to start.
    pub workflows: Vec<String>,
    /// `dispatch` mode: the input that receives the head SHA (`sha`).
    pub sha_input: Option<String>,
}

/// How a ciflow label starts CI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Tag,
    Dispatch,
}

/// The input of a dispatched workflow that receives the head SHA, unless
/// `ciflow.sha-input` names another.
pub const DEFAULT_SHA_INPUT: &str = "sha";

impl CiflowConfig {
    /// The input name for the head SHA.
    pub fn sha_input(&self) -> &str {
        self.sha_input.as_deref().unwrap_or(DEFAULT_SHA_INPUT)
    }
}

/// Whether the `pull_request` runs of a head commit were approved: there
/// is at least one, and none waits for approval (`action_required`).
/// Meaningful where the repository requires approval of outside
/// contributors' runs (Settings, Actions, "Require approval for all
/// outside collaborators"): there, a run that is not waiting was approved.
pub fn runs_approved<'a>(
    conclusions: impl IntoIterator<Item = Option<&'a crate::event::Conclusion>>,
) -> bool {
    let mut any = false;
    for c in conclusions {
        if c == Some(&crate::event::Conclusion::ActionRequired) {
            return false;
        }
        any = true;
    }
    any
}

/// Labels starting with this are ciflow labels.
pub const PREFIX: &str = "ciflow/";

/// What happened to the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Labeled(String),
    Unlabeled(String),
    /// New commits, or reopened: every tag follows the head.
    Moved,
    Closed,
    /// The runs of a commit were approved: every tag goes to that commit.
    Approved,
}

/// One ref write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefWrite {
    /// Point the tag at the head.
    Set(String),
    Delete(String),
}

/// What the pull request gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub refs: Vec<RefWrite>,
    /// Allowed labels whose tags wait for an author with write access.
    pub waiting: Vec<String>,
    /// `ciflow/` labels outside the allow-list.
    pub unknown: Vec<String>,
}

/// Whether a label is a ciflow label at all.
pub fn is_ciflow(label: &str) -> bool {
    label.starts_with(PREFIX)
}

/// Characters a label may have to name a tag: letters, digits, `-_./`,
/// with no empty, `.`-led or `.lock` component. Anything else never
/// becomes a ref, whatever the config says.
pub fn ref_safe(label: &str) -> bool {
    !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && label
            .split('/')
            .all(|p| !p.is_empty() && !p.starts_with('.') && !p.ends_with(".lock"))
}

/// The tag of `label` on pull request `number`: `tags/ciflow/x/12`.
pub fn tag(label: &str, number: u64) -> String {
    format!("tags/{label}/{number}")
}

fn allowed(config: &CiflowConfig, label: &str) -> bool {
    is_ciflow(label) && ref_safe(label) && config.labels.iter().any(|l| l == label)
}

/// The writes for `change` on pull request `number`, whose current labels
/// are `labels`. `author_may` says whether the author has write access:
/// without it, no tag is ever set (they stay waiting).
pub fn decide(
    config: &CiflowConfig,
    number: u64,
    change: &Change,
    labels: &[String],
    author_may: bool,
) -> Decision {
    let mut d = Decision::default();
    let set = |d: &mut Decision, label: &str| {
        if author_may {
            d.refs.push(RefWrite::Set(tag(label, number)));
        } else {
            d.waiting.push(label.to_string());
        }
    };
    match change {
        Change::Labeled(l) if is_ciflow(l) => {
            if allowed(config, l) {
                set(&mut d, l);
            } else {
                d.unknown.push(l.clone());
            }
        }
        Change::Unlabeled(l) if allowed(config, l) => {
            d.refs.push(RefWrite::Delete(tag(l, number)));
        }
        Change::Moved | Change::Approved => {
            for l in labels.iter().filter(|l| allowed(config, l)) {
                set(&mut d, l);
            }
        }
        Change::Closed => {
            for l in labels.iter().filter(|l| allowed(config, l)) {
                d.refs.push(RefWrite::Delete(tag(l, number)));
            }
        }
        Change::Labeled(_) | Change::Unlabeled(_) => {}
    }
    d
}

/// Whether the decision needs the author's access (a tag might be set).
pub fn needs_access(config: &CiflowConfig, change: &Change, labels: &[String]) -> bool {
    match change {
        Change::Labeled(l) => allowed(config, l),
        Change::Moved | Change::Approved => labels.iter().any(|l| allowed(config, l)),
        Change::Unlabeled(_) | Change::Closed => false,
    }
}

/// The pull request as it is when its tags are about to change: read back
/// in `tag` mode, because a delivery may arrive late or twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullNow {
    pub open: bool,
    pub head_sha: String,
    pub labels: Vec<String>,
}

/// Why a delivery about `head_sha` no longer says how the pull request is
/// (`None`: it still does). A redelivered `labeled` after a push would move
/// a tag back to an older commit, after an `unlabeled` would set it again;
/// a redelivered `unlabeled` or `closed` would delete a tag the pull request
/// has again. The delivery that made the newer state sets the tags.
/// `Approved` tags the approved run's commit by design, whatever the head.
pub fn stale(change: &Change, head_sha: &str, now: &PullNow) -> Option<String> {
    let moved = || {
        (now.head_sha != head_sha).then(|| {
            format!(
                "the head moved to {} since this delivery (of {head_sha})",
                now.head_sha
            )
        })
    };
    let closed = || (!now.open).then(|| "it was closed since this delivery".to_string());
    match change {
        Change::Labeled(l) => closed().or_else(moved).or_else(|| {
            (!now.labels.contains(l)).then(|| format!("{l} was removed since this delivery"))
        }),
        Change::Moved => closed().or_else(moved),
        Change::Unlabeled(l) => now
            .labels
            .contains(l)
            .then(|| format!("{l} was added again since this delivery")),
        Change::Closed => now
            .open
            .then(|| "it was reopened since this delivery".to_string()),
        Change::Approved => None,
    }
}

/// The hidden kind of the `dispatch` mode record, on the last line of the
/// pull request's ciflow comment.
pub const DISPATCHED_KIND: &str = "ciflow-dispatched";

/// Dispatches remembered per pull request: the newest are kept. Each push
/// dispatches every configured workflow once, so this is dozens of pushes
/// for a handful of workflows; only a delivery older than all of them could
/// dispatch again.
pub const MAX_DISPATCHES_KEPT: usize = 100;

/// `dispatch` mode: the workflows already started for a pull request, as
/// `(head SHA, workflow)` pairs, oldest first. Kept hidden in ci-medic's own
/// ciflow comment, so a delivery seen twice dispatches once. (The runs API
/// cannot tell: a dispatched run's `head_sha` is the tip of the branch it
/// runs on, not the pull request's head passed as input, and the run shows
/// up only some seconds after the dispatch.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatched {
    pub runs: Vec<(String, String)>,
}

impl Dispatched {
    /// The record hidden in `body` (a comment of ours); empty when none.
    pub fn read(body: &str) -> Dispatched {
        crate::report::hidden::read(body, DISPATCHED_KIND).unwrap_or_default()
    }

    pub fn contains(&self, sha: &str, workflow: &str) -> bool {
        self.runs.iter().any(|(s, w)| s == sha && w == workflow)
    }

    /// Remember `workflow` started for `sha`, dropping the oldest beyond
    /// [`MAX_DISPATCHES_KEPT`].
    pub fn add(&mut self, sha: &str, workflow: &str) {
        if !self.contains(sha, workflow) {
            self.runs.push((sha.to_string(), workflow.to_string()));
        }
        let over = self.runs.len().saturating_sub(MAX_DISPATCHES_KEPT);
        self.runs.drain(..over);
    }

    /// The hidden line that carries the record.
    pub fn line(&self) -> String {
        crate::report::hidden::line(DISPATCHED_KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CiflowConfig {
        CiflowConfig {
            labels: vec!["ciflow/trunk".into(), "ciflow/periodic".into()],
            ..CiflowConfig::default()
        }
    }

    #[test]
    fn the_dispatch_record_round_trips_stays_bounded_and_only_from_the_last_line() {
        let mut d = Dispatched::default();
        d.add("abc", "trunk.yml");
        d.add("abc", "trunk.yml");
        assert_eq!(d.runs.len(), 1);
        let body = format!("<!-- ci-medic:ciflow:5 -->\ntext\n{}\n", d.line());
        let back = Dispatched::read(&body);
        assert!(back.contains("abc", "trunk.yml"));
        assert!(!back.contains("abc", "slow.yml"));
        assert!(!back.contains("def", "trunk.yml"));
        // Quoted above other text, it is not the record.
        let quoted = format!("{}\nmore\n", d.line());
        assert_eq!(Dispatched::read(&quoted), Dispatched::default());
        for i in 0..MAX_DISPATCHES_KEPT + 5 {
            d.add(&format!("sha{i}"), "trunk.yml");
        }
        assert_eq!(d.runs.len(), MAX_DISPATCHES_KEPT);
        assert!(!d.contains("abc", "trunk.yml"));
        assert!(d.contains(&format!("sha{}", MAX_DISPATCHES_KEPT + 4), "trunk.yml"));
    }

    #[test]
    fn runs_are_approved_when_some_exist_and_none_waits() {
        assert!(!runs_approved([]));
        use crate::event::Conclusion;
        assert!(runs_approved([Some(&Conclusion::Success), None]));
        assert!(!runs_approved([
            Some(&Conclusion::Success),
            Some(&Conclusion::ActionRequired)
        ]));
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_allowed_label_tags_the_head_only_for_a_writer() {
        let l = labels(&["ciflow/trunk"]);
        let ch = Change::Labeled("ciflow/trunk".into());
        let d = decide(&config(), 7, &ch, &l, true);
        assert_eq!(d.refs, [RefWrite::Set("tags/ciflow/trunk/7".into())]);
        let d = decide(&config(), 7, &ch, &l, false);
        assert!(d.refs.is_empty());
        assert_eq!(d.waiting, ["ciflow/trunk"]);
    }

    #[test]
    fn unknown_ciflow_labels_get_no_tag_and_others_are_ignored() {
        let d = decide(
            &config(),
            7,
            &Change::Labeled("ciflow/evil".into()),
            &[],
            true,
        );
        assert!(d.refs.is_empty());
        assert_eq!(d.unknown, ["ciflow/evil"]);
        let d = decide(&config(), 7, &Change::Labeled("bug".into()), &[], true);
        assert_eq!(d, Decision::default());
    }

    #[test]
    fn tags_follow_the_head_and_go_with_the_label_or_the_close() {
        let l = labels(&["ciflow/trunk", "ciflow/periodic", "ciflow/evil", "bug"]);
        let d = decide(&config(), 3, &Change::Moved, &l, true);
        assert_eq!(
            d.refs,
            [
                RefWrite::Set("tags/ciflow/trunk/3".into()),
                RefWrite::Set("tags/ciflow/periodic/3".into())
            ]
        );
        let d = decide(&config(), 3, &Change::Closed, &l, false);
        assert_eq!(d.refs.len(), 2);
        assert!(matches!(&d.refs[0], RefWrite::Delete(t) if t == "tags/ciflow/trunk/3"));
        let d = decide(
            &config(),
            3,
            &Change::Unlabeled("ciflow/periodic".into()),
            &[],
            false,
        );
        assert_eq!(d.refs, [RefWrite::Delete("tags/ciflow/periodic/3".into())]);
        assert!(!needs_access(&config(), &Change::Closed, &l));
        assert!(needs_access(&config(), &Change::Moved, &l));
        assert!(!needs_access(&config(), &Change::Moved, &labels(&["bug"])));
    }

    #[test]
    fn a_late_or_repeated_delivery_does_not_undo_a_newer_state() {
        let now = |open: bool, head: &str, l: &[&str]| PullNow {
            open,
            head_sha: head.into(),
            labels: labels(l),
        };
        let lab = Change::Labeled("ciflow/trunk".into());
        let unlab = Change::Unlabeled("ciflow/trunk".into());
        // Still how it is: nothing stale.
        assert_eq!(stale(&lab, "a", &now(true, "a", &["ciflow/trunk"])), None);
        assert_eq!(stale(&Change::Moved, "a", &now(true, "a", &[])), None);
        assert_eq!(stale(&unlab, "a", &now(true, "b", &[])), None);
        assert_eq!(stale(&Change::Closed, "a", &now(false, "a", &[])), None);
        // Pushed, unlabelled, labelled again, reopened or closed since.
        let pushed = stale(&lab, "a", &now(true, "b", &["ciflow/trunk"]));
        assert!(pushed.is_some_and(|w| w.contains("moved to b")));
        assert!(stale(&lab, "a", &now(true, "a", &[])).is_some());
        assert!(stale(&lab, "a", &now(false, "a", &["ciflow/trunk"])).is_some());
        assert!(stale(&Change::Moved, "a", &now(true, "b", &[])).is_some());
        assert!(stale(&unlab, "a", &now(true, "a", &["ciflow/trunk"])).is_some());
        assert!(stale(&Change::Closed, "a", &now(true, "a", &[])).is_some());
        // An approval tags its run's commit, whatever the head is now.
        assert_eq!(stale(&Change::Approved, "a", &now(true, "b", &[])), None);
    }

    #[test]
    fn labels_that_cannot_name_a_ref_never_become_one_even_when_allowed() {
        for bad in [
            "ciflow/a b",
            "ciflow/../x",
            "ciflow/x.lock",
            "ciflow//x",
            "ciflow/x/",
            "ciflow/x~1",
            "ciflow/ü",
        ] {
            assert!(!ref_safe(bad), "{bad}");
            let c = CiflowConfig {
                labels: vec![bad.into()],
                ..CiflowConfig::default()
            };
            let d = decide(&c, 1, &Change::Labeled(bad.into()), &[], true);
            assert!(d.refs.is_empty(), "{bad}");
        }
        assert!(ref_safe("ciflow/trunk-2.0_x"));
    }
}
