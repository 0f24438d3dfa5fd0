//! Required labels (`labels.required`): a pull request without a label
//! matching one of the patterns gets one sticky comment saying how to add
//! one, deleted once a matching label is on; and, with
//! `labels.required-check`, a check run `ci-medic / labels` that branch
//! protection can require.
//!
//! Needs `pull_request_target` (or `pull_request` from the same
//! repository), with `pull-requests: write` and `checks: write`.

use anyhow::{Context as _, Result};

use super::auto_label::{Target, target};
use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::labels::required_patterns;
use crate::automations::required::{self, CHECK_NAME, MARKER_KIND};
use crate::bot::parse::DEFAULT_HANDLE;
use crate::config::Config;
use crate::event::{Conclusion, Status};
use crate::github::checks::CheckRunSpec;
use crate::github::marker::has_marker;
use crate::plan::{Plan, Write};

/// Pull-request actions after which the labels may have to be checked.
const PR_ACTIONS: &[&str] = &[
    "opened",
    "reopened",
    "synchronize",
    "labeled",
    "unlabeled",
    "ready_for_review",
];

pub struct RequiredLabels;

/// The pull request as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredFacts {
    pub target: Target,
    pub labels: Vec<String>,
    /// The sticky comment ci-medic left, when the labels are present (it
    /// is then deleted; when missing, the comment write finds it itself).
    pub comment: Option<u64>,
    /// The conclusion of the latest `ci-medic / labels` check run on the
    /// head commit, when checks are on.
    pub check: Option<Option<Conclusion>>,
    /// The id of that check run (the write updates it without looking again).
    pub check_id: Option<u64>,
}

impl Handler for RequiredLabels {
    const NAME: &'static str = "required-labels";
    type Input = Target;
    type Facts = RequiredFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Target> {
        if !config.labels.required_enabled() {
            return None;
        }
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        target(event, PR_ACTIONS, &[])
    }

    async fn gather(ctx: &Ctx, t: Target) -> Result<RequiredFacts> {
        let patterns = required_patterns(&ctx.config.labels.required)?;
        let c = ctx.github()?;
        let now = c
            .issue(t.number)
            .await
            .with_context(|| format!("reading #{}", t.number))?;
        let labels: Vec<String> = now.labels.into_iter().map(|l| l.name).collect();
        let comment = if required::satisfied(&patterns, &labels) {
            let key = t.number.to_string();
            c.comments(t.number)
                .await
                .with_context(|| format!("reading the comments of #{}", t.number))?
                .into_iter()
                .find(|cm| {
                    c.identity().is_ours(&cm.user.login)
                        && cm
                            .body
                            .as_deref()
                            .is_some_and(|b| has_marker(b, MARKER_KIND, &key))
                })
                .map(|cm| cm.id)
        } else {
            None
        };
        let (check, check_id) = if ctx.config.labels.required_check && !t.head_sha.is_empty() {
            let ours = c
                .own_check_run(&t.head_sha, CHECK_NAME)
                .await
                .context("reading the check runs")?;
            let id = ours.as_ref().map(|r| r.id);
            (Some(ours.and_then(|r| r.conclusion)), id)
        } else {
            (None, None)
        };
        Ok(RequiredFacts {
            target: t,
            labels,
            comment,
            check,
            check_id,
        })
    }

    fn decide(facts: &RequiredFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let n = facts.target.number;
        let patterns = match required_patterns(&config.labels.required) {
            Ok(p) => p,
            Err(e) => {
                plan.note(format!("required labels: {e}"));
                return plan;
            }
        };
        let ok = required::satisfied(&patterns, &facts.labels);
        if ok {
            if let Some(id) = facts.comment {
                plan.push(
                    Write::DeleteComment {
                        number: n,
                        comment_id: id,
                    },
                    "a required label is on now",
                );
            }
        } else {
            plan.push(
                Write::Comment {
                    number: n,
                    body: required::comment_body(n, &config.labels.required, DEFAULT_HANDLE),
                    marker: Some((MARKER_KIND.into(), n.to_string())),
                },
                "no label matches labels.required",
            );
        }
        let conclusion = if ok {
            Conclusion::Success
        } else {
            Conclusion::Failure
        };
        if let Some(latest) = &facts.check
            && latest.as_ref() != Some(&conclusion)
        {
            let (title, summary) = if ok {
                (
                    "A required label is present".to_string(),
                    "The pull request carries a label matching `labels.required`.".to_string(),
                )
            } else {
                let list: Vec<String> = config
                    .labels
                    .required
                    .iter()
                    .map(|p| crate::report::markdown::code(p))
                    .collect();
                (
                    "A required label is missing".to_string(),
                    format!("Add a label matching one of: {}.", list.join(", ")),
                )
            };
            plan.push(
                Write::PutCheckRun {
                    existing: facts.check_id,
                    check: CheckRunSpec {
                        name: CHECK_NAME.into(),
                        head_sha: facts.target.head_sha.clone(),
                        status: Status::Completed,
                        conclusion: Some(conclusion.clone()),
                        title,
                        summary,
                        details_url: None,
                        external_id: None,
                    },
                },
                "report the required labels to branch protection",
            );
        }
        if plan.steps.is_empty() {
            plan.note(format!(
                "#{n}: required labels {conclusion}, already reported"
            ));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            "c.yml",
            "labels:\n  required: ['release notes: *', 'topic: not user facing']\n",
        )
        .expect("config")
    }

    fn facts(labels: &[&str], comment: Option<u64>, check: Option<Option<&str>>) -> RequiredFacts {
        RequiredFacts {
            target: Target {
                number: 5,
                is_pull: true,
                draft: false,
                author: "a".into(),
                head_sha: "abc".into(),
            },
            labels: labels.iter().map(|s| s.to_string()).collect(),
            comment,
            check: check.map(|c| c.map(Conclusion::parse)),
            check_id: check.flatten().map(|_| 41),
        }
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.steps.iter().map(|s| s.write.kind()).collect()
    }

    #[test]
    fn subscribes_to_real_payloads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhooks/pull_request/25-unlabeled.json"
        );
        let bytes = std::fs::read(path).expect("fixture");
        let event = crate::event::parse("pull_request", path, &bytes).expect("event");
        let d = Delivery::Event {
            event,
            command: None,
        };
        assert!(RequiredLabels::subscribe(&d, &Config::default()).is_none());
        assert!(RequiredLabels::subscribe(&d, &config()).is_some());
    }

    #[test]
    fn missing_comments_and_fails_the_check() {
        let plan = RequiredLabels::decide(&facts(&["bug"], None, Some(None)), &config());
        assert_eq!(kinds(&plan), ["comment", "put-check-run"]);
        let Write::PutCheckRun { check, existing } = &plan.steps[1].write else {
            panic!("{plan:?}");
        };
        assert_eq!(check.conclusion, Some(Conclusion::Failure));
        // None was found: the write creates one without looking again.
        assert_eq!(*existing, None);
    }

    #[test]
    fn present_deletes_our_comment_and_passes_the_check() {
        let plan = RequiredLabels::decide(
            &facts(&["release notes: jit"], Some(77), Some(Some("failure"))),
            &config(),
        );
        assert_eq!(kinds(&plan), ["delete-comment", "put-check-run"]);
        // The one gather found is updated by its id.
        assert!(matches!(
            &plan.steps[1].write,
            Write::PutCheckRun {
                existing: Some(41),
                ..
            }
        ));
        // Already reported: nothing.
        let plan = RequiredLabels::decide(
            &facts(&["release notes: jit"], None, Some(Some("success"))),
            &config(),
        );
        assert!(plan.steps.is_empty(), "{plan:?}");
        // Checks off.
        let plan = RequiredLabels::decide(&facts(&["x"], None, None), &config());
        assert_eq!(kinds(&plan), ["comment"]);
    }
}
