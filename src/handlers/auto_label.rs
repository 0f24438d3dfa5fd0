//! Auto-label: `labels.rules` on pull requests and issues (changed files,
//! title, body, author, labels implying labels), and labels reserved for the
//! other kind removed with a one-line explanation.
//!
//! Needs `pull_request_target` (or `pull_request` from the same
//! repository: a fork's token cannot write labels) and `issues`.

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::labels::{LabelChanges, Rules, Subject};
use crate::config::Config;
use crate::event::Event;
use crate::github::marker::marker;
use crate::plan::{Plan, StepOptions, Write};
use crate::report::markdown::code;

/// The marker kind of the comment explaining removed labels.
pub const MISPLACED_KIND: &str = "misplaced-labels";

/// Pull-request actions that may change what the rules say.
const PR_ACTIONS: &[&str] = &[
    "opened",
    "reopened",
    "synchronize",
    "edited",
    "ready_for_review",
    "converted_to_draft",
    "labeled",
];

/// Issue actions that may change what the rules say.
const ISSUE_ACTIONS: &[&str] = &["opened", "reopened", "edited", "labeled", "transferred"];

/// The pull request or issue an event is about, from its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub number: u64,
    pub is_pull: bool,
    pub draft: bool,
    pub author: String,
    /// The head commit (pull requests).
    pub head_sha: String,
}

/// The pull request or issue of a `pull_request` or `issues` event whose
/// action is one of `pr_actions` / `issue_actions`.
pub fn target(event: &Event, pr_actions: &[&str], issue_actions: &[&str]) -> Option<Target> {
    match event {
        Event::PullRequest(e) if pr_actions.contains(&e.action.as_str()) => Some(Target {
            number: e.pull_request.number,
            is_pull: true,
            draft: e.pull_request.draft.unwrap_or(false),
            author: e.pull_request.user.login.clone(),
            head_sha: e.pull_request.head.sha.clone(),
        }),
        Event::Issues(e)
            if issue_actions.contains(&e.action.as_str()) && e.issue.pull_request.is_none() =>
        {
            Some(Target {
                number: e.issue.number,
                is_pull: false,
                draft: false,
                author: e.issue.user.login.clone(),
                head_sha: String::new(),
            })
        }
        _ => None,
    }
}

pub struct AutoLabel;

/// What the rules decide from: the subject as it is now, and the
/// repository's labels when something is to be added.
#[derive(Debug, Clone)]
pub struct LabelFacts {
    pub subject: Subject,
    pub repo_labels: Option<Vec<String>>,
}

impl AutoLabel {
    /// The changes, keeping only labels the repository has.
    pub fn changes(facts: &LabelFacts, config: &Config) -> Result<LabelChanges> {
        let rules = Rules::compile(&config.labels)?;
        let mut changes = rules.decide(&facts.subject);
        if let Some(existing) = &facts.repo_labels {
            changes = changes.only_existing(existing);
        }
        Ok(changes)
    }
}

impl Handler for AutoLabel {
    const NAME: &'static str = "auto-label";
    type Input = Target;
    type Facts = LabelFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Target> {
        if !config.labels.auto_enabled() {
            return None;
        }
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        target(event, PR_ACTIONS, ISSUE_ACTIONS)
    }

    async fn gather(ctx: &Ctx, t: Target) -> Result<LabelFacts> {
        let rules = Rules::compile(&ctx.config.labels)?;
        let c = ctx.github()?;
        // Labels as they are now, not as the payload saw them: the same
        // event delivered twice writes once.
        let now = c
            .issue(t.number)
            .await
            .with_context(|| format!("reading #{}", t.number))?;
        let files = if t.is_pull && rules.reads_files() {
            c.pull_files(t.number)
                .await
                .with_context(|| format!("reading the files of #{}", t.number))?
        } else {
            Vec::new()
        };
        let subject = Subject {
            number: t.number,
            is_pull: t.is_pull,
            title: now.title,
            body: now.body.unwrap_or_default(),
            author: t.author,
            draft: t.draft,
            labels: now.labels.into_iter().map(|l| l.name).collect(),
            files,
        };
        let repo_labels = if rules.decide(&subject).add.is_empty() {
            None
        } else {
            Some(c.repo_labels().await.context("reading the labels")?)
        };
        Ok(LabelFacts {
            subject,
            repo_labels,
        })
    }

    fn decide(facts: &LabelFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let n = facts.subject.number;
        let changes = match Self::changes(facts, config) {
            Ok(c) => c,
            Err(e) => {
                plan.note(format!("label rules: {e}"));
                return plan;
            }
        };
        if !changes.unknown.is_empty() {
            let names: Vec<String> = changes.unknown.iter().map(|l| code(l)).collect();
            plan.note(format!(
                "not added, the repository has no such label: {}",
                names.join(", ")
            ));
        }
        if !changes.add.is_empty() {
            plan.push(
                Write::AddLabels {
                    number: n,
                    labels: changes.add.clone(),
                },
                "the label rules match",
            );
        }
        for label in &changes.remove {
            plan.push(
                Write::RemoveLabel {
                    number: n,
                    label: label.clone(),
                },
                "the label's rule is for the other draft state",
            );
        }
        let mut removed = Vec::new();
        for (label, _) in &changes.misplaced {
            removed.push(plan.push(
                Write::RemoveLabel {
                    number: n,
                    label: label.clone(),
                },
                "the label is reserved for the other kind",
            ));
        }
        if let Some((_, prefix)) = changes.misplaced.first() {
            let names: Vec<String> = changes.misplaced.iter().map(|(l, _)| code(l)).collect();
            let (what, only) = if facts.subject.is_pull {
                ("pull requests", "issues")
            } else {
                ("issues", "pull requests")
            };
            let key = n.to_string();
            let body = format!(
                "{}\nRemoved {}: labels starting with {} are for {only} only, not {what}.\n",
                marker(MISPLACED_KIND, &key),
                names.join(", "),
                code(prefix),
            );
            plan.push_with(
                Write::Comment {
                    number: n,
                    body,
                    marker: Some((MISPLACED_KIND.into(), key)),
                },
                "say why the labels went",
                StepOptions {
                    depends_on: removed,
                    ..StepOptions::default()
                },
            );
        }
        if plan.steps.is_empty() {
            plan.note(format!("#{n}: labels already as the rules say"));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(event: &str, file: &str) -> Event {
        let path = format!(
            "{}/fixtures/webhooks/{event}/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        crate::event::parse(event, &path, &bytes).expect("parses")
    }

    fn config(yaml: &str) -> Config {
        Config::parse("c.yml", yaml).expect("config")
    }

    fn delivery(event: Event) -> Delivery {
        Delivery::Event {
            event,
            command: None,
        }
    }

    const RULES: &str = "labels:\n  pr-only: ['ciflow/']\n  rules:\n    - label: 'module: ci'\n      files: ['.github/**']\n";

    #[test]
    fn subscribes_to_real_pull_request_and_issue_payloads_only_when_configured() {
        let opened = delivery(fixture("pull_request", "00-opened.json"));
        assert!(AutoLabel::subscribe(&opened, &Config::default()).is_none());
        let t = AutoLabel::subscribe(&opened, &config(RULES)).expect("subscribes");
        assert!(t.is_pull);
        let labeled = delivery(fixture("issues", "09-labeled.json"));
        let t = AutoLabel::subscribe(&labeled, &config(RULES)).expect("subscribes");
        assert!(!t.is_pull);
        let closed = delivery(fixture("pull_request", "03-closed.json"));
        assert!(AutoLabel::subscribe(&closed, &config(RULES)).is_none());
    }

    fn facts(is_pull: bool, labels: &[&str], files: &[&str], repo: Option<&[&str]>) -> LabelFacts {
        LabelFacts {
            subject: Subject {
                number: 3,
                is_pull,
                title: "t".into(),
                labels: labels.iter().map(|s| s.to_string()).collect(),
                files: files.iter().map(|s| s.to_string()).collect(),
                ..Subject::default()
            },
            repo_labels: repo.map(|r| r.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn one_call_adds_only_labels_the_repository_has() {
        let c = config(
            "labels:\n  rules:\n    - label: 'module: ci'\n      files: ['.github/**']\n    - label: nope\n      files: ['**']\n",
        );
        let plan = AutoLabel::decide(
            &facts(true, &[], &[".github/ci.yml"], Some(&["Module: CI"])),
            &c,
        );
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        assert_eq!(
            plan.steps[0].write,
            Write::AddLabels {
                number: 3,
                labels: vec!["Module: CI".into()]
            }
        );
        assert!(plan.notes.iter().any(|n| n.contains("`nope`")), "{plan:?}");
    }

    #[test]
    fn a_pr_only_label_on_an_issue_is_removed_with_one_escaped_line() {
        let c = config(RULES);
        let plan = AutoLabel::decide(&facts(false, &["ciflow/@everyone"], &[], None), &c);
        assert_eq!(plan.steps.len(), 2, "{plan:?}");
        let Write::Comment { body, marker, .. } = &plan.steps[1].write else {
            panic!("{plan:?}");
        };
        assert_eq!(plan.steps[1].depends_on, [plan.steps[0].id.clone()]);
        assert_eq!(marker.as_ref().map(|m| m.0.as_str()), Some(MISPLACED_KIND));
        assert_eq!(body.lines().count(), 2, "{body}");
        assert!(body.contains("`ciflow/@everyone`"), "{body}");
        assert!(body.contains("are for pull requests only"), "{body}");
        // On a pull request the same label stays.
        let plan = AutoLabel::decide(&facts(true, &["ciflow/trunk"], &[], None), &c);
        assert!(plan.steps.is_empty(), "{plan:?}");
    }
}
