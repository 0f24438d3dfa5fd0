//! ciflow triggers (`ciflow:`): an allowed `ciflow/*` label on a pull
//! request is pushed as tag `ciflow/<x>/<number>` at its head, moved on new
//! commits, deleted with the label or when the pull request closes. Tags are
//! set only when the author has write access (asked of GitHub, never read
//! from the payload's association); others keep the label and get one
//! comment. Needs `pull_request_target` with `contents: write`, and a token
//! other than the workflow's for the tags to start workflows.

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::ciflow::{self, Change, RefWrite};
use crate::config::Config;
use crate::event::Event;
use crate::github::marker::marker;
use crate::permissions::Action;
use crate::plan::{Plan, Write};
use crate::report::markdown::code;

/// The marker kind of the comment about labels that set no tag.
const MARKER_KIND: &str = "ciflow";

pub struct Ciflow;

/// The pull request and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiflowInput {
    pub number: u64,
    pub author: String,
    pub head_sha: String,
    pub labels: Vec<String>,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub struct CiflowFacts {
    pub input: CiflowInput,
    /// The author has write access (only asked when a tag may be set).
    pub author_may: bool,
}

impl Handler for Ciflow {
    const NAME: &'static str = "ciflow";
    type Input = CiflowInput;
    type Facts = CiflowFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<CiflowInput> {
        config.ciflow.as_ref()?;
        let Delivery::Event {
            event: Event::PullRequest(e),
            ..
        } = delivery
        else {
            return None;
        };
        let pr = &e.pull_request;
        let labels: Vec<String> = pr.labels.iter().map(|l| l.name.clone()).collect();
        let label = e.label.as_ref().map(|l| l.name.clone());
        let change = match (e.action.as_str(), label) {
            ("labeled", Some(l)) => Change::Labeled(l),
            ("unlabeled", Some(l)) => Change::Unlabeled(l),
            ("synchronize" | "reopened", _) => Change::Moved,
            ("closed", _) => Change::Closed,
            _ => return None,
        };
        let concerns = match &change {
            Change::Labeled(l) | Change::Unlabeled(l) => ciflow::is_ciflow(l),
            Change::Moved | Change::Closed => labels.iter().any(|l| ciflow::is_ciflow(l)),
        };
        concerns.then(|| CiflowInput {
            number: pr.number,
            author: pr.user.login.clone(),
            head_sha: pr.head.sha.clone(),
            labels,
            change,
        })
    }

    async fn gather(ctx: &Ctx, input: CiflowInput) -> Result<CiflowFacts> {
        let c = ctx.config.ciflow.clone().unwrap_or_default();
        let author_may = if ciflow::needs_access(&c, &input.change, &input.labels) {
            let p = ctx.permissions()?;
            // The action's own pull requests are no writer's: `ours_may` is
            // false for restricted labels, so they are asked like anyone's.
            p.may(&input.author, Action::AddRestrictedLabel)
                .await
                .with_context(|| format!("reading the access of {}", input.author))?
        } else {
            false
        };
        Ok(CiflowFacts { input, author_may })
    }

    fn decide(facts: &CiflowFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let Some(c) = &config.ciflow else {
            return plan;
        };
        let f = &facts.input;
        let d = ciflow::decide(c, f.number, &f.change, &f.labels, facts.author_may);
        for w in &d.refs {
            match w {
                RefWrite::Set(tag) => plan.push(
                    Write::SetRef {
                        git_ref: format!("refs/{tag}"),
                        sha: f.head_sha.clone(),
                    },
                    format!("#{}: its ciflow label follows the head", f.number),
                ),
                RefWrite::Delete(tag) => plan.push(
                    Write::DeleteRef {
                        git_ref: format!("refs/{tag}"),
                    },
                    format!("#{}: the label went or the pull request closed", f.number),
                ),
            };
        }
        let mut lines = Vec::new();
        if !d.waiting.is_empty() {
            let names: Vec<String> = d.waiting.iter().map(|l| code(l)).collect();
            lines.push(format!(
                "{}: no tag yet. The author of this pull request lacks write access, so ciflow tags wait until someone with write access runs the CI.",
                names.join(", ")
            ));
        }
        if !d.unknown.is_empty() {
            let names: Vec<String> = d.unknown.iter().map(|l| code(l)).collect();
            let known: Vec<String> = c.labels.iter().map(|l| code(l)).collect();
            lines.push(format!(
                "{}: not a ciflow label of this repository, so no tag. Known: {}.",
                names.join(", "),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        if !lines.is_empty() {
            let key = f.number.to_string();
            plan.push(
                Write::Comment {
                    number: f.number,
                    body: format!("{}\n{}\n", marker(MARKER_KIND, &key), lines.join("\n\n")),
                    marker: Some((MARKER_KIND.into(), key)),
                },
                "say why a ciflow label set no tag",
            );
        }
        if plan.steps.is_empty() {
            plan.note(format!("#{}: no ciflow tag to change", f.number));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(file: &str, label: Option<&str>, labels: &[&str]) -> Delivery {
        let path = format!(
            "{}/fixtures/webhooks/pull_request/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        if let Some(l) = label {
            v["label"] = serde_json::json!({"name": l, "id": 1, "color": "fff"});
        }
        v["pull_request"]["labels"] = labels
            .iter()
            .map(|l| serde_json::json!({"name": l, "id": 1, "color": "fff"}))
            .collect();
        let bytes = serde_json::to_vec(&v).expect("json");
        Delivery::Event {
            event: crate::event::parse("pull_request", &path, &bytes).expect("event"),
            command: None,
        }
    }

    fn on() -> Config {
        Config::parse("c.yml", "ciflow:\n  labels: [ciflow/trunk]\n").expect("config")
    }

    fn fixture_with(action: &str) -> Option<String> {
        let dir = format!(
            "{}/fixtures/webhooks/pull_request",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("fixtures")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(&format!("-{action}.json")))
            .collect();
        names.sort();
        names.into_iter().next()
    }

    #[test]
    fn real_payloads_concern_it_only_with_ciflow_labels_and_the_section_on() {
        let labeled = fixture_with("labeled").expect("a labeled fixture");
        let d = delivery(&labeled, Some("ciflow/trunk"), &["ciflow/trunk"]);
        assert!(Ciflow::subscribe(&d, &Config::default()).is_none());
        let input = Ciflow::subscribe(&d, &on()).expect("concerns");
        assert_eq!(input.change, Change::Labeled("ciflow/trunk".into()));
        let d = delivery(&labeled, Some("bug"), &["bug"]);
        assert!(Ciflow::subscribe(&d, &on()).is_none());
        let sync = fixture_with("synchronize").expect("a synchronize fixture");
        assert!(Ciflow::subscribe(&delivery(&sync, None, &[]), &on()).is_none());
        let input =
            Ciflow::subscribe(&delivery(&sync, None, &["ciflow/trunk"]), &on()).expect("concerns");
        assert_eq!(input.change, Change::Moved);
    }

    #[test]
    fn an_unknown_label_is_named_escaped_in_one_marked_comment() {
        let facts = CiflowFacts {
            input: CiflowInput {
                number: 5,
                author: "alice".into(),
                head_sha: "abc".into(),
                labels: vec![],
                change: Change::Labeled("ciflow/`x` <b>".into()),
            },
            author_may: true,
        };
        let plan = Ciflow::decide(&facts, &on());
        assert_eq!(plan.steps.len(), 1);
        let Write::Comment { body, marker, .. } = &plan.steps[0].write else {
            panic!("not a comment: {:?}", plan.steps[0].write);
        };
        assert_eq!(marker.as_ref().map(|m| m.0.as_str()), Some(MARKER_KIND));
        // The label stays inside one code span: its backticks cannot end it.
        assert!(body.contains("`ciflow/'x' <b>`"), "{body}");
        assert!(body.contains("`ciflow/trunk`"), "{body}");
    }
}
